package follow

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/source"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// copies records what the follower asked of the copier.
type copies struct {
	mu      sync.Mutex
	resyncs []string
	stops   map[string]string
}

func (c *copies) ResyncStale(_ context.Context, schema, table string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resyncs = append(c.resyncs, schema+"."+table)
	return nil
}

func (c *copies) Stop(_ context.Context, schema, table, reason string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stops[schema+"."+table] = reason
	return nil
}

type rig struct {
	src, rep *pgx.Conn
	srcURL   string
	applier  *apply.Applier
	copies   *copies
	f        *Follower
}

func newRig(t *testing.T, create bool) *rig {
	t.Helper()
	srcURL, repURL := testenv.NewDatabase(t), testenv.NewDatabase(t)
	r := &rig{src: sourcetest.Connect(t, srcURL), rep: sourcetest.Connect(t, repURL), srcURL: srcURL, copies: &copies{stops: map[string]string{}}}
	sourcetest.ApplyCapture(t, r.src)
	pc, err := apply.PoolConfig(repURL, liveness.Defaults())
	require.NoError(t, err)
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	r.applier = apply.New(pool)
	require.NoError(t, r.applier.Prepare(context.Background()))
	src, err := source.Open(context.Background(), srcURL, liveness.Defaults(), 2)
	require.NoError(t, err)
	t.Cleanup(src.Close)
	r.f = New(Config{Create: create, Follow: true, HealEvery: time.Nanosecond}, src, r.applier, r.copies, zerolog.Nop(), NewMetrics(nil))
	r.applier.SetHealer(r.f)
	return r
}

func (r *rig) reconcile(t *testing.T, schema, table string) Outcome {
	t.Helper()
	out, err := r.f.Reconcile(context.Background(), schema, table, "")
	require.NoError(t, err)
	return out
}

