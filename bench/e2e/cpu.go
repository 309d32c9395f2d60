package main

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/bench/internal/procstat"
)

// Process roles, the rows of the CPU tables: "<system>: <role>". PostgreSQL's processes are
// named by what pg_stat_activity says of them (backendRole).
var roles = map[string][]string{
	"pgfanout": {"source: client backends", "source: publisher's backends", "source: other processes",
		"publisher", "RabbitMQ", "replicator", "replica: replicator's backends", "replica: other processes", "pgbench"},
	"native": {"source: client backends", "source: walsender", "source: other processes",
		"subscriber: apply worker", "subscriber: other processes", "pgbench"},
}

// backendRole names a PostgreSQL process for the CPU tables. The bench's own sessions
// (setup, markers, checksums, the sampler's queries) are "control", left out of the tables.
func backendRole(b procstat.Backend) string {
	app := b.Application
	switch {
	case b.Type == "client backend" && (app == clientApp || app == "pgbench"):
		return "client backends"
	case b.Type == "client backend" && strings.HasPrefix(app, "pgfanout-publisher"):
		return "publisher's backends"
	case b.Type == "client backend" && strings.HasPrefix(app, "pgfanout-replicator"):
		return "replicator's backends"
	case b.Type == "client backend" && app == controlApp:
		return "control"
	case b.Type == "walsender":
		return "walsender"
	case strings.HasPrefix(b.Type, "logical replication") && b.Type != "logical replication launcher":
		return "apply worker"
	}
	return "other processes"
}

// normalize folds the sampler's fixed labels for a server's postmaster and its unlisted
// processes into "other processes".
func normalize(label string) string {
	for _, s := range []string{": postmaster", ": other"} {
		if base, ok := strings.CutSuffix(label, s); ok {
			return base + ": other processes"
		}
	}
	return label
}

// uncancelled runs the sampler's pg_stat_activity queries to their end: Sampler.Stop cancels
// the sampling loop's context, and a query it interrupts would fail the whole accounting.
type uncancelled struct{ conn *pgx.Conn }

func (q uncancelled) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return q.conn.Query(context.WithoutCancel(ctx), sql, args...)
}

// cpuSampler accounts one system's processes during a measured run.
type cpuSampler struct {
	s     *procstat.Sampler
	conns []*pgx.Conn
}

// pidSelector accounts one process whose PID is known only later (pgbench, once started).
type pidSelector struct {
	label string
	pid   atomic.Int64
}

func (p *pidSelector) selector() procstat.Selector {
	return func(ctx context.Context, procs map[int]procstat.Stat) (map[int]string, error) {
		pid := int(p.pid.Load())
		if _, ok := procs[pid]; pid == 0 || !ok {
			return nil, nil
		}
		return map[int]string{pid: p.label}, nil
	}
}

func startCPU(ctx context.Context, sc cpuScope, extra ...procstat.Selector) (*cpuSampler, error) {
	c := &cpuSampler{}
	var sels []procstat.Selector
	for _, cl := range sc.clusters {
		conn, err := connect(ctx, cl.pg.URL("postgres"), controlApp)
		if err != nil {
			c.close()
			return nil, err
		}
		c.conns = append(c.conns, conn)
		pm, err := cl.pg.PostmasterPID()
		if err != nil {
			c.close()
			return nil, err
		}
		sels = append(sels, procstat.Postgres{Prefix: cl.prefix, Postmaster: pm, Conn: uncancelled{conn}, Label: backendRole}.Selector())
	}
	if sc.procs != nil {
		sels = append(sels, func(context.Context, map[int]procstat.Stat) (map[int]string, error) { return sc.procs(), nil })
	}
	for label, pid := range sc.trees {
		sels = append(sels, procstat.Tree(label, pid))
	}
	sels = append(sels, extra...)
	s, err := procstat.Start(ctx, procstat.Config{Selectors: sels, Interval: 250 * time.Millisecond})
	if err != nil {
		c.close()
		return nil, err
	}
	c.s = s
	return c, nil
}

func (c *cpuSampler) stop() (cpuUsage, error) {
	res, err := c.s.Stop()
	c.close()
	return foldUsage(res), err
}

func (c *cpuSampler) close() {
	for _, conn := range c.conns {
		_ = conn.Close(context.Background())
	}
	c.conns = nil
}

// cpuUsage is a run's accounting by role label ("pgfanout: replicator").
type cpuUsage struct {
	elapsed time.Duration
	byRole  map[string]procstat.Usage
}

func foldUsage(r procstat.Result) cpuUsage {
	u := cpuUsage{elapsed: r.Elapsed, byRole: map[string]procstat.Usage{}}
	for _, x := range r.Usage {
		label := normalize(x.Label)
		sum := u.byRole[label]
		sum.Label = label
		sum.CPU += x.CPU
		sum.Processes += x.Processes
		sum.PeakRSS += x.PeakRSS
		sum.PeakRSSAnon += x.PeakRSSAnon
		sum.MaxHWM = max(sum.MaxHWM, x.MaxHWM)
		u.byRole[label] = sum
	}
	return u
}

// total is the CPU of every role of sys but the bench's own sessions.
func (u cpuUsage) total(sys string) time.Duration {
	var t time.Duration
	for _, r := range roles[sys] {
		t += u.byRole[sys+": "+r].CPU
	}
	return t
}
