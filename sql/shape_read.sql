-- The shape the replica last recorded of source table $1.$2 (docs/schema.md, "Following"), the
-- names older row images may use, and the source's shape hash then. Read under the schema lock.
SELECT shape, names, hash FROM pgfanout.shapes WHERE schema_name = $1 AND table_name = $2
