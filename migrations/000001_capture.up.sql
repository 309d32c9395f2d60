-- pgfanout capture: a durable change log filled by statement-level triggers.
-- Plain SQL, applicable with psql, golang-migrate, goose, tern, Flyway or `publisher migrate`.
-- Requires PostgreSQL >= 13. Run as the role that will own the capture (it must be able to
-- create triggers on the tables you track later).
BEGIN;

CREATE SCHEMA pgfanout;
REVOKE ALL ON SCHEMA pgfanout FROM PUBLIC;

-- Every captured change takes one value: its version. A row changed by a later statement
-- waits for the earlier one's row lock, so a row's versions grow in commit order.
CREATE SEQUENCE pgfanout.version_seq AS bigint CACHE 1;

-- One entry per (statement, table, operation, chunk): `items` is a JSON array of
-- [version, key, row] triples. Writing one log row per statement instead of one per
-- changed row is what keeps multi-row statements cheap on the source.
CREATE TABLE pgfanout.changes (
    version      bigint      PRIMARY KEY,  -- first (smallest) change version in the entry
    last_version bigint      NOT NULL,
    n            integer     NOT NULL,
    txid         xid8        NOT NULL,
    schema_name  text        NOT NULL,
    table_name   text        NOT NULL,
    op           "char"      NOT NULL CHECK (op IN ('I', 'U', 'D', 'T')),
    captured_at  timestamptz NOT NULL,
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
    schema_name text        NOT NULL,
    table_name  text        NOT NULL,
    key_columns text[]      NOT NULL,  -- empty: no primary key, the whole row is the identity
    tracked_at  timestamptz NOT NULL DEFAULT now()
);

-- notify: 'wakeup' (pg_notify with an empty payload, only while a publisher said it is idle),
-- 'row' (one pg_notify per change carrying the change JSON, or its version when too large),
-- 'off' (never notify; the publisher polls).
CREATE TABLE pgfanout.settings (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    notify         text    NOT NULL DEFAULT 'wakeup' CHECK (notify IN ('wakeup', 'row', 'off')),
    publisher_idle boolean NOT NULL DEFAULT true
);
INSERT INTO pgfanout.settings DEFAULT VALUES;

CREATE VIEW pgfanout.backlog AS
SELECT count(*)                   AS entries,
       coalesce(sum(n), 0)::bigint AS changes,
       min(captured_at)           AS oldest_captured_at
FROM pgfanout.changes;

