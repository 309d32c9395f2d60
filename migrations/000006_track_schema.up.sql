-- pgfanout capture: whole schemas, like a publication FOR TABLES IN SCHEMA (docs/capture.md,
-- Tracking whole schemas). track_schema() tracks every table of a schema and records the schema;
-- track_new_tables(), which the publisher calls about once a second, tracks the tables created
-- there since, as the capture owner (SECURITY DEFINER: the publisher's role needs only EXECUTE
-- on it). A table the capture owner may not create triggers on is skipped, never an error:
-- untracked_tables() says why, and it is tried again on every pass. No event trigger, no
-- superuser. Apply after 000005, as the capture owner, in one transaction.
BEGIN;

CREATE TABLE pgfanout.tracked_schemas (
    nspoid      oid         PRIMARY KEY,
    schema_name text        NOT NULL,  -- name when tracked; tracked_schemas() shows current ones
    tracked_at  timestamptz NOT NULL DEFAULT now()
);

-- What the schema passes did with each table they saw, so that a pass only looks at tables it
-- has not settled yet:
--   tracked  the pass tracked it: untrack_schema() untracks it again;
--   kept     it was tracked already (track() by hand): untrack_schema() leaves it tracked;
--   skipped  it could not be tracked (reason): every pass tries again.
-- A tracked or kept table that is no longer in pgfanout.tracked was untracked by hand, and
-- stays untracked: the passes do not undo an untrack().
CREATE TABLE pgfanout.schema_tables (
    relid      oid         PRIMARY KEY,
    nspoid     oid         NOT NULL REFERENCES pgfanout.tracked_schemas ON DELETE CASCADE,
    state      text        NOT NULL CHECK (state IN ('tracked', 'kept', 'skipped')),
    reason     text,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON pgfanout.schema_tables (nspoid);

-- Why the current role cannot track a table of a tracked schema (NULL: it can), from the catalog:
-- creating the capture triggers takes USAGE on the schema and TRIGGER on the table, which an
-- owner, a member of the owner's role and a superuser have, and anyone granted it.
CREATE FUNCTION pgfanout.cannot_track(p_rel oid) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE
    WHEN NOT has_schema_privilege(c.relnamespace, 'USAGE') THEN
        format('the capture owner %I has no USAGE on schema %I: GRANT USAGE ON SCHEMA %I TO %I',
               current_user, n.nspname, n.nspname, current_user)
    WHEN NOT has_table_privilege(c.oid, 'TRIGGER') THEN
        format('the capture owner %1$I may not create triggers on it (owned by %2$I): GRANT TRIGGER ON %3$I.%4$I TO %1$I, '
               'and for the tables %2$I creates later ALTER DEFAULT PRIVILEGES FOR ROLE %2$I IN SCHEMA %3$I GRANT TRIGGER ON TABLES TO %1$I',
               current_user, pg_get_userbyid(c.relowner), n.nspname, c.relname)
    END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = p_rel
$$;

-- One pass over the tracked schemas (all of them, or p_nspoid alone): tracks, as the current
-- role, every table it has not settled yet, and returns what it tracked and what it skipped
-- with the reason. Partitions are left to their partitioned table, which is tracked and reports
-- their changes (docs/capture.md, Tracking tables). A table whose lock is not granted within
-- the caller's lock_timeout is left for the next pass, unreported. The caller holds the lock
-- on pgfanout.tracked_schemas, so passes and (un)tracking of schemas never interleave.
CREATE FUNCTION pgfanout.schema_pass(p_nspoid oid)
RETURNS TABLE (table_name text, tracked boolean, reason text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    -- Forget dropped schemas and tables, so that a reused OID is not mistaken for a seen table.
    DELETE FROM pgfanout.tracked_schemas s WHERE NOT EXISTS (SELECT FROM pg_namespace n WHERE n.oid = s.nspoid);
    DELETE FROM pgfanout.schema_tables t WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = t.relid);
    FOR r IN
        SELECT c.oid AS relid, s.nspoid, format('%I.%I', n.nspname, c.relname) AS name,
               EXISTS (SELECT FROM pgfanout.tracked t WHERE t.relid = c.oid) AS already
        FROM pgfanout.tracked_schemas s
        JOIN pg_namespace n ON n.oid = s.nspoid
        JOIN pg_class c ON c.relnamespace = s.nspoid
        LEFT JOIN pgfanout.schema_tables st ON st.relid = c.oid
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND (p_nspoid IS NULL OR s.nspoid = p_nspoid)
          AND (st.relid IS NULL OR st.state = 'skipped')
        ORDER BY n.nspname, c.relname
    LOOP
        table_name := r.name;
        tracked := NULL;
        reason := NULL;
        IF r.already THEN
            tracked := false;  -- kept: tracked before, and not reported
        ELSE
            reason := pgfanout.cannot_track(r.relid);
            IF reason IS NULL THEN
                BEGIN
                    PERFORM pgfanout.track_table(r.relid::regclass);
                    tracked := true;
                EXCEPTION
                    WHEN lock_not_available THEN
                        CONTINUE;  -- busy (the caller's lock_timeout): the next pass tries again
                    WHEN OTHERS THEN
                        reason := SQLERRM;
                END;
            END IF;
        END IF;
        INSERT INTO pgfanout.schema_tables AS st (relid, nspoid, state, reason)
        VALUES (r.relid, r.nspoid, CASE WHEN tracked THEN 'tracked' WHEN r.already THEN 'kept' ELSE 'skipped' END, reason)
        ON CONFLICT (relid) DO UPDATE
        SET nspoid = excluded.nspoid, state = excluded.state, reason = excluded.reason,
            changed_at = CASE WHEN st.state IS DISTINCT FROM excluded.state OR st.reason IS DISTINCT FROM excluded.reason
                              THEN now() ELSE st.changed_at END;
        IF NOT r.already THEN
            tracked := coalesce(tracked, false);
            RETURN NEXT;
        END IF;
    END LOOP;
END $$;

-- Tracks every table of a schema now, and records the schema, so that the publisher tracks the
-- tables created there later (track_new_tables). p_schema is a schema name as you would write
-- it in SQL: 'app', '"Weird Schema"'. Idempotent. Returns what it tracked and what it could not
-- (with the reason, also raised as a WARNING); those are tried again on every pass. Run it as
-- the capture owner, like track().
CREATE FUNCTION pgfanout.track_schema(p_schema text)
RETURNS TABLE (table_name text, tracked boolean, reason text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_nsp  oid := p_schema::regnamespace;
    v_name text := (SELECT nspname FROM pg_namespace WHERE oid = v_nsp);
BEGIN
    IF v_name = 'pgfanout' OR v_name = 'information_schema' OR v_name LIKE 'pg\_%' THEN
        RAISE EXCEPTION 'pgfanout.track_schema: schema % cannot be tracked', quote_ident(v_name);
    END IF;
    IF NOT has_schema_privilege(v_nsp, 'USAGE') THEN
        RAISE EXCEPTION 'pgfanout.track_schema: role % has no USAGE on schema %; track schemas as the capture owner',
            current_user, quote_ident(v_name);
    END IF;
    LOCK TABLE pgfanout.tracked_schemas IN EXCLUSIVE MODE;
    INSERT INTO pgfanout.tracked_schemas (nspoid, schema_name) VALUES (v_nsp, v_name)
    ON CONFLICT (nspoid) DO NOTHING;
    FOR table_name, tracked, reason IN SELECT * FROM pgfanout.schema_pass(v_nsp) LOOP
        IF NOT tracked THEN
            RAISE WARNING 'pgfanout.track_schema: % not tracked: %', table_name, reason;
        END IF;
        RETURN NEXT;
    END LOOP;
END $$;

-- Stops tracking a schema: untracks the tables the schema's passes tracked, keeps those that
-- were tracked already (kept) and forgets the schema. A no-op for a schema not tracked.
CREATE FUNCTION pgfanout.untrack_schema(p_schema text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_nsp oid := p_schema::regnamespace;
    v_rel oid;
BEGIN
    LOCK TABLE pgfanout.tracked_schemas IN EXCLUSIVE MODE;
    FOR v_rel IN SELECT t.relid FROM pgfanout.schema_tables t
                 WHERE t.nspoid = v_nsp AND t.state = 'tracked' ORDER BY t.relid LOOP
        IF EXISTS (SELECT FROM pg_class WHERE oid = v_rel) THEN
            PERFORM pgfanout.untrack_table(v_rel::regclass);
        END IF;
    END LOOP;
    DELETE FROM pgfanout.tracked_schemas WHERE nspoid = v_nsp;  -- and its schema_tables rows
END $$;

-- The publisher's pass, about once a second: tracks the tables created in tracked schemas since
-- the last pass (and retries the skipped ones) as the capture owner, the owner of this
-- function. It never fails for a table it cannot track: it returns the table with the reason.
-- A table whose lock it cannot get within 200 ms (writers holding it) waits for the next pass,
-- so the publisher is never held up for long; a pass already running elsewhere, or a
-- track_schema() under way, makes it return at once.
CREATE FUNCTION pgfanout.track_new_tables()
RETURNS TABLE (table_name text, tracked boolean, reason text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET lock_timeout = '200ms'
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pgfanout.tracked_schemas) THEN
        RETURN;
    END IF;
    BEGIN
        LOCK TABLE pgfanout.tracked_schemas IN EXCLUSIVE MODE NOWAIT;
    EXCEPTION WHEN lock_not_available THEN
        RETURN;
    END;
    RETURN QUERY SELECT * FROM pgfanout.schema_pass(NULL);
END $$;

CREATE FUNCTION pgfanout.tracked_schemas()
RETURNS TABLE (schema_name regnamespace, tracked_at timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT s.nspoid::regnamespace, s.tracked_at
FROM pgfanout.tracked_schemas s JOIN pg_namespace n ON n.oid = s.nspoid
ORDER BY n.nspname
$$;

-- The tables of tracked schemas that are not tracked, and why: skipped (the reason the last
-- pass gave), untracked by hand, or new (the publisher's next pass tracks it).
CREATE FUNCTION pgfanout.untracked_tables()
RETURNS TABLE (table_name regclass, reason text, since timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT c.oid::regclass,
       CASE WHEN st.state = 'skipped' THEN st.reason
            WHEN st.state IS NOT NULL THEN 'untracked by hand; pgfanout.track() tracks it again'
            ELSE 'created since the last pass; the publisher''s next pass tracks it' END,
       st.changed_at
FROM pgfanout.tracked_schemas s
JOIN pg_namespace n ON n.oid = s.nspoid
JOIN pg_class c ON c.relnamespace = s.nspoid
LEFT JOIN pgfanout.schema_tables st ON st.relid = c.oid
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND NOT EXISTS (SELECT FROM pgfanout.tracked t WHERE t.relid = c.oid)
ORDER BY n.nspname, c.relname
$$;

-- Like every pgfanout object, not usable by PUBLIC (docs/capture.md, Security). The publisher's
-- role is granted EXECUTE on track_new_tables() alone.
REVOKE ALL ON pgfanout.tracked_schemas, pgfanout.schema_tables FROM PUBLIC;
REVOKE ALL ON FUNCTION pgfanout.cannot_track(oid), pgfanout.schema_pass(oid), pgfanout.track_schema(text),
    pgfanout.untrack_schema(text), pgfanout.track_new_tables(), pgfanout.tracked_schemas(),
    pgfanout.untracked_tables() FROM PUBLIC;

COMMIT;
