-- The tables the source tracks, by their current names, with the key columns the capture
-- uses and when they were tracked (in microseconds since the epoch): a table tracked anew
-- (untracked and tracked again, or reinstalled) is copied again.
SELECT n.nspname::text, c.relname::text, t.key_columns,
       (extract(epoch FROM t.tracked_at) * 1000000)::bigint::text
FROM pgfanout.tracked t
JOIN pg_catalog.pg_class c ON c.oid = t.relid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
ORDER BY 1, 2
