-- The first statement of a chunk's REPEATABLE READ READ ONLY transaction on the source: the
-- snapshot every later statement of it reads in, and the version sequence as it stands, which
-- every change that snapshot sees took its version below (docs/bootstrap.md).
SELECT pg_current_snapshot()::text, (SELECT last_value FROM pgfanout.version_seq)
