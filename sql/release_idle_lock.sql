-- Releases the idle lock when the publisher has work again (or stops).
SELECT pg_advisory_unlock(key1, key2) FROM pgfanout.idle_lock_key()
