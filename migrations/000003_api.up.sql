-- pgfanout capture, 3 of 3: the SQL API, what you call from your own migrations and scripts:
-- track(), untrack(), tracked(), set_notify() (docs/capture.md). Each checks its arguments and
-- state, then hands the work to the generator (000002_generator). Apply after it, as the same
-- role, in one transaction.
BEGIN;

-- The primary key columns in key order; empty for a keyless table.
CREATE FUNCTION pgfanout.key_columns(p_rel regclass) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT coalesce(array_agg(a.attname::text ORDER BY k.ord), '{}')
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = p_rel AND i.indisprimary
$$;

-- Installs capture on one table. Idempotent: a no-op when the table is tracked with its current
-- primary key and all its triggers; otherwise (key changed, trigger dropped) it reinstalls.
CREATE FUNCTION pgfanout.track_table(p_rel regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_keys text[] := pgfanout.key_columns(p_rel);
BEGIN
    IF coalesce((SELECT relkind FROM pg_class WHERE oid = p_rel), '-') NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'pgfanout.track: % is not a table', coalesce(p_rel::text, 'NULL');
    END IF;
    IF NOT has_table_privilege('pgfanout.changes', 'INSERT') THEN
        -- The capture functions run as their creator: without this they would fail every write.
        RAISE EXCEPTION 'pgfanout.track: role % cannot write pgfanout.changes; track tables as the role that ran the migration', current_user;
    END IF;
    PERFORM pgfanout.forget_dropped();
    IF EXISTS (SELECT FROM pgfanout.tracked WHERE relid = p_rel AND key_columns = v_keys)
       AND (SELECT count(*) FROM pg_trigger WHERE tgrelid = p_rel AND tgname = ANY (pgfanout.trigger_names()))
           = cardinality(pgfanout.trigger_names()) - (CASE WHEN cardinality(v_keys) > 0 THEN 0 ELSE 1 END) THEN
        RETURN;
    END IF;
    PERFORM pgfanout.install_capture(p_rel, v_keys);
    INSERT INTO pgfanout.tracked AS t (relid, schema_name, table_name, key_columns)
    SELECT c.oid, n.nspname, c.relname, v_keys
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_rel
    ON CONFLICT (relid) DO UPDATE
    SET schema_name = excluded.schema_name, table_name = excluded.table_name,
        key_columns = excluded.key_columns, tracked_at = now();
END $$;

-- Accepts any regclass text: 'orders', 'public.orders', '"Weird Schema"."Order ""Items"""'.
-- A SQL function without its own search_path, so the name resolves like in the caller's SQL;
-- everything else runs in track_table with a fixed one.
CREATE FUNCTION pgfanout.track(p_table text) RETURNS void
LANGUAGE sql
AS $$ SELECT pgfanout.track_table(p_table::regclass) $$;

CREATE FUNCTION pgfanout.untrack_table(p_rel regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_rel IS NULL THEN
        RETURN;
    END IF;
    PERFORM pgfanout.drop_triggers(p_rel);
    PERFORM pgfanout.drop_functions(p_rel::oid);
    DELETE FROM pgfanout.tracked WHERE relid = p_rel;
    PERFORM pgfanout.forget_dropped();
END $$;

-- Untracking an untracked table is a no-op.
CREATE FUNCTION pgfanout.untrack(p_table text) RETURNS void
LANGUAGE sql
AS $$ SELECT pgfanout.untrack_table(p_table::regclass) $$;

CREATE FUNCTION pgfanout.tracked()
RETURNS TABLE (table_name regclass, key_columns text[], tracked_at timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT t.relid::regclass, t.key_columns, t.tracked_at
FROM pgfanout.tracked t
JOIN pg_class c ON c.oid = t.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
ORDER BY n.nspname, c.relname
$$;

-- Switches the notify mode by regenerating the capture functions (not the triggers: no lock on
-- the tracked tables). A writer picks the new code up at its next statement. Run it as the role
-- that tracks tables.
CREATE FUNCTION pgfanout.set_notify(p_mode text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_rel  regclass;
    v_keys text[];
BEGIN
    IF p_mode IS NULL OR p_mode NOT IN ('wakeup', 'row', 'off') THEN
        RAISE EXCEPTION 'pgfanout.set_notify: mode must be wakeup, row or off, not %', coalesce(p_mode, 'NULL');
    END IF;
    UPDATE pgfanout.settings SET notify = p_mode;
    PERFORM pgfanout.install_truncate();
    PERFORM pgfanout.forget_dropped();
    FOR v_rel, v_keys IN SELECT relid::regclass, key_columns FROM pgfanout.tracked LOOP
        PERFORM pgfanout.install_functions(v_rel, v_keys);
    END LOOP;
END $$;

-- Like every pgfanout function, not callable by PUBLIC (docs/capture.md, Security).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgfanout FROM PUBLIC;

COMMIT;
