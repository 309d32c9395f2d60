-- Inserts the chunks of plan $3 of table $1.$2 in state $4: lower bounds $5 and upper bounds
-- $6 (JSON objects of the key columns, NULL where unbounded), in key order.
INSERT INTO pgfanout.copy_chunks (schema_name, table_name, plan, ordinal, lo, hi, state)
SELECT $1, $2, $3, (b.o - 1)::int, b.lo, b.hi, $4
FROM unnest($5::jsonb[], $6::jsonb[]) WITH ORDINALITY AS b(lo, hi, o)
