package changelog

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/migrate"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// source returns a connection to a fresh database with the capture installed and a tracked
// table t(id int primary key, doc json).
func source(t *testing.T) *pgx.Conn {
	t.Helper()
	url := testenv.NewDatabase(t)
	require.NoError(t, migrate.Up(context.Background(), url, zerolog.Nop()))
	conn := testenv.Connect(t, url)
	exec(t, conn, `CREATE TABLE t (id int PRIMARY KEY, doc json)`, `SELECT pgfanout.track('t')`)
	return conn
}

func exec(t *testing.T, conn *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		_, err := conn.Exec(context.Background(), s)
		require.NoError(t, err, s)
	}
}

func TestFetchExplodesEntries(t *testing.T) {
	ctx := context.Background()
	conn := source(t)
	exec(t, conn,
		`INSERT INTO t VALUES (1, '{"a" : 1,  "a": 2}'), (2, null)`,
		`UPDATE t SET id = 3 WHERE id = 2`,
		`DELETE FROM t WHERE id = 1`,
		`TRUNCATE t`)
	store := New(conn)
	b, err := store.Fetch(ctx, 0, Limits{Changes: 100, Bytes: 1 << 20})
	require.NoError(t, err)
	var got []string
	for _, c := range b.Changes {
		require.Equal(t, "public", c.Schema)
		require.Equal(t, "t", c.Table)
		require.NotZero(t, c.TxID)
		require.NotZero(t, c.CommittedAt)
		got = append(got, strings.Join([]string{string(c.Op), string(c.Key), string(c.Row)}, " "))
	}
	require.Equal(t, []string{
		`insert {"id" : 1} {"id":1,"doc":{"a" : 1,  "a": 2}}`,
		`insert {"id" : 2} {"id":2,"doc":null}`,
		`delete {"id" : 2} null`,
		`update {"id" : 3} {"id":3,"doc":null}`,
		`delete {"id" : 1} null`,
		`truncate null null`,
	}, got)
	for i := 1; i < len(b.Changes); i++ {
		require.Greater(t, b.Changes[i].Version, b.Changes[i-1].Version)
	}
	require.Len(t, b.Versions, 5, "one entry per statement and operation")

	require.NoError(t, store.Delete(ctx, b.Versions[:2]))
	rest, err := store.Fetch(ctx, 0, Limits{Changes: 100, Bytes: 1 << 20})
	require.NoError(t, err)
	require.Equal(t, b.Versions[2:], rest.Versions)
	require.Equal(t, []change.Change(b.Changes[3:]), rest.Changes)
}

func TestFetchLimits(t *testing.T) {
	ctx := context.Background()
	conn := source(t)
	for i := 0; i < 10; i++ { // ten entries of 3 changes, each entry ≈ 3 × 1 KB
		_, err := conn.Exec(ctx, `INSERT INTO t SELECT g, json_build_object('pad', repeat('x', 1000)) FROM generate_series($1::int, $1 + 2) g`, i*3+1)
		require.NoError(t, err)
	}
	store := New(conn)
	fetch := func(after int64, lim Limits) *Batch {
		b, err := store.Fetch(ctx, after, lim)
		require.NoError(t, err)
		return b
	}
	require.Len(t, fetch(0, Limits{Changes: 7, Bytes: 1 << 20}).Versions, 3, "the entry crossing the change bound is included")
	require.Len(t, fetch(0, Limits{Changes: 6, Bytes: 1 << 20}).Versions, 2)
	require.Len(t, fetch(0, Limits{Changes: 100, Bytes: 7000}).Versions, 3, "the entry crossing the byte bound is included")
	one := fetch(0, Limits{Changes: 1, Bytes: 1})
	require.Len(t, one.Versions, 1, "an entry larger than both bounds is fetched alone")
	require.Len(t, one.Changes, 3)
	all := fetch(0, Limits{Changes: 1000, Bytes: 1 << 20})
	require.Len(t, all.Changes, 30)
	after := fetch(all.Versions[4], Limits{Changes: 1000, Bytes: 1 << 20})
	require.Equal(t, all.Versions[5:], after.Versions)
	require.Empty(t, fetch(all.Last(), Limits{Changes: 1000, Bytes: 1 << 20}).Versions)
}

func TestSetIdleAndStats(t *testing.T) {
	ctx := context.Background()
	conn := source(t)
	store := New(conn)
	// The lease as PostgreSQL sees it: how far publisher_idle_until lies ahead, or NULL.
	lease := func() (v *float64) {
		require.NoError(t, conn.QueryRow(ctx,
			`SELECT extract(epoch FROM publisher_idle_until - now())::float8 FROM pgfanout.settings`).Scan(&v))
		return v
	}
	require.NoError(t, store.SetIdle(ctx, 0))
	require.Nil(t, lease(), "lowered")
	require.NoError(t, store.SetIdle(ctx, 90*time.Second))
	require.InDelta(t, 90, *lease(), 5, "raised for the lease")
	require.NoError(t, store.SetIdle(ctx, 0))
	require.Nil(t, lease())

	exec(t, conn, `INSERT INTO t SELECT g FROM generate_series(1, 5) g`)
	st, err := ReadStats(ctx, conn)
	require.NoError(t, err)
	require.Equal(t, int64(5), st.Backlog)
	require.GreaterOrEqual(t, st.NotifyQueueUsage, 0.0)
}

// A key the publisher derives from a row image must read exactly like the key the capture
// writes with json_build_object, whatever the column names and values.
func TestDerivedKeysMatchCapturedKeys(t *testing.T) {
	ctx := context.Background()
	conn := source(t)
	exec(t, conn,
		"CREATE TABLE \"Odd \"\"T\"\"\" (\"k\"\"e\\y 1\" numeric, \"ключ\t2\" text, ts timestamptz, v int, "+
			"PRIMARY KEY (\"ключ\t2\", ts, \"k\"\"e\\y 1\"))",
		`SELECT pgfanout.track('"Odd ""T"""')`,
		`INSERT INTO "Odd ""T""" VALUES (1.50, E'a"b\\c\td\x01é😀', '-infinity', 1), (-0.000001, '', '2020-01-01 00:00:00.000001+05', 2)`,
		`UPDATE "Odd ""T""" SET v = v + 1`,
		`DELETE FROM "Odd ""T"""`)
	store := New(conn)
	b, err := store.Fetch(ctx, 0, Limits{Changes: 100, Bytes: 1 << 20})
	require.NoError(t, err)
	byOp := map[change.Op][]string{}
	for _, c := range b.Changes {
		byOp[c.Op] = append(byOp[c.Op], string(c.Key))
	}
	require.Len(t, byOp[change.Delete], 2)
	require.Equal(t, byOp[change.Delete], byOp[change.Insert], "insert keys derived from rows")
	require.Equal(t, byOp[change.Delete], byOp[change.Update], "update keys derived from rows")
	require.Contains(t, byOp[change.Delete][0], `"ключ\t2" : "a\"b\\c\td\u0001é😀", "ts" : "-infinity", "k\"e\\y 1" : 1.50`)
}
