-- Tables being copied ($2) whose current plan has no pending chunk ($3) left are done ($1).
UPDATE pgfanout.copy_tables t SET state = $1, done_at = now()
WHERE t.state = $2
  AND NOT EXISTS (SELECT FROM pgfanout.copy_chunks c
                  WHERE c.schema_name = t.schema_name AND c.table_name = t.table_name
                    AND c.plan = t.plan AND c.state = $3)
RETURNING t.schema_name, t.table_name
