-- pgfanout capture, 1 of 3: the change log and capture's state, i.e. the data. The publisher
-- reads only what this file creates (pgfanout.changes, pgfanout.backlog, the idle lock key).
-- 000002_generator adds the code that writes the log, 000003_api the functions you call.
-- Plain SQL, applicable with psql, golang-migrate, goose, tern, Flyway or `publisher migrate`
-- (docs/capture.md shows each); apply the files in order, each is one transaction. Requires
-- PostgreSQL >= 13. Run all three as the role that will own the capture: that role later calls
-- pgfanout.track(), so it must be able to create triggers on the tracked tables (owner,
-- TRIGGER privilege or superuser).
BEGIN;

CREATE SCHEMA pgfanout;
REVOKE ALL ON SCHEMA pgfanout FROM PUBLIC;

-- Versions come from this sequence. A row changed by a later statement waits for the
-- earlier one's row lock, so a row's versions grow in commit order. CACHE 1 keeps that true
-- across sessions (a per-session cache would hand out older values later). Each nextval
-- reserves a block of 8192 versions: a statement's fast path takes one for its up to 5000
-- changes, which are base, base+1, … by their position in the entry (one nextval per change
-- was a measured 10-15% of a bulk INSERT's capture cost); the rare slow path still takes one
-- value (one block) per change.
CREATE SEQUENCE pgfanout.version_seq AS bigint INCREMENT BY 8192 CACHE 1;

-- One entry per (statement, table, operation, chunk). Writing one log row per statement
-- instead of one per changed row is what keeps multi-row statements cheap on the source.
-- `items` is a JSON array whose elements take one of two forms (docs/capture.md):
--   {…}                    the fast path's: the new row for I and U, the key for D; the
--                          element at index i has version `version` + i, and the key of a
--                          row is its `key_columns` members (none: a keyless table's row has
--                          no key). Leaving versions and keys out of each element is what
--                          makes a 1000-row INSERT cheap to capture.
--   [version, key, row]    the slow path's and TRUNCATE's, versions not consecutive.
CREATE TABLE pgfanout.changes (
    version      bigint      PRIMARY KEY,  -- first (smallest) change version in the entry
    last_version bigint      NOT NULL,
    n            integer     NOT NULL,
    txid         xid8        NOT NULL,
    schema_name  text        NOT NULL,
    table_name   text        NOT NULL,
    op           "char"      NOT NULL,  -- I U D T; no CHECK: only capture functions write it,
                                           -- and evaluating one costs every captured statement
    captured_at  timestamptz NOT NULL,
    key_columns  text[]      NOT NULL,  -- the primary key when captured, in key order
    bytes        integer     NOT NULL,  -- octet_length(items::text), so that the publisher can
                                           -- budget a fetch without reading each entry twice
    items        json        NOT NULL
);
-- A queue table: rows are deleted as soon as RabbitMQ confirmed them.
ALTER TABLE pgfanout.changes SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000);

DO $$
BEGIN
    -- lz4 is much cheaper than pglz for the large JSON arrays of bulk statements (PG >= 14 built with lz4).
    EXECUTE 'ALTER TABLE pgfanout.changes ALTER COLUMN items SET COMPRESSION lz4';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pgfanout: lz4 not available (%), keeping default TOAST compression', SQLERRM;
END $$;

CREATE TABLE pgfanout.tracked (
    relid       oid         PRIMARY KEY,
    schema_name text        NOT NULL,  -- names when tracked; pgfanout.tracked() shows current ones
    table_name  text        NOT NULL,
    key_columns text[]      NOT NULL,  -- empty: no primary key, the whole row is the identity
    tracked_at  timestamptz NOT NULL DEFAULT now()
);

-- notify: 'wakeup' (pg_notify with an empty payload, only while a publisher waits for work),
-- 'row' (one pg_notify per change carrying the change JSON, or its version when too large),
-- 'off' (never notify; the publisher polls). Capture functions are generated for the mode;
-- set_notify() regenerates them.
CREATE TABLE pgfanout.settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    notify    text    NOT NULL DEFAULT 'wakeup' CHECK (notify IN ('wakeup', 'row', 'off'))
);
INSERT INTO pgfanout.settings DEFAULT VALUES;

CREATE VIEW pgfanout.backlog AS
SELECT count(*)                    AS entries,
       coalesce(sum(n), 0)::bigint AS changes,
       min(captured_at)            AS oldest_captured_at
FROM pgfanout.changes;

-- The publisher's idle lock, and the one place its key is written: a publisher waiting for
-- work holds the session advisory lock (1885824609, 1) ("pgfa", 1) exclusively, and only then;
-- 'wakeup' capture notifies when it cannot take that lock shared. A publisher that dies
-- releases it with its connection, so source commits stop notifying. The generator
-- (notify_sql) writes the key into the capture functions as constants, so capture never calls
-- this; the publisher's statements (sql/take_idle_lock.sql, sql/release_idle_lock.sql) do, so
-- its role needs EXECUTE on it (docs/capture.md, Security).
CREATE FUNCTION pgfanout.idle_lock_key(OUT key1 integer, OUT key2 integer)
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT 1885824609, 1 $$;

-- Only the schema owner and the roles it grants access may touch the log (docs/capture.md,
-- Security). Each file revokes what it creates, so that no step of a migration leaves a
-- pgfanout object open to PUBLIC.
REVOKE ALL ON ALL TABLES IN SCHEMA pgfanout FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA pgfanout FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgfanout FROM PUBLIC;

COMMIT;