// columns lists a replica table's columns with their types, in order.
func (r *rig) columns(t *testing.T, schema, table string) []string {
	t.Helper()
	rows, err := r.rep.Query(context.Background(), `SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ||
		CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
		FROM pg_attribute a WHERE a.attrelid = to_regclass(quote_ident($1) || '.' || quote_ident($2)) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, schema, table)
	require.NoError(t, err)
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return cols
}

// apply sends the source's new change-log entries through the applier.
func (r *rig) apply(t *testing.T, after *int64) {
	t.Helper()
	es := sourcetest.Entries(t, r.src, *after)
	if len(es) == 0 {
		return
	}
	last := es[len(es)-1]
	*after = last[len(last)-1].Version
	require.NoError(t, r.applier.Apply(context.Background(), sourcetest.Flatten(es)))
}

func (r *rig) same(t *testing.T, schema, table string) {
	t.Helper()
	require.Equal(t, sourcetest.Dump(t, r.src, schema, table), sourcetest.Dump(t, r.rep, schema, table))
}

func TestCreatesAMissingTable(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	sourcetest.Exec(t, r.src, `CREATE SCHEMA "Neu Schema"`,
		`CREATE TYPE "Neu Schema".mood AS ENUM ('sad', 'ok')`,
		`CREATE DOMAIN "Neu Schema".pos AS int CHECK (VALUE > 0)`,
		`CREATE TYPE "Neu Schema".pair AS (a int, b text)`,
		`CREATE TABLE "Neu Schema"."Order ""1""" (id int PRIMARY KEY, m "Neu Schema".mood NOT NULL DEFAULT 'ok',
			p "Neu Schema".pos, pr "Neu Schema".pair, ms "Neu Schema".mood[], n int GENERATED ALWAYS AS IDENTITY)`)
	out := r.reconcile(t, "Neu Schema", `Order "1"`)
	require.True(t, out.Created)
	require.Equal(t, []string{"id integer not null", `m "Neu Schema".mood not null`, `p "Neu Schema".pos`, `pr "Neu Schema".pair`,
		`ms "Neu Schema".mood[]`, "n integer not null"}, r.columns(t, "Neu Schema", `Order "1"`))
	require.False(t, r.reconcile(t, "Neu Schema", `Order "1"`).Changed(), "a second look changes nothing")
}

// TestFollowsShapeChanges runs each DDL kind on the source between writes; changes captured
// before a change apply with the old shape and after it with the new one, in any order the
// stream brings them, and the replica ends equal to the source.
func TestFollowsShapeChanges(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	sourcetest.Exec(t, r.src, `CREATE TYPE mood AS ENUM ('sad', 'ok')`,
		`CREATE TABLE t (id int PRIMARY KEY, a text NOT NULL, n int, m mood)`, `SELECT pgfanout.track('t')`)
	r.reconcile(t, "public", "t")
	var after int64
	sourcetest.Exec(t, r.src, `INSERT INTO t SELECT g, 'a' || g, g, 'ok' FROM generate_series(1, 20) g`)
	r.apply(t, &after)

	steps := []struct {
		ddl    string
		writes string
		resync bool
	}{
		{`ALTER TABLE t ADD COLUMN plain text`, `UPDATE t SET plain = 'p' WHERE id % 2 = 0`, false},
		{`ALTER TABLE t ADD COLUMN fortytwo int NOT NULL DEFAULT 42`, `INSERT INTO t (id, a, fortytwo) VALUES (100, 'x', 7)`, false},
		{`ALTER TABLE t ADD COLUMN at timestamptz DEFAULT clock_timestamp()`, `UPDATE t SET n = n + 1 WHERE id = 3`, true},
		{`ALTER TABLE t DROP COLUMN plain`, `UPDATE t SET a = a || '!' WHERE id < 5`, false},
		{`ALTER TABLE t RENAME COLUMN a TO "A b"`, `UPDATE t SET "A b" = "A b" || 'r' WHERE id > 15`, false},
		{`ALTER TABLE t ALTER COLUMN n TYPE bigint`, `UPDATE t SET n = 5000000000 WHERE id = 7`, false},
		{`ALTER TYPE mood ADD VALUE 'glad'`, `UPDATE t SET m = 'glad' WHERE id = 9`, false},
		{`ALTER TABLE t ALTER COLUMN "A b" DROP NOT NULL`, `UPDATE t SET "A b" = NULL WHERE id = 1`, false},
	}
	for _, s := range steps {
		// Writes before the DDL are applied after it, with their old shape.
		sourcetest.Exec(t, r.src, `UPDATE t SET n = n + 1 WHERE id % 3 = 0`, s.ddl, s.writes)
		r.apply(t, &after) // a batch that fails heals the table and applies
		// What no batch shows (a dropped column: images just lack it) the periodic check finds.
		require.NoError(t, r.f.Check(context.Background(), func(string, string) bool { return true }))
		if s.resync {
			require.Contains(t, r.copies.resyncs, "public.t", "%s: values a copy must bring", s.ddl)
			// A copy would bring the source's clock_timestamp() values; stand in for it.
			_, err := r.rep.Exec(context.Background(), `UPDATE t SET at = NULL`)
			require.NoError(t, err)
			_, err = r.src.Exec(context.Background(), `ALTER TABLE t ALTER COLUMN at DROP DEFAULT`)
			require.NoError(t, err)
			_, err = r.src.Exec(context.Background(), `UPDATE t SET at = NULL`)
			require.NoError(t, err)
			r.apply(t, &after)
		}
		r.same(t, "public", "t")
	}
	require.Empty(t, r.copies.stops)
	require.Equal(t, []string{"id integer not null", `A b text`, "n bigint", "m mood", "fortytwo integer not null",
		"at timestamp with time zone"}, r.columns(t, "public", "t"))

	// An image from before the RENAME and one carrying the dropped column still apply.
	sourcetest.Exec(t, r.src, `UPDATE t SET n = 1 WHERE id = 2`)
	es := sourcetest.Flatten(sourcetest.Entries(t, r.src, after))
	require.Len(t, es, 1)
	old := es[0]
	old.Row = []byte(`{"id":2,"a":"old name","n":1,"m":"ok","plain":"gone","fortytwo":42,"at":null}`)
	require.NoError(t, r.applier.Apply(context.Background(), []change.Change{old}))
	var a string
	require.NoError(t, r.rep.QueryRow(context.Background(), `SELECT "A b" FROM t WHERE id = 2`).Scan(&a))
	require.Equal(t, "old name", a, "the image's old column name went to the renamed column")
}

func TestUnfollowableStopsTheTable(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	sourcetest.Exec(t, r.src, `CREATE TABLE t (id int PRIMARY KEY, v text)`, `CREATE TABLE u (id int PRIMARY KEY)`,
		`SELECT pgfanout.track('t')`)
	r.reconcile(t, "public", "t")
	r.reconcile(t, "public", "u")
	// The replica holds text the new type cannot take.
	_, err := r.rep.Exec(context.Background(), `INSERT INTO t VALUES (1, 'not a number')`)
	require.NoError(t, err)
	sourcetest.Exec(t, r.src, `ALTER TABLE t ALTER COLUMN v TYPE int USING length(v)`)
	out := r.reconcile(t, "public", "t")
	require.Contains(t, out.Stopped, `cannot follow: ALTER TABLE "public"."t" ALTER COLUMN "v" TYPE integer`)
	require.Contains(t, r.copies.stops["public.t"], "invalid input syntax")
	require.Equal(t, []string{"id integer not null", "v text"}, r.columns(t, "public", "t"), "nothing half done")

	sourcetest.Exec(t, r.src, `ALTER TABLE u DROP CONSTRAINT u_pkey, ADD PRIMARY KEY (id)`) // same key: fine
	require.Empty(t, r.reconcile(t, "public", "u").Stopped)
	sourcetest.Exec(t, r.src, `ALTER TABLE u ADD COLUMN k int NOT NULL DEFAULT 0`, `ALTER TABLE u DROP CONSTRAINT u_pkey, ADD PRIMARY KEY (id, k)`)
	require.Contains(t, r.reconcile(t, "public", "u").Stopped, "primary key changed")
}

// A table reconciled moments ago by another caller (a second copy worker, the stream's
// applier) may have changed since the failure: Heal says the batch is worth another try
// rather than "nothing to change", which would fail a table copy for good.
func TestHealRecentlyReconciledIsWorthRetrying(t *testing.T) {
	f := New(Config{HealEvery: time.Hour}, nil, nil, nil, zerolog.Nop(), nil)
	f.tried[[2]string{"s", "t"}] = time.Now()
	require.True(t, f.Heal(context.Background(), "s", "t", errors.New("column \"x\" does not exist in the replica table")))
}
