-- pgfanout capture: the low-water mark, the source's word that every change below a version
-- has been published and confirmed (docs/bookkeeping.md). The publisher advances it about once
-- a second and stamps it on every message (header pgfanout-low-water); replicators age it to
-- decide which of their bookkeeping entries no older change can still need.
BEGIN;

CREATE TABLE pgfanout.low_water (
    singleton     boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    low_water     bigint      NOT NULL DEFAULT 0, -- every change below it left the log confirmed
    pending_xid   xid8,                           -- a sample waiting for the transactions before it
    pending_bound bigint,                         -- versions below it were handed out before it
    advanced_at   timestamptz
);
INSERT INTO pgfanout.low_water DEFAULT VALUES;

-- Advances the low-water mark and returns it, in a transaction of its own.
--
-- A sample is taken in two steps: first the version sequence's bound B (every version handed out
-- so far is below B), then this transaction's own id X. A statement that took a version had
-- already written its row, so its transaction had an id, lower than X. Once no transaction
-- with an id below X runs any more, every version below B has been committed into the log or
-- rolled back; the ones still in the log are the only ones not yet confirmed. So the mark
-- becomes min(B, the smallest version in the log), and a new sample is taken.
CREATE FUNCTION pgfanout.advance_low_water() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r      pgfanout.low_water;
    bound  bigint;
    x      xid8;
    xmin   xid8;
    oldest bigint;
BEGIN
    IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
        RAISE EXCEPTION 'pgfanout.advance_low_water() must run in a transaction of its own';
    END IF;
    SELECT last_value + CASE WHEN is_called THEN 8192 ELSE 0 END INTO bound FROM pgfanout.version_seq;
    x := pg_current_xact_id();
    SELECT * INTO r FROM pgfanout.low_water FOR UPDATE;
    SELECT pg_snapshot_xmin(pg_current_snapshot()) INTO xmin;
    IF r.pending_xid IS NOT NULL AND xmin >= r.pending_xid THEN
        SELECT min(version) INTO oldest FROM pgfanout.changes;
        r.low_water := greatest(r.low_water, least(r.pending_bound, coalesce(oldest, r.pending_bound)));
        r.pending_xid := NULL;
    END IF;
    IF r.pending_xid IS NULL THEN
        r.pending_xid := x;
        r.pending_bound := bound;
    END IF;
    UPDATE pgfanout.low_water
    SET low_water = r.low_water, pending_xid = r.pending_xid, pending_bound = r.pending_bound,
        advanced_at = clock_timestamp();
    RETURN r.low_water;
END $$;

REVOKE ALL ON pgfanout.low_water FROM PUBLIC;
REVOKE ALL ON FUNCTION pgfanout.advance_low_water() FROM PUBLIC;

COMMIT;
