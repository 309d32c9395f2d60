-- Takes the publisher's leader lease when it is free: never taken, released, expired, or its
-- holder's lease session is gone (no server process of that pid: a holder that crashed
-- closed its socket, and its backend exited; a partitioned holder's backend lives on, and
-- its lease must expire instead). Also when held by this same process ($1 is unique per
-- process: one whose term ended, say when its lease connection was cut before it could
-- release, takes its own lease back at once). Each taking starts a new term.
-- $1 holder id, $2 host, $3 pid, $4 lease length in seconds.
UPDATE pgfanout.leader AS l
SET term = term + 1, holder = $1, host = $2, pid = $3, backend_pid = pg_backend_pid(),
    acquired_at = clock_timestamp(), renewed_at = clock_timestamp(),
    expires_at = clock_timestamp() + make_interval(secs => $4::float8)
WHERE l.expires_at < clock_timestamp() OR l.holder = $1
   OR NOT EXISTS (SELECT FROM pg_catalog.pg_stat_activity a WHERE a.pid = l.backend_pid)
RETURNING term
