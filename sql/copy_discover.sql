-- Records a table the source tracks, to be copied into this replica: a table never seen, or
-- tracked anew since (another epoch), is to be planned ($4, the planning state).
-- $1 schema, $2 table, $3 the source's tracking epoch.
INSERT INTO pgfanout.copy_tables AS t (schema_name, table_name, epoch, state)
VALUES ($1, $2, $3, $4)
ON CONFLICT (schema_name, table_name) DO UPDATE
SET epoch = excluded.epoch, state = excluded.state, reason = NULL
WHERE t.epoch <> excluded.epoch
