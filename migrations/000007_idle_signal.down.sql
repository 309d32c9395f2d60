-- Undoes 000007_idle_signal: 'wakeup' capture notifies again whenever the idle lock is busy.
BEGIN;

CREATE OR REPLACE FUNCTION pgfanout.notify_sql(p_mode text) RETURNS text
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

SELECT pgfanout.set_notify(notify) FROM pgfanout.settings;

DROP FUNCTION pgfanout.publisher_idle();
ALTER TABLE pgfanout.leader DROP COLUMN idle_term, DROP COLUMN idle_pid;

COMMIT;
