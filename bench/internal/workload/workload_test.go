package workload

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

// recorder is an Execer that keeps the arguments of each statement.
type recorder struct {
	calls [][]any
	fail  int // fail the call with this index (1-based); 0: never
}

func (r *recorder) Exec(_ context.Context, _ string, args ...any) (pgconn.CommandTag, error) {
	r.calls = append(r.calls, args)
	if len(r.calls) == r.fail {
		return pgconn.CommandTag{}, errors.New("boom")
	}
	return pgconn.CommandTag{}, nil
}

func TestInRanges(t *testing.T) {
	for _, tc := range []struct {
		name       string
		total, per int
		want       [][]any
	}{
		{"last range short", 10, 4, [][]any{{1, 4, "x"}, {5, 8, "x"}, {9, 10, "x"}}},
		{"exact", 4, 2, [][]any{{1, 2, "x"}, {3, 4, "x"}}},
		{"one range", 3, 1000, [][]any{{1, 3, "x"}}},
		{"nothing", 0, 10, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r recorder
			require.NoError(t, InRanges(context.Background(), &r, "sql", tc.total, tc.per, "x"))
			require.Equal(t, tc.want, r.calls)
		})
	}
	r := recorder{fail: 2}
	require.EqualError(t, InRanges(context.Background(), &r, "sql", 10, 4), "rows 5..8: boom")
	require.Len(t, r.calls, 2, "stops at the first failure")
	require.Error(t, InRanges(context.Background(), &r, "sql", 10, 0))
}

func TestNote(t *testing.T) {
	n := Note(rand.New(rand.NewPCG(1, 2)), 40)
	require.Len(t, n, 40)
	require.Regexp(t, `^[0-9a-f]+$`, n)
	require.Equal(t, 1, NoteBytes(50), "never empty")
}

func TestRowsAreAboutTheirSize(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := testenv.Connect(t, testenv.NewDatabase(t))
	rows := Rows{Name: pgx.Identifier{"public", "bench rows"}}
	_, err := conn.Exec(ctx, rows.Create())
	require.NoError(t, err)
	require.NoError(t, rows.Load(ctx, conn, 1000, 300, NoteBytes(300)))
	_, err = conn.Exec(ctx, rows.Insert(), 7, "12.34", Note(rand.New(rand.NewPCG(1, 2)), NoteBytes(300)))
	require.NoError(t, err)
	_, err = conn.Exec(ctx, rows.InsertSeries(), 1, 5, "series ")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, rows.Update(), 1, "updated")
	require.NoError(t, err)

	var n, minLen, maxLen int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*), min(length(row_to_json(t)::text)), max(length(row_to_json(t)::text))
		FROM "bench rows" t WHERE id BETWEEN 2 AND 1001`).Scan(&n, &minLen, &maxLen))
	require.Equal(t, 1000, n)
	require.InDelta(t, 300, minLen, 10)
	require.InDelta(t, 300, maxLen, 10)
	var note string
	require.NoError(t, conn.QueryRow(ctx, `SELECT note FROM "bench rows" WHERE id = 1006`).Scan(&note))
	require.Equal(t, "series 5", note)
}

func TestClientsAtARateRunEveryScheduledStatement(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbURL := testenv.NewDatabase(t)
	conn := testenv.Connect(t, dbURL)
	_, err := conn.Exec(ctx, `CREATE TABLE seen (app text)`)
	require.NoError(t, err)
	c := Clients{URL: dbURL, N: 2, Duration: 500 * time.Millisecond, Rate: 40, Application: "workload-test", Latencies: true}
	// Each client every 50 ms, 25 ms apart: client 0 at 0, 50, …, 450 ms, client 1 at 25, …, 475 ms. A slot
	// before the deadline runs even when the box is slow, so the count does not depend on it.
	r, err := c.Run(ctx, Statement{Title: "insert", SQL: `INSERT INTO seen VALUES (current_setting('application_name'))`})
	require.NoError(t, err)
	require.Equal(t, int64(20), r.Statements)
	require.GreaterOrEqual(t, r.Elapsed, 475*time.Millisecond)
	require.Positive(t, r.Latency(0.5))
	require.GreaterOrEqual(t, r.Latency(1), r.Latency(0.5))

	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM seen WHERE app = 'workload-test'`).Scan(&n))
	require.Equal(t, 20, n)
}

