package main

import (
	"context"
	"fmt"
	"time"

	"github.com/pgfanout/pgfanout/bench/internal/cluster"
	"github.com/pgfanout/pgfanout/bench/internal/pgbench"
)

// tpcbTemplates makes, on both clusters of a system, the databases every TPC-B run copies:
// tpcb_tmpl (pgbench's tables at scale, and the native marker table) and tpcb_hist_tmpl (the
// same with hist rows in pgbench_history). pgbench generates the same rows on every server,
// and the history rows are a function of their number, so source and replica start equal.
func (b *bench) tpcbTemplates(ctx context.Context, s tpcbSetup, scale, hist int) error {
	for _, pg := range []*cluster.Postgres{s.src, s.rep} {
		if err := createDB(ctx, pg, "tpcb_tmpl", "", markerDDL); err != nil {
			return err
		}
		if err := pgbench.Init(ctx, b.srv.pgbench, pg.URL("tpcb_tmpl"), scale); err != nil {
			return err
		}
		if err := createDB(ctx, pg, "tpcb_hist_tmpl", "tpcb_tmpl"); err != nil {
			return err
		}
		if err := fillHistory(ctx, pg.URL("tpcb_hist_tmpl"), scale, hist); err != nil {
			return err
		}
	}
	return nil
}

func fillHistory(ctx context.Context, url string, scale, n int) error {
	conn, err := connect(ctx, url, controlApp)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO pgbench_history (tid, bid, aid, delta, mtime)
		SELECT 1 + g % ($2::int * 10), 1 + g % $2::int, 1 + g % ($2::int * 100000), g % 10001 - 5000,
		       timestamp '2026-01-01' + g * interval '1 millisecond'
		FROM generate_series(1, $1::bigint) g`, n, scale); err != nil {
		return fmt.Errorf("fill pgbench_history: %w", err)
	}
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE pgbench_history`); err != nil {
		return fmt.Errorf("vacuum pgbench_history: %w", err)
	}
	return nil
}

// setFlush sets the source cluster's commit regime: slow is a 1 ms WAL flush (commit_delay
// 1000 µs with no sibling needed), else the defaults. It returns once a new session sees it.
func setFlush(ctx context.Context, pg *cluster.Postgres, slow bool) error {
	stmts, want := []string{`ALTER SYSTEM RESET commit_delay`, `ALTER SYSTEM RESET commit_siblings`}, "0"
	if slow {
		stmts, want = []string{`ALTER SYSTEM SET commit_delay = 1000`, `ALTER SYSTEM SET commit_siblings = 0`}, "1000"
	}
	if err := execAll(ctx, pg.URL("postgres"), append(stmts, `SELECT pg_reload_conf()`)...); err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		got, err := settingOn(ctx, pg.URL("postgres"), "commit_delay")
		if err != nil {
			return err
		}
		if got == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("commit_delay is %s after the reload, want %s", got, want)
		}
		time.Sleep(50 * time.Millisecond) // the postmaster signals the reload to every process
	}
}
