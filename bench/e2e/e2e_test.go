package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/bench/internal/procstat"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestParseFlags(t *testing.T) {
	t.Setenv("BENCH_SCALE", "")
	o, err := parseFlags(nil)
	require.NoError(t, err)
	require.Equal(t, 1.0, o.scale)
	require.Equal(t, allPhases, o.phases)
	require.Equal(t, 200_000, o.n(loadRows1, minRows))

	t.Setenv("BENCH_SCALE", "0.05")
	o, err = parseFlags([]string{"-phases", "tpcb, changes,tpcb"})
	require.NoError(t, err)
	require.Equal(t, []string{"changes", "tpcb"}, o.phases, "documented order, once each")
	require.Equal(t, 10_000, o.n(loadRows1, minRows))
	require.Equal(t, 1, o.n(tpcbScale1, 1), "10 × 0.05 rounds to 1")
	require.Equal(t, 3*time.Second, o.d(latencyFor1))
	require.Equal(t, 3*time.Minute+5*time.Second, o.convergeTimeout(time.Second))

	o, err = parseFlags([]string{"-scale", "2", "-converge-timeout", "5s"})
	require.NoError(t, err)
	require.Equal(t, 2.0, o.scale, "the flag wins over BENCH_SCALE")
	require.Equal(t, 5*time.Second, o.convergeTimeout(time.Hour))

	for _, bad := range [][]string{{"-phases", "nope"}, {"-scale", "0"}} {
		_, err := parseFlags(bad)
		require.Error(t, err, bad)
	}
	t.Setenv("BENCH_SCALE", "x")
	_, err = parseFlags(nil)
	require.ErrorContains(t, err, "BENCH_SCALE")
}

func TestBackendRole(t *testing.T) {
	for _, tc := range []struct {
		typ, app, want string
	}{
		{"client backend", clientApp, "client backends"},
		{"client backend", "pgbench", "client backends"},
		{"client backend", "pgfanout-publisher-listen", "publisher's backends"},
		{"client backend", "pgfanout-replicator", "replicator's backends"},
		{"client backend", controlApp, "control"},
		{"client backend", "psql", "other processes"},
		{"walsender", "bench_src_rep1", "walsender"},
		{"logical replication worker", "", "apply worker"},
		{"logical replication apply worker", "", "apply worker"}, // PostgreSQL 17's name
		{"logical replication launcher", "", "other processes"},
		{"checkpointer", "", "other processes"},
	} {
		require.Equal(t, tc.want, backendRole(procstat.Backend{Type: tc.typ, Application: tc.app}), "%s %s", tc.typ, tc.app)
	}
	require.Equal(t, "pgfanout: source: other processes", normalize("pgfanout: source: postmaster"))
	require.Equal(t, "native: subscriber: other processes", normalize("native: subscriber: other"))
	require.Equal(t, "pgfanout: replicator", normalize("pgfanout: replicator"))
}

func TestCPUTotalsLeaveTheBenchOut(t *testing.T) {
	u := foldUsage(procstat.Result{Elapsed: time.Second, Usage: []procstat.Usage{
		{Label: "native: source: walsender", CPU: time.Second},
		{Label: "native: source: postmaster", CPU: 2 * time.Second},
		{Label: "native: source: other", CPU: 3 * time.Second},
		{Label: "native: source: control", CPU: 7 * time.Second},
	}})
	require.Equal(t, 5*time.Second, u.byRole["native: source: other processes"].CPU)
	require.Equal(t, 6*time.Second, u.total("native"))
}

// fakeSystem is a source database and replicas, with a tracker that always says yes.
type fakeSystem struct {
	system
	src  string
	reps []string
}

func (f fakeSystem) name() string                             { return "fake" }
func (f fakeSystem) sourceURL() string                        { return f.src }
func (f fakeSystem) replicaURLs() []string                    { return f.reps }
func (fakeSystem) committed(context.Context, int64) error     { return nil }
func (fakeSystem) applied(context.Context, int) (bool, error) { return true, nil }
func (f fakeSystem) begin(context.Context) (tracker, error)   { return f, nil }
func (fakeSystem) scope() cpuScope                            { return cpuScope{} }

