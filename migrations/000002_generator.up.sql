-- pgfanout capture, 2 of 3: the trigger generator. These functions write the PL/pgSQL of the
-- per-table capture functions (and the shared TRUNCATE one, installed here) and install or
-- drop them with their triggers; 000003_api calls them from track(), untrack() and
-- set_notify(). Kept apart from the API because this is the code every captured statement's
-- cost comes from (BENCHMARKS.md): the generated text, not the functions below, runs on each
-- write. Apply after 000001_changelog, as the same role, in one transaction.
BEGIN;

-- Notify mode 'row': one notification per change of the given entries, in version order.
-- A payload must stay below 8000 bytes or pg_notify fails the source write: larger changes are
-- announced by their version alone, which the publisher then reads from the log.
-- Not SECURITY DEFINER: only capture functions (already running as the capture owner) call it.
CREATE FUNCTION pgfanout.notify_rows(p_entries bigint[]) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $$
SELECT count(pg_notify('pgfanout', CASE WHEN octet_length(j) < 7900 THEN j ELSE v::text END))
FROM (
    SELECT x.v,
           json_build_object(
               'version', x.v,
               'op', CASE c.op WHEN 'I' THEN 'insert' WHEN 'U' THEN 'update'
                               WHEN 'D' THEN 'delete' ELSE 'truncate' END,
               'schema', c.schema_name, 'table', c.table_name,
               'key', x.k, 'row', x.r,
               'txid', c.txid, 'committed_at', c.captured_at)::text AS j
    FROM pgfanout.changes c
    CROSS JOIN LATERAL json_array_elements(c.items) WITH ORDINALITY AS e(e, i)
    -- Both element forms of pgfanout.changes.items.
    CROSS JOIN LATERAL (
        SELECT CASE WHEN json_typeof(e.e) = 'array' THEN (e.e ->> 0)::bigint ELSE c.version + e.i - 1 END AS v,
               CASE WHEN json_typeof(e.e) = 'array' THEN e.e -> 1
                    WHEN c.op = 'D' THEN e.e
                    -- Spelled the way json_build_object spells a key, as the publisher does.
                    WHEN cardinality(c.key_columns) > 0 THEN
                        (SELECT ('{' || string_agg(to_json(k)::text || ' : ' || (e.e -> k)::text, ', ' ORDER BY o) || '}')::json
                         FROM unnest(c.key_columns) WITH ORDINALITY AS u(k, o))
               END AS k,
               CASE WHEN json_typeof(e.e) = 'array' THEN e.e -> 2 WHEN c.op <> 'D' THEN e.e END AS r
    ) x
    WHERE c.version = ANY (p_entries)
    ORDER BY 1
) s
$$;

