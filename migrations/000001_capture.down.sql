-- Removes pgfanout capture: untracks every table (dropping its triggers), then the schema
-- with the change log. Changes not yet published are lost.
BEGIN;
SELECT pgfanout.untrack_table(relid::regclass) FROM pgfanout.tracked;
DROP SCHEMA pgfanout CASCADE;
COMMIT;
