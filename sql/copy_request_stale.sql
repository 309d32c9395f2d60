-- Requests a new copy of a table because a change arrived below the replica's bookkeeping
-- horizon (docs/bookkeeping.md): planned again ($4, the planning state) unless a plan is
-- already pending, whose chunks will all be read later than the stale change committed.
-- $1 schema, $2 table, $3 the source's tracking epoch.
INSERT INTO pgfanout.copy_tables AS t (schema_name, table_name, epoch, state)
VALUES ($1, $2, $3, $4)
ON CONFLICT (schema_name, table_name) DO UPDATE
SET epoch = excluded.epoch, state = excluded.state, reason = NULL
WHERE t.state <> excluded.state
