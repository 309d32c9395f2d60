-- Advances the source's low-water mark (migrations/000005_low_water) and returns it: every
-- change below it has been published, confirmed and deleted from the log. Sent on its own, in
-- autocommit: the function refuses a transaction that already has an id.
SELECT pgfanout.advance_low_water()
