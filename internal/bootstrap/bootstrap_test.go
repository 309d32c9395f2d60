package bootstrap

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/sourcegraph/conc/pool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a source with the capture and tracked tables, and a replica with the same tables.
type rig struct {
	srcURL, repURL string
	src, rep       *pgx.Conn
}

func newRig(t *testing.T, ddl ...string) *rig {
	t.Helper()
	r := &rig{srcURL: testenv.NewCaptureDatabase(t), repURL: testenv.NewDatabase(t)}
	r.src, r.rep = sourcetest.Connect(t, r.srcURL), sourcetest.Connect(t, r.repURL)
	sourcetest.Exec(t, r.src, ddl...)
	sourcetest.Exec(t, r.rep, ddl...)
	return r
}

func (r *rig) applier(t *testing.T) *apply.Applier {
	t.Helper()
	cfg, err := apply.PoolConfig(r.repURL, liveness.Defaults())
	require.NoError(t, err)
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return apply.New(p)
}

// run runs n copiers until cond holds (or 60 s passed), then stops them.
func (r *rig) run(t *testing.T, n int, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	close(ready)
	g := pool.New().WithErrors().WithContext(ctx)
	for i := 0; i < n; i++ {
		c, err := New(Config{SourceURL: r.srcURL, ChunkRows: 1000, Discover: 100 * time.Millisecond, Name: "copier" + string(rune('a'+i))},
			r.applier(t), zerolog.Nop(), prometheus.NewRegistry())
		require.NoError(t, err)
		g.Go(func(ctx context.Context) error { return c.Run(ctx, ready) })
	}
	defer func() {
		cancel()
		require.NoError(t, g.Wait())
	}()
	testenv.Eventually(t, "the copy", time.Minute, cond)
}

func (r *rig) state(t *testing.T, table string) (state, reason string) {
	t.Helper()
	var ready bool
	require.NoError(t, r.rep.QueryRow(context.Background(), `SELECT to_regclass('pgfanout.copy_chunks') IS NOT NULL`).Scan(&ready))
	if !ready {
		return "", "" // the copiers have not prepared the replica yet
	}
	progress, err := ReadProgress(context.Background(), r.rep, 10*time.Second)
	require.NoError(t, err)
	for _, p := range progress {
		if p.Table == table {
			return p.State, p.Reason
		}
	}
	return "", ""
}

func TestCopiesEveryTrackedTableOnceWithSeveralCopiers(t *testing.T) {
	r := newRig(t, `CREATE TABLE a (id int PRIMARY KEY, v text)`, `CREATE TABLE "B c" (k1 text, k2 int, doc jsonb, PRIMARY KEY (k1, k2))`,
		`CREATE TABLE untracked (id int PRIMARY KEY)`)
	sourcetest.Exec(t, r.src,
		`INSERT INTO a SELECT g, repeat('x', g % 50) FROM generate_series(1, 12000) g`,
		`INSERT INTO "B c" SELECT 'k' || (g % 9), g, jsonb_build_object('g', g) FROM generate_series(1, 3000) g`,
		`INSERT INTO untracked SELECT generate_series(1, 10)`,
		`ANALYZE`, `SELECT pgfanout.track('a'), pgfanout.track('"B c"')`)
	sourcetest.Exec(t, r.rep, `INSERT INTO a VALUES (999999, 'not on the source')`)
	r.run(t, 3, func() bool {
		sa, _ := r.state(t, "a")
		sb, _ := r.state(t, "B c")
		return sa == StateDone && sb == StateDone
	})
	for _, tb := range []string{"a", "B c"} {
		require.Equal(t, sourcetest.Dump(t, r.src, "public", tb), sourcetest.Dump(t, r.rep, "public", tb), tb)
	}
	var copies, chunks, rows int
	require.NoError(t, r.rep.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT ordinal), sum(rows)
		FROM pgfanout.copy_chunks WHERE table_name = 'a'`).Scan(&copies, &chunks, &rows))
	require.Equal(t, chunks, copies, "every chunk copied once")
	require.Equal(t, 12000, rows)
	require.Greater(t, chunks, 10)
	st, _ := r.state(t, "untracked")
	require.Empty(t, st, "untracked tables are not copied")
}

func TestTablesThatCannotBeCopiedFailWithTheReason(t *testing.T) {
	r := newRig(t, `CREATE TABLE ok (id int PRIMARY KEY)`)
	sourcetest.Exec(t, r.src, `CREATE TABLE missing (id int PRIMARY KEY)`, `CREATE TABLE narrow (id int PRIMARY KEY, extra text)`,
		`CREATE TABLE keyless (a int)`, `INSERT INTO ok SELECT generate_series(1, 5)`,
		`SELECT pgfanout.track('ok'), pgfanout.track('missing'), pgfanout.track('narrow'), pgfanout.track('keyless')`)
	sourcetest.Exec(t, r.rep, `CREATE TABLE narrow (id int PRIMARY KEY)`, `CREATE TABLE keyless (a int)`)
	r.run(t, 1, func() bool {
		sa, _ := r.state(t, "ok")
		sm, _ := r.state(t, "missing")
		sn, _ := r.state(t, "narrow")
		sk, _ := r.state(t, "keyless")
		return sa == StateDone && sm == StateFailed && sn == StateFailed && sk == StateDone
	})
	_, why := r.state(t, "missing")
	require.Contains(t, why, "does not exist on the replica")
	_, why = r.state(t, "narrow")
	require.Contains(t, why, `column "extra"`)
	sk, _ := r.state(t, "keyless")
	require.Equal(t, StateDone, sk, "a keyless table is copied whole")
	var n int
	require.NoError(t, r.rep.QueryRow(context.Background(), `SELECT count(*) FROM narrow`).Scan(&n))
	require.Zero(t, n, "nothing half-copied")
}
