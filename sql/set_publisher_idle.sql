-- Raises ($1 true) the idle flag that makes 'wakeup' capture notify, for a lease of $2, or
-- lowers it ($1 false).
UPDATE pgfanout.settings SET publisher_idle_until = CASE WHEN $1::boolean THEN now() + $2::interval END
