package procstat

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestBackendLabel(t *testing.T) {
	for _, tc := range []struct {
		in   Backend
		want string
	}{
		{Backend{Type: "client backend", Application: "pgfanout-replicator"}, "client backend (pgfanout-replicator)"},
		{Backend{Type: "client backend"}, "client backend"},
		{Backend{Type: "walsender", Application: "sub1"}, "walsender (sub1)"},
		{Backend{Type: "logical replication worker", Application: "ignored"}, "logical replication worker"},
		{Backend{Type: "checkpointer"}, "checkpointer"},
	} {
		require.Equal(t, tc.want, BackendLabel(tc.in))
	}
}

// connectAs opens a connection to the test server with this application_name.
func connectAs(t *testing.T, app string) *pgx.Conn {
	cfg, err := pgx.ParseConfig(testenv.PGURL(t))
	require.NoError(t, err)
	cfg.RuntimeParams["application_name"] = app
	return testenv.ConnectConfig(t, cfg)
}

// The test server runs on this machine (the CPU sampler reads its processes from /proc).
func TestPostgresSelectorAccountsABackendsCPU(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sampler := connectAs(t, "procstat-test-sampler")
	worker := connectAs(t, "procstat-test-worker")
	postmaster, err := PostmasterOf(ctx, sampler)
	require.NoError(t, err)

	s, err := Start(ctx, Config{Selectors: []Selector{
		Postgres{Prefix: "pg", Postmaster: postmaster, Conn: sampler}.Selector(),
	}})
	require.NoError(t, err)
	// A query that keeps its backend on a CPU for some 100 ms, whatever else the box does.
	var n int64
	require.NoError(t, worker.QueryRow(ctx, `SELECT count(*) FROM generate_series(1, 2000000)`).Scan(&n))
	r, err := s.Stop()
	require.NoError(t, err)
	t.Logf("%+v", r)

	u, ok := r.Get("pg: client backend (procstat-test-worker)")
	require.True(t, ok, "labels: %v", r.Usage)
	require.Positive(t, u.CPU)
	require.LessOrEqual(t, u.CPU, r.Elapsed+2*ClockTick, "one single-threaded backend (times are whole ticks)")
	require.Positive(t, u.PeakRSS)
	_, ok = r.Get("pg: postmaster")
	require.True(t, ok)
	_, ok = r.Get("pg: checkpointer")
	require.True(t, ok, "auxiliary processes are listed by type")
}
