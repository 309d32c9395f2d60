package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/localserver"
	"github.com/pgfanout/pgfanout/internal/pgadmin"
)

// TestChaos runs the whole pipeline through a seeded schedule of faults under a steady
// workload, then requires every replica to equal the source (checksums per table and
// `replicator verify`), no dead letters, and every program to shut down cleanly. The report
// (seed, faults by kind, changes, duplicates, convergence) is logged; -v shows it.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos suite runs for minutes")
	}
	cfg, err := loadConfig()
	require.NoError(t, err)
	sched := plan(cfg.seed, cfg.duration)
	t.Logf("chaos: seed %d, %s of faults (%d planned); replay: %s", cfg.seed, cfg.duration, len(sched), cfg.replay())
	t.Logf("schedule:\n%s", sched)

	r := newRun(t, cfg)
	r.setup()
	r.chaos(sched)
	r.converge()
	r.finish()
	r.report()
	require.Empty(t, r.failures, "the chaos run failed (seed %d; replay: %s; logs in %s)", cfg.seed, cfg.replay(), r.dir)
}

// run is one chaos run: its servers, programs, workload and what it measured.
type run struct {
	t     *testing.T
	cfg   config
	dir   string
	rig   *rig
	progs *programs
	work  *workload
	probe *probe
	inj   *injector

	stopWork    context.CancelFunc
	stopMonitor context.CancelFunc
	background  sync.WaitGroup // workload and probe
	monitoring  sync.WaitGroup
	chaosStart  time.Time
	chaosEnd    time.Time
	writesEnd   time.Time
	lastFault   event
	conv        convergence
	mu          sync.Mutex
	failures    []string // reasons the run fails, reported at the end
	verifyOut   map[string]string
	deadLetters map[string]int
}

func newRun(t *testing.T, cfg config) *run {
	r := &run{t: t, cfg: cfg, dir: cfg.logs, verifyOut: map[string]string{}}
	if r.dir == "" {
		dir, err := os.MkdirTemp("", "pgfanout-chaos-")
		require.NoError(t, err)
		r.dir = dir
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("logs and data kept in %s", dir)
				return
			}
			_ = os.RemoveAll(dir)
		})
	}
	require.NoError(t, os.MkdirAll(filepath.Join(r.dir, "logs"), 0o755))
	return r
}

// fail records a reason the run fails without stopping it, so the report still comes.
func (r *run) fail(format string, args ...any) {
	r.t.Helper()
	msg := fmt.Sprintf(format, args...)
	r.t.Error(msg)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, msg)
}

// setup starts the servers, installs the capture and the tables, starts the five programs,
// the workload and the lag probe, and waits until both replicas copied the source and keep up.
func (r *run) setup() {
	t := r.t
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	rg, err := startRig(ctx, r.dir)
	if errors.Is(err, localserver.ErrNoPostgres) {
		t.Skip(err)
	}
	require.NoError(t, err)
	r.rig = rg
	t.Cleanup(rg.close)
	t.Logf("setup: servers up in %s", time.Since(start).Round(100*time.Millisecond))

	src := rg.source.url()
	out, err := runCmd(ctx, bins.publisher, "migrate", "--source-url", src)
	require.NoError(t, err, "publisher migrate: %s", out)
	require.NoError(t, pgadmin.Exec(ctx, src, schemaDDL))
	require.NoError(t, pgadmin.Exec(ctx, src, `SELECT pgfanout.track(t) FROM unnest($1::text[]) t`, trackedTables()))
	require.NoError(t, pgadmin.Exec(ctx, src, captureCounter))
	for _, rep := range []*pgServer{rg.repA, rg.repB} {
		require.NoError(t, pgadmin.Exec(ctx, rep.url(), schemaDDL))
	}
	// The queues exist before the first write, as docs/replicator.md asks.
	for name, rep := range map[string]*pgServer{"a": rg.repA, "b": rg.repB} {
		out, err := runCmd(ctx, bins.replicator, "declare", "--replica-url", rep.url(), "--amqp-url", rg.mq.node.URL(),
			"--replica-name", name)
		require.NoError(t, err, "replicator declare: %s", out)
	}
	require.NoError(t, pgadmin.Exec(ctx, src, seedRows))

	r.progs = newPrograms(rg, filepath.Join(r.dir, "logs"))
	t.Cleanup(func() {
		for _, p := range r.progs.all() {
			p.kill()
		}
	})
	for _, p := range r.progs.all() {
		require.NoError(t, p.start())
	}
	r.startBackground()
	t.Logf("setup: programs started %s in", time.Since(start).Round(100*time.Millisecond))
	err = until(ctx, 3*time.Minute, func() bool {
		s := r.probe.last()
		if !s.ok[0] || !s.ok[1] || s.lag[0] >= healthyLag || s.lag[1] >= healthyLag {
			return false
		}
		for _, rep := range []*pgServer{rg.repA, rg.repB} {
			if done, _, err := copiesDone(ctx, rep.url()); err != nil || !done {
				return false
			}
		}
		return true
	})
	require.NoError(t, err, "both replicas copied and keeping up before the first fault")
	t.Logf("setup: %s (servers, capture, programs, bootstrap of both replicas)", time.Since(start).Round(100*time.Millisecond))
}

