WITH c AS (
  INSERT INTO pgfanout.copy_chunks (schema_name, table_name, plan, ordinal, lo, hi, state)
  SELECT $1, $2, $3, coalesce(max(o.ordinal) + 1, 0), $4::jsonb, $5::jsonb, $6
  FROM pgfanout.copy_chunks o WHERE o.schema_name = $1 AND o.table_name = $2 AND o.plan = $3
  RETURNING id
), n AS (
  UPDATE pgfanout.copy_tables SET chunks = chunks + 1 WHERE schema_name = $1 AND table_name = $2 AND plan = $3
)
SELECT c.id FROM c
