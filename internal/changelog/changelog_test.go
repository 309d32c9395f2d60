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
	store := New(conn, 0)
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
	store := New(conn, 0)
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

// While the publisher holds the idle lock a 'wakeup' capture notifies, and only then; the
// lock cannot be taken while a transaction that captured without notifying is open.
func TestIdleLock(t *testing.T) {
	ctx := context.Background()
	url := testenv.NewDatabase(t)
	require.NoError(t, migrate.Up(ctx, url, zerolog.Nop()))
	conn, writer := testenv.Connect(t, url), testenv.Connect(t, url)
	exec(t, conn, `CREATE TABLE t (id int PRIMARY KEY)`, `SELECT pgfanout.track('t')`, `LISTEN pgfanout`)
	store := New(conn, 0)
	// next returns the payload of the next notification; each check ends with a marker, so
	// that a capture's notification, or its absence, shows as what precedes the marker.
	next := func() string {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, err := conn.WaitForNotification(wctx)
		require.NoError(t, err)
		return n.Payload
	}
	marker := func() { exec(t, writer, `NOTIFY pgfanout, 'marker'`) }

	tx, err := writer.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO t VALUES (1)`)
	require.NoError(t, err)
	var term int64
	require.NoError(t, conn.QueryRow(ctx, `SELECT term FROM pgfanout.leader`).Scan(&term))
	ok, err := store.TakeIdleLock(ctx, term)
	require.NoError(t, err)
	require.False(t, ok, "a transaction that captured without notifying is still open")
	require.NoError(t, tx.Commit(ctx))
	marker()
	require.Equal(t, "marker", next(), "no notification while the publisher is busy")

	ok, err = store.TakeIdleLock(ctx, term+1)
	require.NoError(t, err)
	require.False(t, ok, "term %d has not begun", term+1)
	ok, err = store.TakeIdleLock(ctx, term)
	require.NoError(t, err)
	require.True(t, ok)
	exec(t, writer, `INSERT INTO t VALUES (2)`, `INSERT INTO t VALUES (3)`)
	marker()
	require.Equal(t, "", next(), "the idle publisher is woken")
	require.Equal(t, "", next(), "once per committing transaction")
	require.Equal(t, "marker", next())

	require.NoError(t, store.ReleaseIdleLock(ctx))
	require.Error(t, store.ReleaseIdleLock(ctx), "not held any more")
	exec(t, writer, `INSERT INTO t VALUES (4)`)
	marker()
	require.Equal(t, "marker", next())
}

func TestStats(t *testing.T) {
	ctx := context.Background()
	conn := source(t)
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
	store := New(conn, 0)
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
