-- A table's plan is in place: $3 the plan, $4 the new state, $5 chunks, $6 estimated rows.
UPDATE pgfanout.copy_tables
SET plan = $3, state = $4, chunks = $5, rows_estimate = $6, planned_at = now(), done_at = NULL, reason = NULL
WHERE schema_name = $1 AND table_name = $2
