package chaos

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// convergence is when, after the chaos, each part of the pipeline had caught up (zero:
// never seen).
type convergence struct {
	from       time.Time // the later of the last fault's end and the last write
	logEmpty   time.Time // the source's change log
	queueEmpty [2]time.Time
	equal      [2]time.Time         // replica a, b: every table's checksum equal to the source's
	ready      map[string]time.Time // when each program (the leader for the publishers) was ready again
	source     map[string]string
	last       [2]map[string]string
}

// both is when both replicas were equal (zero if one never was).
func (c convergence) both() time.Time {
	if c.equal[0].IsZero() || c.equal[1].IsZero() {
		return time.Time{}
	}
	return later(c.equal[0], c.equal[1])
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// converge waits until both replicas equal the source, polling every 500 ms the change log,
// the queues and the replicas' checksums, then checks the copies, runs `replicator verify`
// on both and counts the dead letters.
func (r *run) converge() {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.converge+3*time.Minute)
	defer cancel()
	c := &r.conv
	c.from = later(r.lastFault.end, r.writesEnd)
	src := r.rig.source.url()
	var err error
	if c.source, err = checksums(ctx, src); err != nil {
		r.fail("source checksums: %v", err)
		return
	}
	reps := []*pgServer{r.rig.repA, r.rig.repB}
	deadline := c.from.Add(r.cfg.converge)
	c.ready = map[string]time.Time{}
	watches := []watch{{"leader", r.progs.leading}}
	for _, n := range []string{"a1", "a2", "b"} {
		watches = append(watches, watch{r.progs.replicators[n].name, r.progs.replicators[n].ready})
	}
	for c.both().IsZero() && time.Now().Before(deadline) {
		now := time.Now()
		for _, w := range watches {
			if _, ok := c.ready[w.name]; !ok && w.ready() {
				c.ready[w.name] = now
			}
		}
		if c.logEmpty.IsZero() {
			if n, err := backlog(ctx, src); err == nil && n == 0 {
				c.logEmpty = now
			}
		}
		if q, err := queues(r.rig.mq.node.URL(), "pgfanout.a", "pgfanout.b"); err == nil {
			for i, name := range []string{"pgfanout.a", "pgfanout.b"} {
				if c.queueEmpty[i].IsZero() && q[name] == 0 {
					c.queueEmpty[i] = now
				}
			}
		}
		for i, rep := range reps {
			if !c.equal[i].IsZero() {
				continue
			}
			if sums, err := checksums(ctx, rep.url()); err == nil {
				c.last[i] = sums
				if len(differing(c.source, sums)) == 0 {
					c.equal[i] = now
				}
			}
		}
		_ = pause(ctx, 500*time.Millisecond) // polling interval
	}
	for i, rep := range reps {
		if c.equal[i].IsZero() {
			r.fail("%s not equal to the source %s after the chaos: %s", rep.name, r.cfg.converge,
				strings.Join(differing(c.source, c.last[i]), "; "))
		}
	}
	r.checkEnd(ctx)
}

// checkEnd checks what must hold once the replicas are equal: the change log drained, every
// copy done, `replicator verify` equal on both replicas, no dead letters.
func (r *run) checkEnd(ctx context.Context) {
	src := r.rig.source.url()
	if err := until(ctx, time.Minute, func() bool { n, err := backlog(ctx, src); return err == nil && n == 0 }); err != nil {
		r.fail("the source's change log is not empty: %v", err)
	}
	reps := map[string]*pgServer{"a": r.rig.repA, "b": r.rig.repB}
	for name, rep := range reps {
		var pending string
		err := until(ctx, 2*time.Minute, func() bool {
			done, p, err := copiesDone(ctx, rep.url())
			pending = p
			return err == nil && done
		})
		if err != nil {
			r.fail("replica %s: copies not done (%s): %v", name, pending, err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for name, rep := range reps {
		wg.Go(func() {
			out, code, err := verify(ctx, src, rep.url())
			mu.Lock()
			defer mu.Unlock()
			r.verifyOut[name] = strings.TrimSpace(out)
			if err != nil || code != 0 {
				r.fail("replicator verify, replica %s: exit %d (%v):\n%s", name, code, err, out)
			}
		})
	}
	wg.Wait()
	dead, err := queues(r.rig.mq.node.URL(), "pgfanout.a.dead", "pgfanout.b.dead")
	if err != nil {
		r.fail("dead-letter queues: %v", err)
	}
	r.deadLetters = dead
	for q, n := range dead {
		if n > 0 {
			r.fail("%d dead letters in %s", n, q)
		}
	}
}

// finish stops the monitor and shuts every program down with SIGTERM: each must exit 0
// within 10 s (docs: Shutdown), chaos or not.
func (r *run) finish() {
	r.stopMonitor()
	r.monitoring.Wait()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, p := range r.progs.all() {
		wg.Go(func() {
			if err := p.terminate(10 * time.Second); err != nil {
				mu.Lock()
				defer mu.Unlock()
				r.fail("shutdown: %v", err)
			}
		})
	}
	wg.Wait()
	for _, p := range r.progs.all() {
		for _, e := range p.exits {
			r.fail("%s", e)
		}
	}
	if u := r.work.stats.unexpected; len(u) > 0 {
		r.fail("the workload got errors no fault explains:\n%s", strings.Join(u, "\n"))
	}
}

// runCmd runs a program to completion and returns its output.
func runCmd(ctx context.Context, bin string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w", bin, strings.Join(args, " "), err)
	}
	return string(out), nil
}
