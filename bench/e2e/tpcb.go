package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/bench/internal/checksum"
	"github.com/pgfanout/pgfanout/bench/internal/cluster"
	"github.com/pgfanout/pgfanout/bench/internal/pgbench"
)

// Sizes at scale 1, from the issue.
const (
	tpcbScale1   = 10
	tpcbFor1     = 30 * time.Second
	tpcbHistory1 = 1_000_000
)

// tpcbCell is one regime of the TPC-B phase.
type tpcbCell struct {
	name      string
	clients   int
	slowFlush bool // commit_delay=1000, commit_siblings=0 on the source: a 1 ms WAL flush
	history   bool // pgbench_history starts with rows (its baseline is the same regime's without)
}

var tpcbCells = []tpcbCell{
	{name: "4 clients, fast commits", clients: 4},
	{name: "16 clients, 1 ms WAL flush", clients: 16, slowFlush: true},
	{name: "4 clients, fast commits, pgbench_history preloaded", clients: 4, history: true},
}

// tpcbRun is one system in one cell.
type tpcbRun struct {
	base, repl pgbench.Result
	run        runResult // lag: from pgbench's end until the replica equals the source
	deadlocks  int       // pgfanout: SQLSTATE 40P01 in the replicator's log
	procs      []stoppedProc
}

type tpcbResult struct {
	cell tpcbCell
	runs map[string]tpcbRun // by system
}

// tpcbSetup is what the phase needs of one system: its clusters and a pipeline factory.
type tpcbSetup struct {
	name     string
	src, rep *cluster.Postgres
	pipe     func(ctx context.Context, db string) (system, error)
}

func (b *bench) tpcbSystems() []tpcbSetup {
	tables := make([]string, len(pgbench.Tables))
	for i, t := range pgbench.Tables {
		tables[i] = pgx.Identifier{"public", t}.Sanitize()
	}
	return []tpcbSetup{
		{"pgfanout", b.srv.fanSrc, b.srv.fanRep, func(ctx context.Context, db string) (system, error) {
			return newFanPipe(ctx, b.srv, db, db, db, tables)
		}},
		{"native", b.srv.natSrc, b.srv.natSub, func(ctx context.Context, db string) (system, error) {
			return newNatPipe(ctx, b.srv, db, db, pgbench.Tables)
		}},
	}
}

// tpcbProbes compare the balances of accounts, tellers and branches, and the history's
// count and sum of deltas (it has no key to compare rows by).
func tpcbProbes() []probe {
	spec := func(table string, cols ...string) probe {
		return tableProbe(checksum.Spec{Table: pgx.Identifier{"public", table}, Columns: cols})
	}
	return []probe{
		spec("pgbench_accounts", "aid", "abalance"), spec("pgbench_tellers", "tid", "tbalance"),
		spec("pgbench_branches", "bid", "bbalance"),
		queryProbe("pgbench_history", `SELECT count(*) || ' rows, sum(delta) ' || coalesce(sum(delta), 0) FROM pgbench_history`),
	}
}

// phaseTPCB runs pgbench's built-in script in each cell, for each system first on an
// untracked copy of the tables (the baseline), then replicated, each on a fresh copy of the
// same template, so that every run starts from the same rows.
func (b *bench) phaseTPCB(ctx context.Context) error {
	fmt.Printf("\n== phase tpcb (%s since start)\n", time.Since(b.began).Round(time.Second))
	scale, hist := b.o.n(tpcbScale1, 1), b.o.n(tpcbHistory1, minRows)
	dur := max(b.o.d(tpcbFor1), minRunLength)
	systems := b.tpcbSystems()
	for _, s := range systems {
		if err := b.tpcbTemplates(ctx, s, scale, hist); err != nil {
			return fmt.Errorf("%s TPC-B templates: %w", s.name, err)
		}
	}
	for ci, cell := range tpcbCells {
		res := tpcbResult{cell: cell, runs: map[string]tpcbRun{}}
		for _, s := range systems {
			r, err := b.tpcbCell(ctx, s, ci, cell, dur)
			if err != nil {
				return fmt.Errorf("%s TPC-B, %s: %w", s.name, cell.name, err)
			}
			if cell.history {
				r.base = b.res.tpcb[0].runs[s.name].base
			}
			res.runs[s.name] = r
			fmt.Printf("%-8s TPC-B %-50s untracked %7.0f tps, replicated %7.0f tps (%.2f×), equal %.2f s after, %d deadlocks\n",
				s.name, cell.name, r.base.TPS, r.repl.TPS, r.repl.TPS/r.base.TPS, r.run.lag.Seconds(), r.deadlocks)
		}
		b.res.tpcb = append(b.res.tpcb, res)
	}
	return nil
}

func (b *bench) tpcbCell(ctx context.Context, s tpcbSetup, ci int, cell tpcbCell, dur time.Duration) (tpcbRun, error) {
	var r tpcbRun
	if err := setFlush(ctx, s.src, cell.slowFlush); err != nil {
		return r, err
	}
	defer func() { _ = setFlush(context.Background(), s.src, false) }()
	tmpl := "tpcb_tmpl"
	if cell.history {
		tmpl = "tpcb_hist_tmpl"
	} else {
		base, err := b.tpcbBaseline(ctx, s, tmpl, cell, dur)
		if err != nil {
			return r, err
		}
		r.base = base
	}
	db := fmt.Sprintf("tpcb%d", ci+1)
	if err := createDB(ctx, s.src, db, tmpl); err != nil {
		return r, err
	}
	defer func() { _ = dropDB(context.Background(), s.src, db) }()
	if err := createDB(ctx, s.rep, db, tmpl); err != nil {
		return r, err
	}
	defer func() { _ = dropDB(context.Background(), s.rep, db) }()
	sys, err := s.pipe(ctx, db)
	if err != nil {
		return r, err
	}
	pid := &pidSelector{label: s.name + ": pgbench"}
	r.run, err = b.measure(ctx, sys, tpcbProbes(), func(ctx context.Context) (work, error) {
		res, err := pgbench.Run{Bin: b.srv.pgbench, URL: sys.sourceURL(), Clients: cell.clients, Duration: dur,
			Started: func(p int) { pid.pid.Store(int64(p)) }}.Run(ctx)
		r.repl = res
		return work{rows: res.Transactions, changes: res.Transactions * pgbench.ChangesPerTransaction}, err
	}, pid.selector())
	sys.close(ctx)
	if fan, ok := sys.(*fanPipe); ok {
		r.procs = fan.stopped
		for _, p := range fan.stopped {
			r.deadlocks += p.deadlocks
		}
	}
	return r, err
}

// tpcbBaseline runs pgbench on an untracked copy of the template on the same source cluster.
func (b *bench) tpcbBaseline(ctx context.Context, s tpcbSetup, tmpl string, cell tpcbCell, dur time.Duration) (pgbench.Result, error) {
	const db = "tpcb_base"
	if err := createDB(ctx, s.src, db, tmpl); err != nil {
		return pgbench.Result{}, err
	}
	defer func() { _ = dropDB(context.Background(), s.src, db) }()
	if err := b.srv.checkpoint(ctx); err != nil {
		return pgbench.Result{}, err
	}
	return pgbench.Run{Bin: b.srv.pgbench, URL: s.src.URL(db), Clients: cell.clients, Duration: dur}.Run(ctx)
}
