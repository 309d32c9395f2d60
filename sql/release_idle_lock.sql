-- Releases the idle lock when the publisher has work again (or stops).
SELECT pg_advisory_unlock(1885824609, 1)
