-- A table's estimated rows (the planner's) and size on disk, indexes and TOAST included:
-- chunks are sized from them. $1 schema, $2 table.
SELECT greatest(c.reltuples, 0)::bigint, pg_catalog.pg_total_relation_size(c.oid)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2
