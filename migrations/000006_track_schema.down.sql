-- Undoes 000006_track_schema: forgets the tracked schemas. The tables their passes tracked stay
-- tracked (as if tracked with track(); only 000003_api.down.sql untracks tables), and tables
-- created in those schemas from now on are not tracked.
BEGIN;
DROP FUNCTION pgfanout.untracked_tables(), pgfanout.tracked_schemas(), pgfanout.track_new_tables(),
    pgfanout.untrack_schema(text), pgfanout.track_schema(text), pgfanout.schema_pass(oid),
    pgfanout.cannot_track(oid);
DROP TABLE pgfanout.schema_tables, pgfanout.tracked_schemas;
COMMIT;
