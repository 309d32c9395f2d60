-- The publisher's idle lock, taken while it waits for work: 'wakeup' capture notifies only
-- when it cannot take this lock shared. Fails (false) while a transaction that captured
-- changes has not ended; the key is the one the capture migration generates.
SELECT pg_try_advisory_lock(1885824609, 1)
