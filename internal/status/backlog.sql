-- The change log as `status` shows it: entries, changes, and the oldest entry's capture time
-- and age in seconds on the server's clock (0 when the log is empty).
SELECT entries, changes, oldest_captured_at,
       coalesce(extract(epoch FROM clock_timestamp() - oldest_captured_at), 0)::float8
FROM pgfanout.backlog