// startBackground starts the workload, the lag probe and the programs' monitor.
func (r *run) startBackground() {
	ctx, stop := context.WithCancel(context.Background())
	mctx, stopMonitor := context.WithCancel(context.Background())
	r.stopWork, r.stopMonitor = stop, stopMonitor
	r.work = &workload{url: r.rig.source.url(), seed: r.cfg.seed, length: r.cfg.duration + time.Minute}
	r.probe = &probe{source: r.rig.source.url(), replica: [2]string{r.rig.repA.url(), r.rig.repB.url()}}
	r.background.Go(func() { r.work.run(ctx, r.cfg.clients) })
	r.background.Go(func() { r.probe.write(ctx) })
	r.monitoring.Go(func() { r.probe.read(mctx) }) // until the end: the lag of the convergence too
	r.monitoring.Go(func() { r.monitor(mctx) })
	r.t.Cleanup(func() { stop(); stopMonitor(); r.background.Wait(); r.monitoring.Wait() })
}

// monitor scrapes every program each second and restarts one that exited by itself.
func (r *run) monitor(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, p := range r.progs.all() {
			p.watch()
		}
	}
}

// chaos runs the schedule, logging progress every 30 s, then stops the writes.
func (r *run) chaos(s schedule) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.chaosStart = time.Now()
	r.inj = &injector{rig: r.rig, progs: r.progs, begin: r.chaosStart, end: r.cfg.duration}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.inj.run(ctx, s)
	}()
	tick := time.NewTicker(30 * time.Second) // progress lines
	defer tick.Stop()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-tick.C:
			r.progress()
		}
	}
	r.chaosEnd = time.Now()
	r.stopWork()
	r.background.Wait()
	r.writesEnd = time.Now()
	r.t.Logf("chaos phase: %s to %s; the writes stopped at %s", r.chaosStart.Format(time.TimeOnly),
		r.chaosEnd.Format(time.TimeOnly), r.writesEnd.Format(time.TimeOnly))
	for _, e := range r.inj.ran() {
		if e.skipped == "" && e.end.After(r.lastFault.end) {
			r.lastFault = e
		}
		if e.err != nil {
			r.fail("fault %s: %v", e.fault, e.err)
		}
	}
}

func (r *run) progress() {
	evs := r.inj.ran()
	s := r.probe.last()
	r.t.Logf("+%s: %d faults injected, %d transactions, %d changes by the clients; lag a %s, b %s",
		time.Since(r.chaosStart).Round(time.Second), len(evs), r.work.stats.tx.Load(), r.work.stats.changes.Load(),
		lagText(s, 0), lagText(s, 1))
}

func lagText(s sample, i int) string {
	if !s.ok[i] {
		return "unreachable"
	}
	return s.lag[i].Round(100 * time.Millisecond).String()
}
