-- Requests a new copy of a table (a resync): whatever its copy state, it is planned again ($4,
-- the planning state) for the source's tracking epoch $3. $1 schema, $2 table.
INSERT INTO pgfanout.copy_tables AS t (schema_name, table_name, epoch, state)
VALUES ($1, $2, $3, $4)
ON CONFLICT (schema_name, table_name) DO UPDATE
SET epoch = excluded.epoch, state = excluded.state, reason = NULL
