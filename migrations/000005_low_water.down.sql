BEGIN;
DROP FUNCTION IF EXISTS pgfanout.advance_low_water();
DROP TABLE IF EXISTS pgfanout.low_water;
COMMIT;
