package apply

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture is a capture source and a replica with the same tables.
type fixture struct {
	src, rep *pgx.Conn
	srcURL   string
	repURL   string
	applier  *Applier
	after    int64 // change log position already consumed by entries()
}

func newFixture(t *testing.T, ddl ...string) *fixture {
	t.Helper()
	srcURL, repURL := testenv.NewDatabase(t), testenv.NewDatabase(t)
	f := &fixture{src: sourcetest.Connect(t, srcURL), rep: sourcetest.Connect(t, repURL), srcURL: srcURL, repURL: repURL}
	sourcetest.ApplyCapture(t, f.src)
	sourcetest.Exec(t, f.src, ddl...)
	sourcetest.Exec(t, f.rep, ddl...)
	f.applier = New(newPool(t, repURL))
	return f
}

func newPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	cfg, err := PoolConfig(url, liveness.Defaults())
	require.NoError(t, err)
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func (f *fixture) track(t *testing.T, tables ...string) {
	t.Helper()
	for _, tb := range tables {
		_, err := f.src.Exec(context.Background(), "SELECT pgfanout.track($1)", tb)
		require.NoError(t, err)
	}
}

// entries returns the change log entries written since the last call.
func (f *fixture) entries(t *testing.T) [][]change.Change {
	t.Helper()
	es := sourcetest.Entries(t, f.src, f.after)
	if len(es) > 0 {
		last := es[len(es)-1]
		f.after = last[len(last)-1].Version
	}
	return es
}

func (f *fixture) apply(t *testing.T, changes []change.Change) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, f.applier.Apply(ctx, changes))
}

// requireSame compares the tables' full contents on source and replica.
func (f *fixture) requireSame(t *testing.T, schema string, tables ...string) {
	t.Helper()
	for _, tb := range tables {
		require.Equal(t, sourcetest.Dump(t, f.src, schema, tb), sourcetest.Dump(t, f.rep, schema, tb), "table %s.%s", schema, tb)
	}
}
