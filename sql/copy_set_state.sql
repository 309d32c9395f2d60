-- Sets a table's copy state: $3 the state, $4 the reason (NULL when none).
UPDATE pgfanout.copy_tables SET state = $3, reason = $4 WHERE schema_name = $1 AND table_name = $2