func TestClientsFlatOut(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := Clients{URL: testenv.PGURL(t), N: 2, Duration: 200 * time.Millisecond}
	r, err := c.Run(ctx, Statement{Title: "select", SQL: `SELECT $1::int`, Args: func(r *rand.Rand) []any { return []any{r.IntN(10)} }})
	require.NoError(t, err)
	require.Positive(t, r.Statements)
	require.GreaterOrEqual(t, r.Elapsed, 200*time.Millisecond)
	require.Positive(t, r.PerSecond())
	require.Zero(t, r.Latency(0.5), "latencies were not kept")
}

func TestClientsStopAtTheFirstFailure(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := Clients{URL: testenv.PGURL(t), N: 2, Duration: time.Hour}
	_, err := c.Run(ctx, Statement{Title: "bad statement", SQL: `SELECT 1/0`})
	require.ErrorContains(t, err, "bad statement")

	_, err = Clients{URL: c.URL, N: 0, Duration: time.Second}.Run(ctx, Statement{SQL: `SELECT 1`})
	require.ErrorContains(t, err, "want N > 0")

	c.URL = "postgres://nobody@127.0.0.1:1/x?connect_timeout=2"
	_, err = c.Run(ctx, Statement{SQL: `SELECT 1`})
	require.ErrorContains(t, err, "connect client")
}

func TestPermutation(t *testing.T) {
	for _, n := range []int{1, 2, 7, 1000, 1_000_003, 2_000_006} {
		p, seen := Permutation(n), make([]bool, n)
		for i := range n {
			j := p(i)
			require.False(t, seen[j], "n=%d: %d taken twice", n, j)
			seen[j] = true
		}
	}
	require.Panics(t, func() { Permutation(0) })
}

func TestNumberedRunsEachNumberOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := testenv.NewDatabase(t)
	conn := testenv.Connect(t, url)
	_, err := conn.Exec(ctx, `CREATE TABLE n (i int PRIMARY KEY, app text)`)
	require.NoError(t, err)
	st := NumberedStatement{Title: "insert", SQL: `INSERT INTO n VALUES ($1, current_setting('application_name'))`,
		Args: func(i int, _ *rand.Rand) []any { return []any{i} }}
	r, err := Numbered{URL: url, N: 3, Total: 500, Application: "numbered-test"}.Run(ctx, st)
	require.NoError(t, err)
	require.Equal(t, int64(500), r.Statements)
	require.Positive(t, r.Elapsed)
	var count, distinct, top int
	var apps []string
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT i), max(i), array_agg(DISTINCT app) FROM n`).Scan(&count, &distinct, &top, &apps))
	require.Equal(t, []any{500, 500, 499}, []any{count, distinct, top})
	require.Equal(t, []string{"numbered-test"}, apps)

	_, err = Numbered{URL: url, N: 2, Total: 10}.Run(ctx, st)
	require.ErrorContains(t, err, "insert", "duplicate keys fail the run")

	// The caller's connections are used and stay open. (A new table: a statement of the
	// failed run may still be on its way to table n.)
	_, err = conn.Exec(ctx, `CREATE TABLE m (i int PRIMARY KEY)`)
	require.NoError(t, err)
	own := []*pgx.Conn{testenv.Connect(t, url), testenv.Connect(t, url)}
	r, err = Numbered{Conns: own, Total: 10}.Run(ctx, NumberedStatement{Title: "insert m", SQL: `INSERT INTO m VALUES ($1)`,
		Args: func(i int, _ *rand.Rand) []any { return []any{i} }})
	require.NoError(t, err)
	require.Equal(t, int64(10), r.Statements)
	for _, c := range own {
		require.NoError(t, c.Ping(ctx), "still open")
	}
	_, err = Numbered{URL: url, N: 0, Total: 1}.Run(ctx, st)
	require.Error(t, err)
}
