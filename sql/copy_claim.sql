-- Claims the next chunk to copy: a pending chunk ($1) of the current plan of a table being
-- copied ($2). The row lock is the claim: it lasts as long as the copier's transaction, so a
-- copier that dies leaves its chunk to the next one, and two never copy one chunk.
SELECT c.id, c.schema_name, c.table_name, c.plan, c.lo::text, c.hi::text
FROM pgfanout.copy_chunks c
JOIN pgfanout.copy_tables t ON t.schema_name = c.schema_name AND t.table_name = c.table_name AND t.plan = c.plan
WHERE c.state = $1 AND t.state = $2
ORDER BY c.id
LIMIT 1
FOR UPDATE OF c SKIP LOCKED