-- The code every capture function ends with, for notify mode p_mode. 'wakeup' sends a constant
-- payload, which PostgreSQL folds into one notification per transaction, and only while a
-- publisher waits (holds the idle lock): under load no source commit takes the NOTIFY lock.
-- Trying the lock costs a capture about 1 µs; reading a settings row cost 4 µs, a sixth of
-- a single-row statement's capture. The shared lock a writer takes is held until it commits,
-- so a publisher that got the lock exclusively sees every change captured without a notify.
-- The key (pgfanout.idle_lock_key) is written in as constants: calling it would cost a capture.
CREATE FUNCTION pgfanout.notify_sql(p_mode text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE p_mode
    WHEN 'wakeup' THEN format($f$
    IF cardinality(v_entries) > 0 AND NOT pg_try_advisory_xact_lock_shared(%s, %s) THEN
        PERFORM pg_notify('pgfanout', '');
    END IF;$f$, k.key1, k.key2)
    WHEN 'row' THEN $f$
    IF cardinality(v_entries) > 0 THEN
        PERFORM pgfanout.notify_rows(v_entries);
    END IF;$f$
    ELSE '' END
FROM pgfanout.idle_lock_key() k
$$;

-- Raises a transaction-local flag: this transaction ran an UPDATE naming a key column of the
-- table, so its capture must look for moved keys. Left up until the transaction ends (rather
-- than lowered by the capture) so that nested statements cannot make a capture miss it.
CREATE FUNCTION pgfanout.capture_key_update() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('pgfanout.key_update_' || TG_RELID::text, 'on', true);
    RETURN NULL;
END $$;

-- Generated capture code, in two paths.
-- Fast path, nearly every statement: one aggregate over at most 5001 changes builds a single
-- entry of bare elements (the new rows, or for D the keys), then one nextval numbers them and a
-- plain INSERT stores them. It gives up (and the slow path takes over) when the statement
-- changed more than 5000 rows, its JSON exceeds 16 MiB, or an element's exceeds 16 KiB; the
-- last bound keeps the work thrown away by giving up below 5001 * 16 KiB. Each nextval
-- reserves 8192 versions, so the entry's versions cannot collide with another entry's.
-- Slow path: entries of [version, key, row] are cut every 5000 changes or 16 MiB of JSON, so
-- no statement, however large, builds a value near PostgreSQL's 1 GB limit: running sums
-- number the chunks.
-- row_to_json(n.*) is what to_json(n) does for a row, minus a type lookup per call; n.* (not
-- n) because a column named n would win over the whole-row reference.

-- The JSON size of one change; never NULL, so sums and comparisons are never NULL either.
-- pg_column_size of a freshly built json value is its length plus a 4-byte header: close enough
-- for the size bounds, and it reads the header where octet_length(x::text) would copy the
-- text twice (0.2 µs a row, a sixth of a bulk row's capture cost).
CREATE FUNCTION pgfanout.size_sql(p_key text, p_row text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE WHEN p_key = 'NULL::json' THEN 'pg_column_size(r)'
            WHEN p_row = 'NULL::json' THEN 'pg_column_size(k)'
            ELSE 'pg_column_size(k) + pg_column_size(r)' END
$$;

-- The slow path: an INSERT … SELECT … RETURNING version writing the chunked entries.
-- p_key and p_row are SQL expressions over the transition row (NULL::json when absent).
CREATE FUNCTION pgfanout.entries_sql(p_op "char", p_keys text[], p_key text, p_row text, p_from text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT format($f$
    INSERT INTO pgfanout.changes (version, last_version, n, txid, schema_name, table_name, op, captured_at, key_columns, bytes, items)
    SELECT first, last, n, pg_current_xact_id(), TG_TABLE_SCHEMA, TG_TABLE_NAME, %L, clock_timestamp(), %L,
           octet_length(items::text), items
    FROM (SELECT min(v) AS first, max(v) AS last, count(*) AS n, json_agg(json_build_array(v, k, r) ORDER BY v) AS items
          FROM (SELECT v, k, r, sum(s) OVER w / 16777216 + (count(*) OVER w - 1) / 5000 AS g
                FROM (SELECT v, k, r, %s AS s
                      FROM (SELECT nextval('pgfanout.version_seq') AS v, %s AS k, %s AS r %s OFFSET 0) s0) s1
                WINDOW w AS (ROWS UNBOUNDED PRECEDING)) s
          GROUP BY g
          OFFSET 0) e
    RETURNING version$f$,
    p_op, p_keys, pgfanout.size_sql(p_key, p_row), p_key, p_row, p_from)
$$;

-- PL/pgSQL statements capturing one operation of a statement: the fast path, falling back to
-- the slow one. p_rows is a SELECT * over a transition table, aliased p_alias in it and outside;
-- p_key and p_row are SQL expressions over it (NULL::json when absent), p_keys the key columns.
-- The fast path is one INSERT … SELECT: for a single-row statement every executor start counts.
-- It inserts nothing when the statement changed no rows or is too big; only then does the
-- EXISTS run, to tell the two apart. nextval sits in a subquery's output, which PostgreSQL does
-- not flatten (volatile), so v and v + n - 1 read one value.
CREATE FUNCTION pgfanout.capture_block(p_op "char", p_keys text[], p_key text, p_row text, p_rows text, p_alias text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT format($f$
    INSERT INTO pgfanout.changes (version, last_version, n, txid, schema_name, table_name, op, captured_at, key_columns, bytes, items)
    SELECT v, v + n - 1, n, pg_current_xact_id(), TG_TABLE_SCHEMA, TG_TABLE_NAME, %1$L, clock_timestamp(), %2$L,
           octet_length(items::text), items
    FROM (SELECT nextval('pgfanout.version_seq') AS v, n, b, items
          FROM (SELECT count(*) AS n, sum(s) AS b, max(s) AS m, json_agg(e) FILTER (WHERE s < 16384) AS items
                FROM (SELECT e, pg_column_size(e) AS s
                      FROM (SELECT %3$s AS e FROM (%4$s LIMIT 5001) %5$s OFFSET 0) s0) s1) a
          WHERE n BETWEEN 1 AND 5000 AND b <= 16777216 AND m < 16384) s2
    RETURNING version INTO v_first;
    IF FOUND THEN
        v_entries := v_entries || v_first;
    ELSIF EXISTS (SELECT FROM (%4$s) %5$s) THEN
        WITH e AS (%6$s)
        SELECT v_entries || array_agg(version) INTO v_entries FROM e;
    END IF;
$f$, p_op, p_keys, CASE p_op WHEN 'D' THEN p_key ELSE p_row END, p_rows, p_alias,
    pgfanout.entries_sql(p_op, p_keys, p_key, p_row, format('FROM (%s) %s', p_rows, p_alias)))
$$;

-- The body of one generated capture function, for the current notify mode.
CREATE FUNCTION pgfanout.capture_body(p_blocks text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT format($f$
DECLARE
    v_first   bigint;
    v_items   json;
    v_entries bigint[] := '{}';
BEGIN
%s%s
    RETURN NULL;
END$f$, p_blocks, pgfanout.notify_sql(notify))
FROM pgfanout.settings
$$;

-- TRUNCATE needs no per-table code: one function serves every tracked table.
CREATE FUNCTION pgfanout.install_truncate() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $install$
BEGIN
    EXECUTE format('CREATE OR REPLACE FUNCTION pgfanout.capture_truncate() RETURNS trigger LANGUAGE plpgsql '
                   'SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS %L', pgfanout.capture_body($b$
    v_first := nextval('pgfanout.version_seq');
    v_items := json_build_array(json_build_array(v_first, NULL, NULL));
    INSERT INTO pgfanout.changes (version, last_version, n, txid, schema_name, table_name, op, captured_at, key_columns, bytes, items)
    VALUES (v_first, v_first, 1, pg_current_xact_id(), TG_TABLE_SCHEMA, TG_TABLE_NAME, 'T',
            clock_timestamp(), '{}', octet_length(v_items::text), v_items);
    v_entries := ARRAY[v_first];
$b$));
    REVOKE ALL ON FUNCTION pgfanout.capture_truncate() FROM PUBLIC;
END $install$;
SELECT pgfanout.install_truncate();

-- The names of the triggers track() creates on a table (the last one only on keyed tables).
CREATE FUNCTION pgfanout.trigger_names() RETURNS name[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT '{pgfanout_capture_insert, pgfanout_capture_update, pgfanout_capture_delete, pgfanout_capture_truncate, pgfanout_capture_key_update}'::name[]
$$;

-- Builds the per-table capture functions for the current notify mode. Identifiers are quoted
-- with format('%I'); values never enter the generated code.
CREATE FUNCTION pgfanout.install_functions(p_rel regclass, p_keys text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $install$
DECLARE
    v_fn    text := 'capture_' || p_rel::oid::text;
    -- Fixed output settings make every value's JSON text exact and independent of the
    -- writing session: shortest-exact floats, ISO dates inside ranges, unambiguous
    -- intervals, hex bytea, money in C format (an exact image of its integer cents).
    v_gucs  text := $g$SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET extra_float_digits = 3
        SET "DateStyle" = 'ISO, YMD' SET "IntervalStyle" = 'postgres' SET bytea_output = 'hex'
        SET lc_monetary = 'C'$g$;
    v_keyn  text;
    v_keyo  text;
    v_moved text;
    v_ins   text;
    v_upd   text;
    v_del   text;
    v_op    text;
    v_body  text;
BEGIN
    IF cardinality(p_keys) > 0 THEN
        -- Keys compare by their text form: equal text is equal JSON, and any change of the
        -- key's representation (1.0 -> 1.00, 'a' -> 'A' in citext) is reported as a move.
        SELECT 'json_build_object(' || string_agg(format('%L, n.%I', k, k), ', ') || ')',
               'json_build_object(' || string_agg(format('%L, o.%I', k, k), ', ') || ')',
               string_agg(format('n.%I::text = o.%I::text', k, k), ' AND ')
        INTO v_keyn, v_keyo, v_moved FROM unnest(p_keys) AS k;
        v_ins := pgfanout.capture_block('I', p_keys, v_keyn, 'row_to_json(n.*)', 'SELECT * FROM pgfanout_new n', 'n');
        v_del := pgfanout.capture_block('D', p_keys, v_keyo, 'NULL::json', 'SELECT * FROM pgfanout_old o', 'o');
        -- Old keys that no new row carries: the UPDATE changed a primary key. Looking for them
        -- costs a join per statement, so it runs only in transactions where an UPDATE named
        -- a key column (pgfanout_capture_key_update raised the flag below).
        v_upd := format('    IF current_setting(%L, true) = ''on'' THEN', 'pgfanout.key_update_' || p_rel::oid::text)
              || pgfanout.capture_block('D', p_keys, v_keyo, 'NULL::json',
                     format('SELECT * FROM pgfanout_old o WHERE NOT EXISTS (SELECT FROM pgfanout_new n WHERE %s)', v_moved), 'o')
              || E'    END IF;\n'
              || pgfanout.capture_block('U', p_keys, v_keyn, 'row_to_json(n.*)', 'SELECT * FROM pgfanout_new n', 'n');
    ELSE
        -- No primary key: the whole old row identifies what a DELETE or UPDATE removed.
        v_ins := pgfanout.capture_block('I', p_keys, 'NULL::json', 'row_to_json(n.*)', 'SELECT * FROM pgfanout_new n', 'n');
        v_del := pgfanout.capture_block('D', p_keys, 'row_to_json(o.*)', 'NULL::json', 'SELECT * FROM pgfanout_old o', 'o');
        v_upd := pgfanout.capture_block('D', p_keys, 'row_to_json(o.*)', 'NULL::json', 'SELECT * FROM pgfanout_old o', 'o')
              || pgfanout.capture_block('U', p_keys, 'NULL::json', 'row_to_json(n.*)', 'SELECT * FROM pgfanout_new n', 'n');
    END IF;

    FOR v_op, v_body IN SELECT * FROM (VALUES ('insert', v_ins), ('update', v_upd), ('delete', v_del)) AS f LOOP
        EXECUTE format('CREATE OR REPLACE FUNCTION pgfanout.%I() RETURNS trigger LANGUAGE plpgsql %s AS %L',
            v_fn || '_' || v_op, v_gucs, pgfanout.capture_body(v_body));
        -- Like every pgfanout function, not callable by PUBLIC (track() may run long after the
        -- migration's REVOKE, and per-schema default privileges cannot revoke PUBLIC EXECUTE).
        EXECUTE format('REVOKE ALL ON FUNCTION pgfanout.%I() FROM PUBLIC', v_fn || '_' || v_op);
    END LOOP;
END $install$;

-- Installs the per-table capture functions and triggers.
CREATE FUNCTION pgfanout.install_capture(p_rel regclass, p_keys text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $install$
DECLARE
    v_qual text;
    v_fn   text := 'capture_' || p_rel::oid::text;
BEGIN
    SELECT format('%I.%I', n.nspname, c.relname) INTO v_qual
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_rel;
    PERFORM pgfanout.install_functions(p_rel, p_keys);

    -- DROP + CREATE rather than CREATE OR REPLACE TRIGGER, which needs PostgreSQL 14.
    PERFORM pgfanout.drop_triggers(p_rel);
    EXECUTE format('CREATE TRIGGER pgfanout_capture_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS pgfanout_new FOR EACH STATEMENT EXECUTE FUNCTION pgfanout.%I()', v_qual, v_fn || '_insert');
    EXECUTE format('CREATE TRIGGER pgfanout_capture_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS pgfanout_old NEW TABLE AS pgfanout_new FOR EACH STATEMENT EXECUTE FUNCTION pgfanout.%I()', v_qual, v_fn || '_update');
    EXECUTE format('CREATE TRIGGER pgfanout_capture_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS pgfanout_old FOR EACH STATEMENT EXECUTE FUNCTION pgfanout.%I()', v_qual, v_fn || '_delete');
    EXECUTE format('CREATE TRIGGER pgfanout_capture_truncate AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION pgfanout.capture_truncate()', v_qual);
    IF cardinality(p_keys) > 0 THEN
        -- Fires only for UPDATEs whose SET list names a key column (and for MERGE and
        -- ON CONFLICT DO UPDATE doing so). Transition tables cannot have column lists, hence
        -- the separate trigger.
        EXECUTE format('CREATE TRIGGER pgfanout_capture_key_update BEFORE UPDATE OF %s ON %s FOR EACH STATEMENT EXECUTE FUNCTION pgfanout.capture_key_update()',
            (SELECT string_agg(format('%I', k), ', ') FROM unnest(p_keys) AS k), v_qual);
    END IF;
END $install$;

CREATE FUNCTION pgfanout.drop_triggers(p_rel regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_qual text;
    v_trg  text;
BEGIN
    SELECT format('%I.%I', n.nspname, c.relname) INTO v_qual
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_rel;
    IF v_qual IS NULL THEN
        RETURN;  -- the table is gone, and its triggers with it
    END IF;
    FOR v_trg IN SELECT tgname FROM pg_trigger WHERE tgrelid = p_rel AND tgname = ANY (pgfanout.trigger_names()) LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', v_trg, v_qual);
    END LOOP;
END $$;

-- Forgets tables dropped while tracked, with their capture functions, so that an OID reused
-- by a new table is not mistaken for a tracked one.
CREATE FUNCTION pgfanout.forget_dropped() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_relid oid;
BEGIN
    FOR v_relid IN DELETE FROM pgfanout.tracked t
                   WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = t.relid) RETURNING relid LOOP
        PERFORM pgfanout.drop_functions(v_relid);
    END LOOP;
END $$;

CREATE FUNCTION pgfanout.drop_functions(p_relid oid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_op text;
BEGIN
    FOREACH v_op IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS pgfanout.%I()', 'capture_' || p_relid::text || '_' || v_op);
    END LOOP;
END $$;

-- Like every pgfanout function, not callable by PUBLIC (docs/capture.md, Security).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgfanout FROM PUBLIC;

COMMIT;
