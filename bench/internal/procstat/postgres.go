package procstat

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Querier runs a query: a *pgx.Conn, used from the sampler's goroutine alone.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Backend is a server process as pg_stat_activity shows it.
type Backend struct {
	PID         int
	Type        string // backend_type: client backend, walsender, logical replication worker, …
	Application string // application_name
}

// BackendLabel names a backend by its type and, for client backends and walsenders, its
// application_name when set: "client backend (pgfanout-replicator)", "walsender (sub)"
// (a subscription's walsender carries the subscription's name), "logical replication
// worker" (the apply worker; PostgreSQL 17 calls it "logical replication apply worker").
func BackendLabel(b Backend) string {
	if (b.Type == "client backend" || b.Type == "walsender") && b.Application != "" {
		return b.Type + " (" + b.Application + ")"
	}
	return b.Type
}

// Postgres accounts a local PostgreSQL server's processes, each under Prefix + ": " + its
// label: the postmaster as "postmaster", backends and auxiliary processes by Label (default
// BackendLabel) from pg_stat_activity, processes it never lists (the logger) as "other".
// Backends that exit between two samples are never listed: their CPU counts for the
// postmaster, which waits for them.
type Postgres struct {
	Prefix     string
	Postmaster int     // see PostmasterOf, or cluster.Postgres.PostmasterPID
	Conn       Querier // a connection to any database of the server
	Label      func(Backend) string
}

// Selector is the Selector of p. It queries pg_stat_activity only when the server has a
// process it has not named yet.
func (p Postgres) Selector() Selector {
	label := p.Label
	if label == nil {
		label = BackendLabel
	}
	named := map[key]string{}  // by pg_stat_activity, or the postmaster
	unlisted := map[key]bool{} // not in pg_stat_activity at the last query
	return func(ctx context.Context, procs map[int]Stat) (map[int]string, error) {
		tree := descendants(procs, p.Postmaster)
		if len(tree) > 0 {
			named[keyOf(procs[p.Postmaster])] = "postmaster"
		}
		var backends map[int]Backend
		out := map[int]string{}
		for _, pid := range tree {
			k := keyOf(procs[pid])
			if _, ok := named[k]; !ok && backends == nil {
				var err error
				if backends, err = activity(ctx, p.Conn); err != nil {
					return nil, err
				}
			}
			if _, ok := named[k]; !ok {
				if b, listed := backends[pid]; listed {
					named[k] = label(b)
				} else if unlisted[k] {
					// Unlisted twice: no backend (a new one is listed once it has started).
					named[k] = "other"
				} else {
					unlisted[k] = true
				}
			}
			if name, ok := named[k]; ok {
				out[pid] = p.Prefix + ": " + name
			}
		}
		return out, nil
	}
}

func activity(ctx context.Context, conn Querier) (map[int]Backend, error) {
	rows, err := conn.Query(ctx, `SELECT pid, coalesce(backend_type, ''), coalesce(application_name, '') FROM pg_stat_activity`)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_activity: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Backend])
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_activity: %w", err)
	}
	out := make(map[int]Backend, len(list))
	for _, b := range list {
		out[b.PID] = b
	}
	return out, nil
}

// PostmasterOf is the PID of the postmaster of conn's server, which must run on this
// machine: the parent of conn's backend.
func PostmasterOf(ctx context.Context, conn *pgx.Conn) (int, error) {
	var pid int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		return 0, fmt.Errorf("backend PID: %w", err)
	}
	st, err := ReadStat("/proc", pid)
	if err != nil {
		return 0, fmt.Errorf("backend %d of the server is not on this machine: %w", pid, err)
	}
	return st.PPID, nil
}
