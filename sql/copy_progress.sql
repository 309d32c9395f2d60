-- Every table's copy as it stands: state, reason, chunks planned and copied ($1 the done
-- state), rows copied and estimated.
SELECT t.schema_name, t.table_name, t.epoch, t.state, t.reason, t.chunks,
       count(c.id) FILTER (WHERE c.state = $1)::int, coalesce(sum(c.rows), 0)::bigint, t.rows_estimate
FROM pgfanout.copy_tables t
LEFT JOIN pgfanout.copy_chunks c ON c.schema_name = t.schema_name AND c.table_name = t.table_name AND c.plan = t.plan
GROUP BY t.schema_name, t.table_name
ORDER BY 1, 2
