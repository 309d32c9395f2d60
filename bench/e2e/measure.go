package main

import (
	"context"
	"fmt"
	"time"

	"github.com/pgfanout/pgfanout/bench/internal/procstat"
)

// work is what a run wrote: rows (the unit of its rates) and changes as pgfanout's capture
// counts them (a key move is two).
type work struct {
	rows, changes int64
}

// runResult is one measured run of one system.
type runResult struct {
	rows    int64
	writes  time.Duration // from the first statement until the last commit
	e2e     time.Duration // from the first statement until the replicas equal the source
	lag     time.Duration // from the last commit until then
	cpu     cpuUsage
	drain   time.Duration // backlog: from the resume until equal
	publish time.Duration // backlog, pgfanout: from the last commit until the change log was empty
}

func (r runResult) sourceRate() float64 { return rate(r.rows, r.writes) }
func (r runResult) e2eRate() float64    { return rate(r.rows, r.e2e) }

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// writeTimeout bounds a run's writes, so that a source that stops taking them fails the
// bench instead of hanging it (at scale 1 the longest run writes for a few minutes).
const writeTimeout = 30 * time.Minute

// measure runs write on sys's source and waits until the replicas equal it by probes,
// accounting the system's processes throughout.
func (b *bench) measure(ctx context.Context, sys system, probes []probe, write func(ctx context.Context) (work, error),
	extra ...procstat.Selector) (runResult, error) {
	defer b.release()
	if err := b.srv.checkpoint(ctx); err != nil {
		return runResult{}, err
	}
	tr, err := sys.begin(ctx)
	if err != nil {
		return runResult{}, err
	}
	cpu, err := startCPU(ctx, sys.scope(), extra...)
	if err != nil {
		return runResult{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	start := time.Now()
	w, err := write(wctx)
	end := time.Now()
	if err == nil {
		err = tr.committed(ctx, w.changes)
	}
	var equal time.Time
	if err == nil {
		equal, err = converge(ctx, sys, tr, probes, b.o.convergeTimeout(end.Sub(start)))
	}
	usage, cerr := cpu.stop()
	if err != nil {
		return runResult{}, err
	}
	if cerr != nil {
		return runResult{}, fmt.Errorf("CPU accounting: %w", cerr)
	}
	return runResult{rows: w.rows, writes: end.Sub(start), e2e: equal.Sub(start), lag: equal.Sub(end), cpu: usage}, nil
}

// settle writes something untimed (a reset, a setup) and waits until the replicas have it.
func (b *bench) settle(ctx context.Context, sys system, probes []probe, write func(ctx context.Context) (work, error)) error {
	tr, err := sys.begin(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	w, err := write(ctx)
	if err != nil {
		return err
	}
	if err := tr.committed(ctx, w.changes); err != nil {
		return err
	}
	_, err = converge(ctx, sys, tr, probes, b.o.convergeTimeout(time.Since(start)))
	return err
}
