-- Takes the publisher's idle lock after sql/idle_raise.sql raised the flag, and lowers the
-- flag again when the lock was not free (a writer's transaction that captured without
-- notifying is open, or another session holds the key): a flag left up beside a lock held by
-- someone else would let that session make commits notify. The key is defined once, by the
-- capture migration.
WITH l AS (SELECT pg_try_advisory_lock(key1, key2) AS ok FROM pgfanout.idle_lock_key()),
lowered AS (UPDATE pgfanout.leader SET idle_pid = NULL
            WHERE idle_pid = pg_backend_pid() AND NOT (SELECT ok FROM l))
SELECT ok FROM l
