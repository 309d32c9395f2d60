-- The publisher's leader lock: a session advisory lock, released when its connection ends.
SELECT pg_try_advisory_lock($1)
