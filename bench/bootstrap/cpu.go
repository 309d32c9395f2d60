package main

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/bench/internal/cluster"
	"github.com/pgfanout/pgfanout/bench/internal/procstat"
)

// CPU roles, the rows of the CPU table. PostgreSQL's processes are named by what
// pg_stat_activity says of them (backendRole); the bench's own sessions are "control", left
// out.
var cpuRoles = []string{"source: reading", "source: writers", "source: other", "programs",
	"RabbitMQ", "target: writing", "target: other"}

func backendRole(b procstat.Backend) string {
	app := b.Application
	switch {
	case b.Type == "client backend" && app == controlApp:
		return "control"
	case b.Type == "client backend" && app == writerApp:
		return "writers"
	case b.Type == "walsender", b.Type == "client backend" && (app == "pg_dump" || strings.HasPrefix(app, "pgfanout-replicator-copy")):
		return "reading"
	case b.Type == "client backend" && (app == "psql" || strings.HasPrefix(app, "pgfanout-replicator")),
		strings.HasPrefix(b.Type, "logical replication") && b.Type != "logical replication launcher":
		return "writing"
	}
	return "other"
}

// programs are the processes of a run that are not servers (replicator, publisher, pg_dump,
// psql), by PID, as they start.
type programs struct {
	mu   sync.Mutex
	pids map[int]bool
}

func (p *programs) add(pid int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pids == nil {
		p.pids = map[int]bool{}
	}
	p.pids[pid] = true
}

func (p *programs) selector() procstat.Selector {
	return func(context.Context, map[int]procstat.Stat) (map[int]string, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		out := map[int]string{}
		for pid := range p.pids {
			out[pid] = "programs"
		}
		return out, nil
	}
}

// uncancelled runs the sampler's pg_stat_activity queries to their end: Sampler.Stop cancels
// the sampling loop's context, and a query it interrupts would fail the whole accounting.
type uncancelled struct{ conn *pgx.Conn }

func (q uncancelled) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return q.conn.Query(context.WithoutCancel(ctx), sql, args...)
}

type cpuSampler struct {
	s     *procstat.Sampler
	conns []*pgx.Conn
}

func (b *bench) startCPU(ctx context.Context, progs *programs) (*cpuSampler, error) {
	c := &cpuSampler{}
	sels := []procstat.Selector{progs.selector()}
	for _, cl := range []struct {
		prefix string
		pg     *cluster.Postgres
	}{{"source", b.srv.src}, {"target", b.srv.dst}} {
		conn, err := connect(ctx, cl.pg.URL("postgres"))
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
	if pid, err := b.srv.rabbit.PID(); err == nil {
		sels = append(sels, procstat.Tree("RabbitMQ", pid))
	}
	s, err := procstat.Start(ctx, procstat.Config{Selectors: sels, Interval: 250 * time.Millisecond})
	if err != nil {
		c.close()
		return nil, err
	}
	c.s = s
	return c, nil
}

// cpuUsage is a run's CPU by role, and the wall time it was sampled over.
type cpuUsage struct {
	elapsed time.Duration
	byRole  map[string]time.Duration
}

func (c *cpuSampler) stop() (cpuUsage, error) {
	res, err := c.s.Stop()
	c.close()
	u := cpuUsage{elapsed: res.Elapsed, byRole: map[string]time.Duration{}}
	for _, x := range res.Usage {
		label := x.Label
		for _, s := range []string{": postmaster", ": other"} {
			if base, ok := strings.CutSuffix(label, s); ok {
				label = base + ": other"
			}
		}
		u.byRole[label] += x.CPU
	}
	return u, err
}

func (c *cpuSampler) close() {
	for _, conn := range c.conns {
		_ = conn.Close(context.Background())
	}
	c.conns = nil
}

func (u cpuUsage) total() time.Duration {
	var t time.Duration
	for _, r := range cpuRoles {
		t += u.byRole[r]
	}
	return t
}
