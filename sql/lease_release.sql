-- Gives up the lease of term $1 at once, so that a standby takes over without waiting for it
-- to expire.
UPDATE pgfanout.leader SET expires_at = clock_timestamp() WHERE term = $1
