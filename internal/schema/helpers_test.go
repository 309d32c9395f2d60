package schema

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

// dbs is a source and a replica database of one test.
type dbs struct {
	srcURL, repURL string
	src            *pgx.Conn
	rep            *pgxpool.Pool
}

func newDBs(t *testing.T) *dbs {
	t.Helper()
	d := &dbs{srcURL: testenv.NewDatabase(t), repURL: testenv.NewDatabase(t)}
	d.src = testenv.Connect(t, d.srcURL)
	d.rep = newPool(t, d.repURL)
	return d
}

func newPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func (d *dbs) source(t *testing.T, sql string) {
	t.Helper()
	_, err := d.src.Exec(context.Background(), sql)
	require.NoError(t, err, sql)
}

func (d *dbs) replica(t *testing.T, sql string) {
	t.Helper()
	_, err := d.rep.Exec(context.Background(), sql)
	require.NoError(t, err, sql)
}

func (d *dbs) describe(t *testing.T, schema, table string) *Table {
	t.Helper()
	tb, err := Describe(testCtx(t), d.src, schema, table)
	require.NoError(t, err)
	return tb
}

// ensure describes the source table and ensures it on the replica.
func (d *dbs) ensure(t *testing.T, schema, table string) Result {
	t.Helper()
	res, err := Ensure(testCtx(t), d.rep, d.describe(t, schema, table))
	require.NoError(t, err)
	return res
}

type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

// shapeSQL lists a table's columns (type as format_type prints it, NOT NULL, the default's text)
// and its primary key, each as a line.
const shapeSQL = `(SELECT format('%s %s%s%s', quote_ident(a.attname), format_type(a.atttypid, a.atttypmod),
         CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
         coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), ''))
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)
UNION ALL
(SELECT 'PRIMARY KEY ' || (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord)
    FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisprimary)`

func shape(t *testing.T, q querier, table Name) []string {
	t.Helper()
	rows, err := q.Query(context.Background(), shapeSQL, table.Ident())
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.NotEmpty(t, lines, "table %s", table)
	return lines
}

// withoutDefaults lists the columns as shape does, without defaults: for comparing tables
// whose non-constant defaults stayed on the source.
func withoutDefaults(t *testing.T, q querier, table Name) []string {
	t.Helper()
	rows, err := q.Query(context.Background(), `SELECT format('%s %s %s', quote_ident(attname), format_type(atttypid, atttypmod), attnotnull)
FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, table.Ident())
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return lines
}

func one[T any](t *testing.T, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql string, args ...any) T {
	t.Helper()
	var v T
	require.NoError(t, q.QueryRow(context.Background(), sql, args...).Scan(&v), sql)
	return v
}

func hasExtension(t *testing.T, d *dbs, name string) bool {
	t.Helper()
	return one[bool](t, d.src, `SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = $1)`, name)
}
