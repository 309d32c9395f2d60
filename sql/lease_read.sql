-- The lease as it stands: who holds or last held it (NULLs before the first term), and
-- whether it is held now.
SELECT term, holder, host, pid, acquired_at, renewed_at, expires_at, expires_at > clock_timestamp()
FROM pgfanout.leader
