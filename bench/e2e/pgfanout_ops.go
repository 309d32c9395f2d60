package main

import (
	"context"
	"fmt"
	"time"

	"github.com/pgfanout/pgfanout/bench/internal/promhist"
	"github.com/pgfanout/pgfanout/internal/proctest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func (p *fanPipe) resume(ctx context.Context) error {
	for range p.paused {
		if err := p.startReplicator(ctx, p.reps[0]); err != nil {
			return err
		}
	}
	p.paused = 0
	return nil
}

// drained waits until the publisher has emptied the change log: everything written is in
// the queues.
func (p *fanPipe) drained(ctx context.Context, timeout time.Duration) error {
	conn, err := connect(ctx, p.srcURL, controlApp)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for deadline := time.Now().Add(timeout); ; {
		var left int64
		if err := conn.QueryRow(ctx, `SELECT coalesce(changes, 0) FROM pgfanout.backlog`).Scan(&left); err != nil {
			return fmt.Errorf("read the change log backlog: %w", err)
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the publisher left %d changes in the change log after %s\n%s", left, timeout, p.pub.Output())
		}
		time.Sleep(gatePoll) // polling the backlog view
	}
}

// addReplica creates a replica database with ddl and feeds it from now on.
func (p *fanPipe) addReplica(ctx context.Context, ddl []string) error {
	db := fmt.Sprintf("rep%d", len(p.reps)+1)
	if err := createDB(ctx, p.srv.fanRep, db, "", ddl...); err != nil {
		return err
	}
	return p.addReplicaDB(ctx, db)
}

// dropReplicas stops the replicators of all but the first replica, deletes their queues and
// drops their databases.
func (p *fanPipe) dropReplicas(ctx context.Context) error {
	p.mu.Lock()
	extra := p.reps[1:]
	p.reps = p.reps[:1]
	p.mu.Unlock()
	for _, r := range extra {
		for _, f := range r.procs {
			p.stop(f)
		}
		testenv.DeleteAMQP(p.srv.rabbit.URL(), nil, []string{"pgfanout." + r.name, "pgfanout." + r.name + ".dead"})
		if err := dropDB(ctx, p.srv.fanRep, r.db); err != nil {
			return err
		}
	}
	return nil
}

// close stops every process and deletes the pipeline's exchange and queues.
func (p *fanPipe) close(ctx context.Context) {
	p.mu.Lock()
	reps := p.reps
	p.mu.Unlock()
	var queues []string
	for _, r := range reps {
		for _, f := range r.procs {
			p.stop(f)
		}
		r.procs = nil
		queues = append(queues, "pgfanout."+r.name, "pgfanout."+r.name+".dead")
	}
	if p.pub != nil {
		p.stop(p.pub)
		p.pub = nil
	}
	testenv.DeleteAMQP(p.srv.rabbit.URL(), []string{p.exchange, p.exchange + ".dead"}, queues)
}

// running lists the processes now running, publisher first.
func (p *fanPipe) running() []*fanProc {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*fanProc
	if p.pub != nil {
		out = append(out, p.pub)
	}
	for _, r := range p.reps {
		out = append(out, r.procs...)
	}
	return out
}

func (p *fanPipe) scope() cpuScope {
	procs := func() map[int]string {
		out := map[int]string{}
		for _, f := range p.running() {
			label := "pgfanout: replicator"
			if f == p.pub {
				label = "pgfanout: publisher"
			}
			out[f.Pid()] = label
		}
		return out
	}
	trees := map[string]int{}
	if pid, err := p.srv.rabbit.PID(); err == nil {
		trees["pgfanout: RabbitMQ"] = pid
	}
	return cpuScope{
		clusters: []scopeCluster{{"pgfanout: source", p.srv.fanSrc}, {"pgfanout: replica", p.srv.fanRep}},
		procs:    procs, trees: trees,
	}
}

const appliedMetric = "pgfanout_replicator_applied_changes_total"

// fanTracker counts the changes each replica's replicators applied since begin.
type fanTracker struct {
	p    *fanPipe
	base map[*fanProc]float64
	want int64
}

func (p *fanPipe) begin(context.Context) (tracker, error) {
	t := &fanTracker{p: p, base: map[*fanProc]float64{}}
	for _, f := range p.running() {
		if f == p.pub {
			continue
		}
		v, err := proctest.Counter(f.addr, appliedMetric)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.label, err)
		}
		t.base[f] = v
	}
	return t, nil
}

func (t *fanTracker) committed(_ context.Context, changes int64) error {
	t.want = changes
	return nil
}

// applied: the replica's replicators applied at least the changes written (processes started
// since begin count from zero). Redeliveries count twice, hence only probably.
func (t *fanTracker) applied(_ context.Context, i int) (bool, error) {
	t.p.mu.Lock()
	procs := append([]*fanProc(nil), t.p.reps[i].procs...)
	t.p.mu.Unlock()
	total := 0.0
	for _, f := range procs {
		v, err := proctest.Counter(f.addr, appliedMetric)
		if err != nil {
			return false, fmt.Errorf("%s: %w", f.label, err)
		}
		total += v - t.base[f]
	}
	return total >= float64(t.want), nil
}

const lagMetric = "pgfanout_replicator_lag_seconds"

// lagHistogram is the lag histogram of the first replica's replicators, added up.
func (p *fanPipe) lagHistogram() (promhist.Histogram, error) {
	p.mu.Lock()
	procs := append([]*fanProc(nil), p.reps[0].procs...)
	p.mu.Unlock()
	var sum promhist.Histogram
	for _, f := range procs {
		h, err := promhist.Fetch(f.addr, lagMetric)
		if err != nil {
			return promhist.Histogram{}, fmt.Errorf("%s: %w", f.label, err)
		}
		if sum, err = sum.Add(h); err != nil {
			return promhist.Histogram{}, err
		}
	}
	return sum, nil
}
