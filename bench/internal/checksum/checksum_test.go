package checksum

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestQueryShape(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{Table: pgx.Identifier{"public", "bench"}},
			`SELECT count(*), coalesce(sum(('x' || left(md5((t.*)::text), 16))::bit(64)::bigint), 0)::text FROM "public"."bench" AS t`},
		{Spec{Table: pgx.Identifier{`odd "name"`}, Columns: []string{"id", `we"ird`}},
			`SELECT count(*), coalesce(sum(('x' || left(md5(ROW(t."id", t."we""ird")::text), 16))::bit(64)::bigint), 0)::text FROM "odd ""name""" AS t`},
	} {
		require.Equal(t, tc.want, tc.spec.Query())
	}
}

func TestTableSumsAgreeAcrossOrderAndSessionSettings(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbURL := testenv.NewDatabase(t)
	conn := testenv.Connect(t, dbURL)
	for _, s := range []string{
		`CREATE TABLE a (id bigint PRIMARY KEY, at timestamptz, f float8, note text)`,
		`CREATE TABLE b (LIKE a)`,
		`CREATE TABLE empty (LIKE a)`,
		`INSERT INTO a SELECT g, '2026-11-21 12:00+00'::timestamptz + g * interval '1 s', g / 3.0, 'row ' || g FROM generate_series(1, 1000) g`,
		// The same rows written in another order by a session in another time zone.
		`SET TimeZone = 'Asia/Kolkata'`,
		`INSERT INTO b SELECT * FROM a ORDER BY id DESC`,
	} {
		_, err := conn.Exec(ctx, s)
		require.NoError(t, err, s)
	}
	sum := func(spec Spec) Sum {
		s, err := Table(ctx, conn, spec)
		require.NoError(t, err)
		return s
	}
	a, b := sum(Spec{Table: pgx.Identifier{"a"}}), sum(Spec{Table: pgx.Identifier{"b"}})
	require.Equal(t, int64(1000), a.Rows)
	require.Equal(t, a, b)
	other, err := Table(ctx, testenv.Connect(t, dbURL), Spec{Table: pgx.Identifier{"a"}})
	require.NoError(t, err)
	require.Equal(t, a, other, "a session in the server's time zone, not in Asia/Kolkata")
	require.Equal(t, Sum{Rows: 0, Hash: "0"}, sum(Spec{Table: pgx.Identifier{"empty"}}))

	_, err = conn.Exec(ctx, `UPDATE b SET note = 'changed' WHERE id = 500`)
	require.NoError(t, err)
	changed := sum(Spec{Table: pgx.Identifier{"b"}})
	require.Equal(t, a.Rows, changed.Rows)
	require.NotEqual(t, a.Hash, changed.Hash)

	cols := Spec{Table: pgx.Identifier{"a"}, Columns: []string{"id", "at"}}
	require.Equal(t, sum(cols), sum(Spec{Table: pgx.Identifier{"b"}, Columns: []string{"id", "at"}}), "the changed column is left out")
	require.NotEqual(t, sum(cols), sum(Spec{Table: pgx.Identifier{"a"}, Columns: []string{"at", "id"}}), "column order counts")

	_, err = Table(ctx, conn, Spec{Table: pgx.Identifier{"missing"}})
	require.ErrorContains(t, err, `checksum of "missing"`)
}
