-- Grants on pgfanout's own objects, which exist only once `publisher migrate` ran: the compose
-- job `grants` runs this file as the capture owner (pgfanout_owner) after every migrate.
-- Idempotent. The roles themselves come from initdb/20-roles.sql.
\set ON_ERROR_STOP on

-- The publisher: exactly docs/capture.md, Security (the block the tests grant and check).
GRANT USAGE ON SCHEMA pgfanout TO pgfanout_publisher;
GRANT SELECT, DELETE ON pgfanout.changes TO pgfanout_publisher;
GRANT SELECT ON pgfanout.backlog TO pgfanout_publisher;
GRANT SELECT, UPDATE ON pgfanout.leader TO pgfanout_publisher;
GRANT EXECUTE ON FUNCTION pgfanout.idle_lock_key() TO pgfanout_publisher;
GRANT EXECUTE ON FUNCTION pgfanout.advance_low_water() TO pgfanout_publisher;
GRANT EXECUTE ON FUNCTION pgfanout.track_new_tables() TO pgfanout_publisher;

-- The copier, the replicators' --source-url: docs/bootstrap.md, "GRANTs on the source".
GRANT USAGE ON SCHEMA pgfanout TO pgfanout_copier;
GRANT SELECT ON pgfanout.tracked, pgfanout.version_seq TO pgfanout_copier;
-- Read-only figures for `replicator status` (the active publisher, the change log's depth
-- and age), which the replicator containers run with this role (README, Operations).
GRANT SELECT ON pgfanout.leader, pgfanout.backlog TO pgfanout_copier;
