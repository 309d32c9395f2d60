-- The source shape hashes the replica recorded, per table.
SELECT schema_name, table_name, hash FROM pgfanout.shapes
