-- Whether the stream of table $1.$2 is stopped: its copy is in state $3 (failed), read under a
-- share lock on the copy row that the apply transaction holds until it ends. A resync request
-- (which sets the state to planning) waits for it, so changes an apply drops because the table
-- is stopped were committed before the new copy's snapshots are taken (docs/schema.md).
SELECT true FROM pgfanout.copy_tables WHERE schema_name = $1 AND table_name = $2 AND state = $3 FOR SHARE
