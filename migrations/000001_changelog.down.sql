-- Undoes 000001_changelog, the last step of removing pgfanout capture: drops the change log,
-- with the changes not yet published, and the schema. The later files' down migrations must
-- have run first; the schema is dropped without CASCADE, so anything they (or you) left in it
-- makes this fail instead of vanishing with it.
BEGIN;
DROP VIEW pgfanout.backlog;
DROP TABLE pgfanout.changes, pgfanout.tracked, pgfanout.settings;
DROP SEQUENCE pgfanout.version_seq;
DROP FUNCTION pgfanout.idle_lock_key();
DROP SCHEMA pgfanout;
COMMIT;
