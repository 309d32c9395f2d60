-- pgfanout capture: an idle signal that only pgfanout can raise.
--
-- 'wakeup' capture used to notify whenever the publisher's idle lock (1885824609, 1) was busy.
-- Any role may take any advisory lock, so any login could hold that key and make every
-- commit of the cluster notify, that is, queue behind the cluster-wide NOTIFY lock. Now a
-- busy lock is only half of the signal: the other half is a flag in the leader row, which
-- only pgfanout's roles may write. The publisher raises it (for its term, naming its work
-- session) just before it takes the idle lock, and lowers it when it has work again, or
-- when the lock was not free. Capture reads the flag only when the lock is busy, so a
-- capturing statement costs what it cost before whenever the publisher is busy or gone.
-- docs/capture.md, Security, has the argument.
BEGIN;

ALTER TABLE pgfanout.leader
    ADD COLUMN idle_term bigint,   -- the term whose publisher raised the flag
    ADD COLUMN idle_pid  integer;  -- its work session, which takes the idle lock; NULL: not idle

-- Whether the publisher says it waits for work: a flag of the current term, raised by a
-- session that still exists (a publisher that crashed while idle left its flag up, but its
-- backend is gone; a new leader's term makes an old one's flag void). Capture calls it only
-- when the idle lock is busy. pg_stat_get_activity(pid) lists one backend whoever owns it;
-- a pid nobody has lists nothing (coalesce: a NULL argument would list every backend).
CREATE FUNCTION pgfanout.publisher_idle() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT EXISTS (SELECT FROM pgfanout.leader l
               WHERE l.idle_pid IS NOT NULL AND l.idle_term = l.term
                 AND EXISTS (SELECT FROM pg_stat_get_activity(coalesce(l.idle_pid, 0))))
$$;

-- As in 000002_generator, but a busy lock notifies only when the flag is up too. The flag is
-- read in a nested IF, so that it costs nothing unless the lock is busy.
CREATE OR REPLACE FUNCTION pgfanout.notify_sql(p_mode text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE p_mode
    WHEN 'wakeup' THEN format($f$
    IF cardinality(v_entries) > 0 AND NOT pg_try_advisory_xact_lock_shared(%s, %s) THEN
        IF pgfanout.publisher_idle() THEN
            PERFORM pg_notify('pgfanout', '');
        END IF;
    END IF;$f$, k.key1, k.key2)
    WHEN 'row' THEN $f$
    IF cardinality(v_entries) > 0 THEN
        PERFORM pgfanout.notify_rows(v_entries);
    END IF;$f$
    ELSE '' END
FROM pgfanout.idle_lock_key() k
$$;

-- Regenerates every capture function (and the TRUNCATE one) in the current mode, as
-- set_notify does: the triggers stay, so no tracked table is locked.
SELECT pgfanout.set_notify(notify) FROM pgfanout.settings;

REVOKE ALL ON FUNCTION pgfanout.publisher_idle() FROM PUBLIC;

COMMIT;
