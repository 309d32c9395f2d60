-- The publisher's idle lock, taken while it waits for work: 'wakeup' capture notifies only
-- when it cannot take this lock shared. Fails (false) while a transaction that captured
-- changes has not ended. The key is defined once, by the capture migration.
SELECT pg_try_advisory_lock(key1, key2) FROM pgfanout.idle_lock_key()
