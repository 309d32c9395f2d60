-- Undoes 000003_api: untracks every table (dropping its triggers and generated capture
-- functions, so that 000002_generator.down.sql finds nothing that still uses the generator),
-- then drops the API functions. Tracking is lost; the change log and its unpublished changes
-- stay until 000001_changelog.down.sql.
BEGIN;
SELECT pgfanout.untrack_table(relid::regclass) FROM pgfanout.tracked;
DROP FUNCTION pgfanout.key_columns(regclass), pgfanout.track_table(regclass), pgfanout.track(text),
    pgfanout.untrack_table(regclass), pgfanout.untrack(text), pgfanout.tracked(),
    pgfanout.set_notify(text);
COMMIT;
