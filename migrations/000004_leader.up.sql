-- pgfanout capture: the publisher's leader lease.
-- One row, written only by pgfanout's roles (the capture owner, and the publisher role with
-- the documented UPDATE grant): a publisher leads while its lease is unexpired and renews it;
-- a standby takes it once it expired, or at once when the holder's lease session is gone
-- from pg_stat_activity (a crashed process: its backend exits as soon as its socket closes).
-- Any role can take an advisory lock, so leadership by advisory lock could be held hostage
-- by any login; this row cannot. docs/publisher.md, "High availability", has the timings.
BEGIN;

CREATE TABLE pgfanout.leader (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    term        bigint      NOT NULL DEFAULT 0,          -- grows with every new leader
    holder      text,                                    -- the leading process's unique id
    host        text,                                    -- its host name and pid, for status
    pid         integer,
    backend_pid integer,                                 -- the lease session's server process
    acquired_at timestamptz,
    renewed_at  timestamptz,
    expires_at  timestamptz NOT NULL DEFAULT '-infinity' -- free once in the past
);
INSERT INTO pgfanout.leader DEFAULT VALUES;
REVOKE ALL ON pgfanout.leader FROM PUBLIC;

COMMIT;
