-- Locks a table's copy row while one replicator plans it: $1 schema, $2 table.
SELECT plan, state FROM pgfanout.copy_tables WHERE schema_name = $1 AND table_name = $2 FOR UPDATE
