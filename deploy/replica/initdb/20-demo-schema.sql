-- UNTIL THE REPLICATOR CREATES MISSING TABLES ITSELF (docs/schema.md, not wired yet): the
-- demo tables, created empty on the replica's first start as the replicator's role, so that
-- it owns them exactly as it will own the tables it creates. The replicator then copies
-- their rows from the source (--source-url) and applies the stream. Drop this file's mount
-- from docker-compose.yml once the replicator creates tables: the replica then starts empty.
\set ON_ERROR_STOP on
SET ROLE pgfanout_replicator;
\i /deploy/demo/schema.sql
RESET ROLE;
