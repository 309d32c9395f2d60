package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sourcegraph/conc/pool"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/bootstrap"
	"github.com/pgfanout/pgfanout/internal/cli"
	"github.com/pgfanout/pgfanout/internal/replicate"
)

// resync re-copies the selected tables into the replica and exits once each is copied (0)
// or failed (1), printing progress. The stream goes on meanwhile; running replicators given
// --source-url share the copy.
func resync(ctx context.Context, o *options, stderr io.Writer) error {
	cfg, log, err := o.setup(stderr)
	if err != nil {
		return err
	}
	if o.sourceURL == "" {
		return cli.Required("source-url")
	}
	// The queue first: no change may fall between the copy and the stream.
	if err := replicate.Declare(ctx, cfg, log); err != nil {
		return err
	}
	pc, err := apply.PoolConfig(o.replicaURL, o.liveness)
	if err != nil {
		return cli.UsageError{Msg: "--replica-url: " + err.Error()}
	}
	pc.MaxConns = int32(o.copyWorkers + 2)
	db, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("replica pool: %w", err)
	}
	defer db.Close()
	applier := apply.New(db)
	copier, err := bootstrap.New(bootstrap.Config{SourceURL: o.sourceURL, Workers: o.copyWorkers, Liveness: o.liveness,
		Match: func(s, t string) bool { return replicate.MatchAny(cfg.Tables, s, t) }, Name: "pgfanout-replicator resync",
		CreateTables: o.createTables, FollowDDL: o.followDDL},
		applier, log, nil)
	if err != nil {
		return err
	}
	tables, err := copier.Tracked(ctx)
	if err != nil {
		return err
	}
	if len(tables) == 0 {
		return fmt.Errorf("no tracked table of the source matches --tables %s", o.tables)
	}
	if err := copier.Resync(ctx, tables); err != nil {
		return err
	}
	wanted := map[string]bool{}
	for _, t := range tables {
		wanted[t.Schema+"."+t.Table] = true
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan struct{})
	close(ready)
	g := pool.New().WithErrors()
	g.Go(func() error { return copier.Run(runCtx, ready) })
	failed, err := watchResync(ctx, db, wanted, stderr, o.liveness.Timeout)
	stop()
	if werr := g.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("resync failed for %s", strings.Join(failed, "; "))
	}
	return nil
}

// watchResync prints the copy's progress every second until each wanted table is copied or
// failed; it returns the failures with their reasons.
func watchResync(ctx context.Context, db *pgxpool.Pool, wanted map[string]bool, out io.Writer, timeout time.Duration) ([]string, error) {
	line := cli.ProgressPrinter(out)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	started := time.Now()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		progress, err := bootstrap.ReadProgress(ctx, db, timeout)
		if err != nil {
			continue // the copier reports outages
		}
		var rows, estimate int64
		var chunks, done int
		var failed []string
		finished := true
		for _, p := range progress {
			name := p.Schema + "." + p.Table
			if !wanted[name] {
				continue
			}
			rows, estimate, chunks, done = rows+p.Rows, estimate+p.RowsEstimate, chunks+p.Chunks, done+p.ChunksDone
			switch p.State {
			case bootstrap.StateFailed:
				failed = append(failed, name+": "+p.Reason)
			case bootstrap.StateDone:
			default:
				finished = false
			}
		}
		rate := float64(rows-last) / time.Second.Seconds()
		last = rows
		line(fmt.Sprintf("resync: %d tables, %d/%d chunks, %d/~%d rows, %.0f rows/s, %s", len(wanted), done, chunks,
			rows, estimate, rate, time.Since(started).Round(time.Second)), finished)
		if finished {
			return failed, nil
		}
	}
}
