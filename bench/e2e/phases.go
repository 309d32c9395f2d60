package main

import (
	"context"
	"fmt"
	"time"
)

// Sizes at scale 1, from the issue.
const (
	loadRows1    = 200_000
	keyMoves1    = 20_000
	latencyFor1  = 60 * time.Second
	latencyRate  = 2000 // changes/s, not scaled: it is the regime measured
	minRows      = 1000
	minKeyMoves  = 100
	minRunLength = time.Second
)

// phaseChanges: load, updates, key moves, deletes, each timed until the replica equals the
// source. Key moves run before the deletes, which leave no row to move.
func (b *bench) phaseChanges(ctx context.Context) error {
	n, moves := b.o.n(loadRows1, minRows), b.o.n(keyMoves1, minKeyMoves)
	steps := []struct {
		name    string
		prepare func(ctx context.Context, url string) (prepared, error)
	}{
		{"load", func(ctx context.Context, url string) (prepared, error) { return b.loadRows(ctx, url, n) }},
		{"updates", func(ctx context.Context, url string) (prepared, error) { return b.updateRows(ctx, url, n) }},
		{"key moves", func(ctx context.Context, url string) (prepared, error) { return b.moveKeys(ctx, url, moves) }},
		{"deletes", b.deleteAll},
	}
	for i, st := range steps {
		for _, sys := range b.systems() {
			if i == 0 {
				if err := b.reset(ctx, sys); err != nil {
					return err
				}
			}
			write, err := st.prepare(ctx, sys.sourceURL())
			if err != nil {
				return fmt.Errorf("%s %s: %w", sys.name(), st.name, err)
			}
			res, err := b.measure(ctx, sys, []probe{benchProbe}, write)
			if err != nil {
				return fmt.Errorf("%s %s: %w", sys.name(), st.name, err)
			}
			b.res.changes.add(st.name, sys.name(), res)
			printRun(sys.name(), st.name, res)
		}
		if i == 0 {
			if err := b.footprintAt(ctx, "after the load"); err != nil {
				return err
			}
		}
	}
	return nil
}

func printRun(sys, step string, r runResult) {
	fmt.Printf("%-8s %-24s %8d rows  source %9.0f/s  end to end %9.0f/s  lag %6.2f s  CPU %6.2f s\n",
		sys, step, r.rows, r.sourceRate(), r.e2eRate(), r.lag.Seconds(), r.cpu.total(sys).Seconds())
}

// phaseFanout: the load with one replica, with three (pgfanout: three replica databases and
// replicators; native: three subscriptions), and (pgfanout) with three replicator processes
// sharing the one replica.
func (b *bench) phaseFanout(ctx context.Context) error {
	n := b.o.n(loadRows1, minRows)
	load := func(sys system, step string) error {
		write, err := b.loadRows(ctx, sys.sourceURL(), n)
		if err != nil {
			return err
		}
		res, err := b.measure(ctx, sys, []probe{benchProbe}, write)
		if err != nil {
			return fmt.Errorf("%s %s: %w", sys.name(), step, err)
		}
		b.res.fanout.add(step, sys.name(), res)
		printRun(sys.name(), step, res)
		return nil
	}
	for _, sys := range b.systems() {
		if err := b.reset(ctx, sys); err != nil {
			return err
		}
		if err := load(sys, "1 replica"); err != nil {
			return err
		}
	}
	for _, sys := range b.systems() {
		if err := b.reset(ctx, sys); err != nil {
			return err
		}
		for range 2 {
			if err := sys.addReplica(ctx, replicaDDL()); err != nil {
				return err
			}
		}
		err := load(sys, "3 replicas")
		if derr := sys.dropReplicas(ctx); err == nil {
			err = derr
		}
		if err != nil {
			return err
		}
	}
	if err := b.reset(ctx, b.fan); err != nil {
		return err
	}
	if err := b.fan.setProcesses(ctx, 3); err != nil {
		return err
	}
	err := load(b.fan, "3 replicator processes")
	if serr := b.fan.setProcesses(ctx, 1); err == nil {
		err = serr
	}
	return err
}

// phaseBacklog: the load written while the first replica does not apply (pgfanout: its
// replicators stopped; native: the subscription disabled), then the drain timed from the
// resume until the replica equals the source. pgfanout's publisher first empties the change
// log into the queue, so that the drain is the replicator's alone.
func (b *bench) phaseBacklog(ctx context.Context) error {
	n := b.o.n(loadRows1, minRows)
	for _, sys := range b.systems() {
		res, err := b.backlog(ctx, sys, n)
		if err != nil {
			return fmt.Errorf("%s backlog: %w", sys.name(), err)
		}
		b.res.backlog.add("load, then drain", sys.name(), res)
		printRun(sys.name(), "backlog", res)
		fmt.Printf("%-8s drain %.2f s (%.0f rows/s)\n", sys.name(), res.drain.Seconds(), rate(res.rows, res.drain))
	}
	return nil
}

func (b *bench) backlog(ctx context.Context, sys system, n int) (runResult, error) {
	if err := b.reset(ctx, sys); err != nil {
		return runResult{}, err
	}
	if err := b.srv.checkpoint(ctx); err != nil {
		return runResult{}, err
	}
	if err := sys.pause(ctx); err != nil {
		return runResult{}, err
	}
	tr, err := sys.begin(ctx)
	if err != nil {
		return runResult{}, err
	}
	write, err := b.loadRows(ctx, sys.sourceURL(), n)
	if err != nil {
		return runResult{}, err
	}
	defer b.release()
	cpu, err := startCPU(ctx, sys.scope())
	if err != nil {
		return runResult{}, err
	}
	defer cpu.close()
	start := time.Now()
	w, err := write(ctx)
	end := time.Now()
	if err != nil {
		return runResult{}, err
	}
	if err := tr.committed(ctx, w.changes); err != nil {
		return runResult{}, err
	}
	res := runResult{rows: w.rows, writes: end.Sub(start)}
	if fan, ok := sys.(*fanPipe); ok {
		if err := fan.drained(ctx, b.o.convergeTimeout(res.writes)); err != nil {
			return runResult{}, err
		}
		res.publish = time.Since(end)
	}
	resumed := time.Now()
	if err := sys.resume(ctx); err != nil {
		return runResult{}, err
	}
	equal, err := converge(ctx, sys, tr, []probe{benchProbe}, b.o.convergeTimeout(res.writes))
	if err != nil {
		return runResult{}, err
	}
	if res.cpu, err = cpu.stop(); err != nil {
		return runResult{}, err
	}
	res.e2e, res.lag, res.drain = equal.Sub(start), equal.Sub(end), equal.Sub(resumed)
	return res, nil
}
