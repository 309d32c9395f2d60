-- The leader lease as `status` shows it: who holds or last held it (NULLs before the first
-- term), whether it is unexpired, and whether the holder's lease session still exists (a
-- crashed holder's backend exits at once, and a standby then takes over without waiting for
-- the lease to expire).
SELECT l.term, l.holder, l.host, l.pid, l.acquired_at, l.renewed_at, l.expires_at,
       l.expires_at > clock_timestamp(),
       EXISTS (SELECT FROM pg_catalog.pg_stat_activity a WHERE a.pid = l.backend_pid)
FROM pgfanout.leader l