func TestConvergeReturnsOnceEqualAndFailsWithTheDifference(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sys := fakeSystem{src: testenv.NewDatabase(t), reps: []string{testenv.NewDatabase(t), testenv.NewDatabase(t)}}
	for _, u := range append([]string{sys.src}, sys.reps...) {
		require.NoError(t, execAll(ctx, u, benchRows.Create(), `INSERT INTO bench (account, amount, note, created_at)
			SELECT g, g, 'n' || g, timestamptz '2026-01-01' FROM generate_series(1, 100) g`))
	}
	start := time.Now()
	at, err := converge(ctx, sys, sys, []probe{benchProbe}, 10*time.Second)
	require.NoError(t, err)
	require.True(t, at.After(start) && time.Since(at) < 5*time.Second)

	require.NoError(t, execAll(ctx, sys.reps[1], `UPDATE bench SET note = 'changed' WHERE id = 7`))
	start = time.Now()
	_, err = converge(ctx, sys, sys, []probe{benchProbe}, time.Second)
	require.Less(t, time.Since(start), 10*time.Second, "fails at the timeout, no hang")
	require.ErrorContains(t, err, "did not equal the source within 1s")
	msg := err.Error()
	require.Contains(t, msg, `replica 2, "public"."bench": source 100 rows, hash`)
	require.Contains(t, msg, "(DIFFERS)")
	require.NotContains(t, msg, "replica 1,", "the equal replica is not listed")
}

func TestReportTables(t *testing.T) {
	b := &bench{o: options{scale: 0.5, phases: []string{"changes", "fanout"}}, env: environment{cpus: 2, memory: "1.0 GiB",
		postgres: "15.20", rabbitmq: "3.10.8", gover: "go1.26", date: "2026-01-02"}, elapsed: 90 * time.Second}
	usage := func(sys string, s float64) cpuUsage {
		return cpuUsage{byRole: map[string]procstat.Usage{sys + ": source: client backends": {CPU: time.Duration(s * float64(time.Second))}}}
	}
	run := func(rows int64, writes, e2e float64, sys string, cpu float64) runResult {
		return runResult{rows: rows, writes: time.Duration(writes * float64(time.Second)), e2e: time.Duration(e2e * float64(time.Second)),
			lag: time.Duration((e2e - writes) * float64(time.Second)), cpu: usage(sys, cpu)}
	}
	b.res.changes.add("load", "pgfanout", run(100_000, 2, 4, "pgfanout", 3))
	b.res.changes.add("load", "native", run(100_000, 1, 1, "native", 1))
	b.res.fanout.add("1 replica", "pgfanout", run(100_000, 2, 4, "pgfanout", 1))
	b.res.fanout.add("1 replica", "native", run(100_000, 1, 2, "native", 1))
	b.res.fanout.add("3 replicas", "pgfanout", run(100_000, 2, 5, "pgfanout", 1))
	b.res.fanout.add("3 replicas", "native", run(100_000, 1, 4, "native", 1))
	b.res.fanout.add("3 replicator processes", "pgfanout", run(100_000, 2, 2, "pgfanout", 1))
	got := b.report()
	require.True(t, strings.HasPrefix(got, "Measured 2026-01-02 with `BENCH_SCALE=0.5 go run ./bench/e2e -phases changes,fanout` in 1m30s: 2 CPUs"), got)
	for _, line := range []string{
		"| load | 100000 | 50000 | 100000 | 0.50× | 25000 | 100000 | 0.25× | 2.00 | 0.00 |",
		"| 3 replicator processes | 50000 | — | — | 0.00 | — |",
		"| 3 replicas / 1 replica | 0.80× | 0.50× |  |  |  |",
		"| 3 processes / 1 process | 2.00× | — |  |  |  |",
		"| pgfanout: source: client backends | 3.00 |",
		"| **pgfanout: total** | **3.00** |",
		"| pgfanout / native, total | 3.00× |",
	} {
		require.Contains(t, got, line+"\n")
	}
	require.NotContains(t, got, "### Latency", "phases that did not run have no table")
	require.NotContains(t, got, "### TPC-B")
}