CREATE FUNCTION pgfanout.set_notify(p_mode text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $$ UPDATE pgfanout.settings SET notify = p_mode $$;

-- Called by every capture function after writing its entries.
CREATE FUNCTION pgfanout.after_capture(p_first bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_mode text;
    v_idle boolean;
BEGIN
    IF p_first IS NULL THEN
        RETURN;
    END IF;
    SELECT notify, publisher_idle INTO v_mode, v_idle FROM pgfanout.settings;
    IF v_mode = 'wakeup' AND v_idle THEN
        -- Constant payload: PostgreSQL folds identical notifications of one transaction into one.
        PERFORM pg_notify('pgfanout', '');
    ELSIF v_mode = 'row' THEN
        PERFORM pg_notify('pgfanout', CASE WHEN octet_length(j) <= 7900 THEN j ELSE v::text END)
        FROM (
            SELECT (e ->> 0)::bigint AS v,
                   json_build_object(
                       'version', e -> 0,
                       'op', CASE c.op WHEN 'I' THEN 'insert' WHEN 'U' THEN 'update'
                                       WHEN 'D' THEN 'delete' ELSE 'truncate' END,
                       'schema', c.schema_name, 'table', c.table_name,
                       'key', e -> 1, 'row', e -> 2,
                       'txid', c.txid, 'committed_at', c.captured_at)::text AS j
            FROM pgfanout.changes c, json_array_elements(c.items) e
            WHERE c.version >= p_first AND c.txid = pg_current_xact_id()
            ORDER BY 1
        ) s;
    END IF;
END $$;

-- TRUNCATE needs no per-table code.
CREATE FUNCTION pgfanout.capture_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v bigint := nextval('pgfanout.version_seq');
BEGIN
    INSERT INTO pgfanout.changes (version, last_version, n, txid, schema_name, table_name, op, captured_at, items)
    VALUES (v, v, 1, pg_current_xact_id(), TG_TABLE_SCHEMA, TG_TABLE_NAME, 'T', clock_timestamp(),
            json_build_array(json_build_array(v, NULL, NULL)));
    PERFORM pgfanout.after_capture(v);
    RETURN NULL;
END $$;

-- The INSERT … SELECT that turns one transition table into change-log entries.
-- Entries are cut every 5000 changes or 16 MiB of JSON so no statement, however large its
-- rows, builds a value near PostgreSQL's 1 GB limit.
CREATE FUNCTION pgfanout.entries_sql(p_op "char", p_key text, p_row text, p_from text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT format($f$
    INSERT INTO pgfanout.changes (version, last_version, n, txid, schema_name, table_name, op, captured_at, items)
    SELECT min(v), max(v), count(*), pg_current_xact_id(), TG_TABLE_SCHEMA, TG_TABLE_NAME, %L, clock_timestamp(),
           json_agg(json_build_array(v, k, r))
    FROM (SELECT v, k, r,
                 sum(coalesce(octet_length(k::text), 0) + coalesce(octet_length(r::text), 0))
                     OVER (ROWS UNBOUNDED PRECEDING) AS cb,
                 row_number() OVER () AS rn
          FROM (SELECT nextval('pgfanout.version_seq') AS v, %s AS k, %s AS r %s) s0) s
    GROUP BY cb / 16777216, rn / 5000
    RETURNING version$f$, p_op, p_key, p_row, p_from)
$$;

-- Builds and installs the per-table capture functions and triggers. Identifiers are quoted
-- with format('%I'); values never enter the generated code.
CREATE FUNCTION pgfanout.install_capture(p_rel regclass, p_keys text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $install$
DECLARE
    v_qual  text;
    v_fn    text := 'capture_' || p_rel::oid::text;
    v_gucs  text := $g$SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET extra_float_digits = 3
        SET "DateStyle" = 'ISO, YMD' SET "IntervalStyle" = 'postgres' SET bytea_output = 'hex'
        SET lc_monetary = 'C'$g$;
    v_keyn  text;
    v_keyo  text;
    v_match text;
    v_ins   text;
    v_upd   text;
    v_del   text;
BEGIN
    SELECT format('%I.%I', n.nspname, c.relname) INTO v_qual
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_rel;

    IF cardinality(p_keys) > 0 THEN
        SELECT 'json_build_object(' || string_agg(format('%L, n.%I', k, k), ', ') || ')',
               'json_build_object(' || string_agg(format('%L, o.%I', k, k), ', ') || ')',
               string_agg(format('n.%I = o.%I', k, k), ' AND ')
        INTO v_keyn, v_keyo, v_match FROM unnest(p_keys) AS k;
        v_ins := pgfanout.entries_sql('I', v_keyn, 'to_json(n)', 'FROM pgfanout_new n');
        v_del := pgfanout.entries_sql('D', v_keyo, 'NULL::json', 'FROM pgfanout_old o');
        -- Old keys that no new row carries: the UPDATE changed a primary key.
        v_upd := format('d AS (%s), u AS (%s)',
            pgfanout.entries_sql('D', v_keyo, 'NULL::json',
                format('FROM pgfanout_old o WHERE NOT EXISTS (SELECT 1 FROM pgfanout_new n WHERE %s)', v_match)),
            pgfanout.entries_sql('U', v_keyn, 'to_json(n)', 'FROM pgfanout_new n'));
    ELSE
        -- No primary key: the whole old row identifies what a DELETE or UPDATE removed.
        v_ins := pgfanout.entries_sql('I', 'NULL::json', 'to_json(n)', 'FROM pgfanout_new n');
        v_del := pgfanout.entries_sql('D', 'to_json(o)', 'NULL::json', 'FROM pgfanout_old o');
        v_upd := format('d AS (%s), u AS (%s)',
            pgfanout.entries_sql('D', 'to_json(o)', 'NULL::json', 'FROM pgfanout_old o'),
            pgfanout.entries_sql('U', 'NULL::json', 'to_json(n)', 'FROM pgfanout_new n'));
    END IF;

    EXECUTE format($f$CREATE FUNCTION pgfanout.%I() RETURNS trigger LANGUAGE plpgsql %s AS $body$
DECLARE v_first bigint;
BEGIN
    WITH e AS (%s) SELECT min(version) INTO v_first FROM e;
    PERFORM pgfanout.after_capture(v_first);
    RETURN NULL;
END $body$$f$, v_fn || '_insert', v_gucs, v_ins);

    EXECUTE format($f$CREATE FUNCTION pgfanout.%I() RETURNS trigger LANGUAGE plpgsql %s AS $body$
DECLARE v_first bigint;
BEGIN
    WITH %s SELECT min(version) INTO v_first FROM (SELECT version FROM d UNION ALL SELECT version FROM u) e;
    PERFORM pgfanout.after_capture(v_first);
    RETURN NULL;
END $body$$f$, v_fn || '_update', v_gucs, v_upd);

    EXECUTE format($f$CREATE FUNCTION pgfanout.%I() RETURNS trigger LANGUAGE plpgsql %s AS $body$
DECLARE v_first bigint;
BEGIN
    WITH e AS (%s) SELECT min(version) INTO v_first FROM e;
    PERFORM pgfanout.after_capture(v_first);
    RETURN NULL;
END $body$$f$, v_fn || '_delete', v_gucs, v_del);

    EXECUTE format('CREATE TRIGGER pgfanout_capture_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS pgfanout_new FOR EACH STATEMENT EXECUTE FUNCTION pgfanout.%I()', v_qual, v_fn || '_insert');
    EXECUTE format('CREATE TRIGGER pgfanout_capture_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS pgfanout_old NEW TABLE AS pgfanout_new FOR EACH STATEMENT EXECUTE FUNCTION pgfanout.%I()', v_qual, v_fn || '_update');
    EXECUTE format('CREATE TRIGGER pgfanout_capture_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS pgfanout_old FOR EACH STATEMENT EXECUTE FUNCTION pgfanout.%I()', v_qual, v_fn || '_delete');
    EXECUTE format('CREATE TRIGGER pgfanout_capture_truncate AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION pgfanout.capture_truncate()', v_qual);
END $install$;

-- Accepts any regclass text: 'orders', 'public.orders', '"Weird Schema"."Order ""Items"""'.
-- Tracking a tracked table is a no-op.
CREATE FUNCTION pgfanout.track(p_table text) RETURNS void
-- No fixed search_path here: the table name resolves like in the caller's own SQL.
LANGUAGE plpgsql
AS $$
DECLARE
    v_rel  regclass := p_table::regclass;
    v_keys text[];
BEGIN
    IF EXISTS (SELECT 1 FROM pgfanout.tracked WHERE relid = v_rel) THEN
        RETURN;
    END IF;
    IF (SELECT relkind FROM pg_class WHERE oid = v_rel) NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'pgfanout.track: % is not a table', p_table;
    END IF;
    SELECT coalesce(array_agg(a.attname::text ORDER BY k.ord), '{}') INTO v_keys
    FROM pg_index i
    CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = v_rel AND i.indisprimary;

    PERFORM pgfanout.install_capture(v_rel, v_keys);
    INSERT INTO pgfanout.tracked (relid, schema_name, table_name, key_columns)
    SELECT c.oid, n.nspname, c.relname, v_keys
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = v_rel;
END $$;

CREATE FUNCTION pgfanout.untrack(p_table text) RETURNS void
-- No fixed search_path here: the table name resolves like in the caller's own SQL.
LANGUAGE plpgsql
AS $$
DECLARE
    v_rel  regclass := p_table::regclass;
    v_qual text;
    v_fn   text := 'capture_' || v_rel::oid::text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pgfanout.tracked WHERE relid = v_rel) THEN
        RETURN;
    END IF;
    SELECT format('%I.%I', n.nspname, c.relname) INTO v_qual
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = v_rel;
    EXECUTE format('DROP TRIGGER IF EXISTS pgfanout_capture_insert ON %s', v_qual);
    EXECUTE format('DROP TRIGGER IF EXISTS pgfanout_capture_update ON %s', v_qual);
    EXECUTE format('DROP TRIGGER IF EXISTS pgfanout_capture_delete ON %s', v_qual);
    EXECUTE format('DROP TRIGGER IF EXISTS pgfanout_capture_truncate ON %s', v_qual);
    EXECUTE format('DROP FUNCTION IF EXISTS pgfanout.%I()', v_fn || '_insert');
    EXECUTE format('DROP FUNCTION IF EXISTS pgfanout.%I()', v_fn || '_update');
    EXECUTE format('DROP FUNCTION IF EXISTS pgfanout.%I()', v_fn || '_delete');
    DELETE FROM pgfanout.tracked WHERE relid = v_rel;
END $$;

CREATE FUNCTION pgfanout.tracked()
RETURNS TABLE (table_name regclass, key_columns text[], tracked_at timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT relid::regclass, key_columns, tracked_at FROM pgfanout.tracked ORDER BY schema_name, table_name $$;

-- Only the schema owner and roles granted below may touch the log (see README, Security).
REVOKE ALL ON ALL TABLES IN SCHEMA pgfanout FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgfanout FROM PUBLIC;

COMMIT;
