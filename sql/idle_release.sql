-- Lowers the idle flag and releases the idle lock when the publisher has work again (or
-- stops): from then on no commit notifies, whoever takes the lock.
WITH lowered AS (UPDATE pgfanout.leader SET idle_pid = NULL WHERE idle_pid = pg_backend_pid())
SELECT pg_advisory_unlock(key1, key2) FROM pgfanout.idle_lock_key()
