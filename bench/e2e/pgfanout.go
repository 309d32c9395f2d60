package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/pgfanout/pgfanout/bench/internal/procstat"
	"github.com/pgfanout/pgfanout/internal/proctest"
)

// fanPipe is pgfanout end to end: a source database with its tables tracked, a publisher,
// the private broker, and replica databases each with its queue and replicator processes.
type fanPipe struct {
	srv      *servers
	srcURL   string
	exchange string
	pub      *fanProc
	mu       sync.Mutex // guards reps' process lists, which the CPU sampler reads
	reps     []*fanReplica
	stopped  []stoppedProc // processes that have exited, for the footprint report
	paused   int           // replicators pause stopped
}

type fanReplica struct {
	db, url, name string // database, URL, replica (queue) name
	procs         []*fanProc
	started       int // processes started so far, to number them
}

type fanProc struct {
	*proctest.Proc
	addr  string
	label string // "publisher", "replicator rep1 #2"
}

// stoppedProc is what the report keeps of a process that exited: its peak resident memory
// and the deadlocks its log reported.
type stoppedProc struct {
	label     string
	hwm       int64
	deadlocks int
}

// newFanPipe installs the capture in srcDB (existing, with its tables), tracks tables,
// declares the queue of replica database repDB (existing, with the same tables) and starts
// the publisher and one replicator. exchange keeps pipelines on the shared node apart.
func newFanPipe(ctx context.Context, srv *servers, srcDB, repDB, exchange string, tables []string) (*fanPipe, error) {
	p := &fanPipe{srv: srv, srcURL: srv.fanSrc.URL(srcDB), exchange: exchange}
	if out, err := exec.CommandContext(ctx, srv.publisher, "migrate", "--source-url", p.srcURL).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("publisher migrate: %w: %s", err, out)
	}
	conn, err := connect(ctx, p.srcURL, controlApp)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	for _, t := range tables {
		if _, err := conn.Exec(ctx, `SELECT pgfanout.track($1)`, t); err != nil {
			return nil, fmt.Errorf("track %s: %w", t, err)
		}
	}
	if err := p.addReplicaDB(ctx, repDB); err != nil {
		p.close(ctx)
		return nil, err
	}
	if p.pub, err = p.start(ctx, "publisher", srv.publisher, "--source-url", p.srcURL, "--amqp-url", srv.rabbit.URL(),
		"--exchange", exchange, "--http-addr", "127.0.0.1:0"); err != nil {
		p.close(ctx)
		return nil, err
	}
	return p, nil
}

func (p *fanPipe) name() string      { return "pgfanout" }
func (p *fanPipe) sourceURL() string { return p.srcURL }

func (p *fanPipe) replicaURLs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.reps {
		out = append(out, r.url)
	}
	return out
}

// addReplicaDB declares the queue of an existing replica database and starts its replicator.
func (p *fanPipe) addReplicaDB(ctx context.Context, db string) error {
	r := &fanReplica{db: db, url: p.srv.fanRep.URL(db), name: db}
	if out, err := exec.CommandContext(ctx, p.srv.replicator, append([]string{"declare"}, p.replicatorArgs(r)...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("replicator declare %s: %w: %s", db, err, out)
	}
	p.mu.Lock()
	p.reps = append(p.reps, r)
	p.mu.Unlock()
	return p.startReplicator(ctx, r)
}

func (p *fanPipe) replicatorArgs(r *fanReplica) []string {
	return []string{"--replica-url", r.url, "--amqp-url", p.srv.rabbit.URL(), "--exchange", p.exchange,
		"--replica-name", r.name, "--http-addr", "127.0.0.1:0"}
}

func (p *fanPipe) startReplicator(ctx context.Context, r *fanReplica) error {
	r.started++
	label := fmt.Sprintf("replicator %s #%d", r.db, r.started)
	proc, err := p.start(ctx, label, p.srv.replicator, p.replicatorArgs(r)...)
	if err != nil {
		return err
	}
	p.mu.Lock()
	r.procs = append(r.procs, proc)
	p.mu.Unlock()
	return nil
}

// start runs a program and waits until it is ready (/readyz), so that no measurement
// includes a start-up.
func (p *fanPipe) start(ctx context.Context, label, bin string, args ...string) (*fanProc, error) {
	proc, err := proctest.Start(bin, args...)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", label, err)
	}
	addr, err := proc.Addr(30 * time.Second)
	if err != nil {
		proc.Kill()
		return nil, fmt.Errorf("%s did not start: %w\n%s", label, err, proc.Output())
	}
	f := &fanProc{Proc: proc, addr: addr, label: label}
	for deadline := time.Now().Add(time.Minute); !ready(addr); {
		if time.Now().After(deadline) || !proc.Running() || ctx.Err() != nil {
			p.stop(f)
			return nil, fmt.Errorf("%s not ready within a minute\n%s", label, proc.Output())
		}
		time.Sleep(50 * time.Millisecond) // readiness poll
	}
	return f, nil
}

func ready(addr string) bool {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop ends a process with SIGTERM, keeping its peak memory and deadlock count.
func (p *fanPipe) stop(f *fanProc) {
	var hwm int64
	if m, err := procstat.ReadMemory("/proc", f.Pid()); err == nil {
		hwm = m.HWM
	}
	_ = f.Terminate(15 * time.Second)
	p.mu.Lock()
	p.stopped = append(p.stopped, stoppedProc{label: f.label, hwm: hwm, deadlocks: deadlocks(f.Output())})
	p.mu.Unlock()
}

// deadlocks counts the deadlocks (SQLSTATE 40P01) a replicator's log reported.
func deadlocks(log string) int { return strings.Count(log, "40P01") }

// setProcesses runs n replicator processes on the first replica.
func (p *fanPipe) setProcesses(ctx context.Context, n int) error {
	r := p.reps[0]
	for len(r.procs) < n {
		if err := p.startReplicator(ctx, r); err != nil {
			return err
		}
	}
	for len(r.procs) > n {
		last := r.procs[len(r.procs)-1]
		p.mu.Lock()
		r.procs = r.procs[:len(r.procs)-1]
		p.mu.Unlock()
		p.stop(last)
	}
	return nil
}

// pause stops the first replica's replicators; resume starts as many again.
func (p *fanPipe) pause(context.Context) error {
	r := p.reps[0]
	p.mu.Lock()
	procs := r.procs
	r.procs = nil
	p.mu.Unlock()
	for _, f := range procs {
		p.stop(f)
	}
	p.paused = len(procs)
	return nil
}
