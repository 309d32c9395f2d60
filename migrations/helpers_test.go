package migrations_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	pgchange "github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/changelog"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// ctxT bounds every database call of a test.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// source is a migrated database and an admin connection to it.
type source struct {
	t    testing.TB
	url  string
	conn *pgx.Conn
}

func newSource(t testing.TB) *source {
	t.Helper()
	url := testenv.NewCaptureDatabase(t)
	return &source{t: t, url: url, conn: testenv.Connect(t, url)}
}

// exec runs SQL (several statements when there are no arguments) and fails the test on error.
func (s *source) exec(sql string, args ...any) {
	s.t.Helper()
	_, err := s.conn.Exec(ctxT(s.t), sql, args...)
	require.NoError(s.t, err, sql)
}

func (s *source) scalar(dst any, sql string, args ...any) {
	s.t.Helper()
	require.NoError(s.t, s.conn.QueryRow(ctxT(s.t), sql, args...).Scan(dst), sql)
}

// entry is one row of pgfanout.changes with its items decoded; key and row keep the exact
// bytes PostgreSQL wrote.
type entry struct {
	Version, Last int64
	N             int
	TxID          string
	Schema, Table string
	Op            string
	KeyColumns    []string
	Items         []item
	Size          int // bytes of the items JSON
}

type item struct {
	Version int64
	Key     json.RawMessage
	Row     json.RawMessage
}

// entries returns the change log in version order.
func (s *source) entries() []entry {
	s.t.Helper()
	rows, err := s.conn.Query(ctxT(s.t), `SELECT version, last_version, n, txid::text, schema_name, table_name,
		op::text, key_columns, bytes, items::text FROM pgfanout.changes ORDER BY version`)
	require.NoError(s.t, err)
	var out []entry
	for rows.Next() {
		var e entry
		var items string
		var bytes int
		require.NoError(s.t, rows.Scan(&e.Version, &e.Last, &e.N, &e.TxID, &e.Schema, &e.Table, &e.Op, &e.KeyColumns, &bytes, &items))
		require.Equal(s.t, len(items), bytes, "bytes of entry %d is its JSON size", e.Version)
		e.Items, e.Size = decodeItems(s.t, e, items), len(items)
		out = append(out, e)
	}
	require.NoError(s.t, rows.Err())
	return out
}

// decodeItems reads items with the publisher's decoder, so that what the capture writes is
// checked against what the publisher reads.
func decodeItems(t testing.TB, e entry, items string) []item {
	t.Helper()
	op, err := pgchange.OpFromCode(e.Op[0])
	require.NoError(t, err)
	var out []item
	it := changelog.Items{JSON: []byte(items), First: e.Version, Op: op, KeyColumns: e.KeyColumns}
	require.NoError(t, it.Each(func(version int64, key, row []byte) {
		out = append(out, item{Version: version, Key: key, Row: row})
	}), "items of entry %d: %s", e.Version, items)
	return out
}

// change is one captured change with its entry's metadata, for simple comparisons.
type change struct {
	Op, Table string
	Version   int64
	TxID      string
	Key, Row  string // JSON text, "null" when absent
}

// changes flattens the log and empties it, so each step of a test sees only its own changes.
func (s *source) changes() []change {
	s.t.Helper()
	var out []change
	for _, e := range s.entries() {
		require.Equal(s.t, len(e.Items), e.N, "n of entry %d", e.Version)
		require.Equal(s.t, e.Items[0].Version, e.Version, "version of entry is its first change")
		require.Equal(s.t, e.Items[len(e.Items)-1].Version, e.Last, "last_version of entry")
		for i, it := range e.Items {
			if i > 0 {
				require.Greater(s.t, it.Version, e.Items[i-1].Version, "items in version order")
			}
			out = append(out, change{Op: e.Op, Table: e.Table, Version: it.Version, TxID: e.TxID,
				Key: string(it.Key), Row: string(it.Row)})
		}
	}
	s.exec(`DELETE FROM pgfanout.changes`)
	return out
}

// want is an expected change; key and row compare as JSON values.
type want struct {
	Op       string
	Key, Row string
}

func requireChanges(t testing.TB, want []want, got []change) {
	t.Helper()
	require.Len(t, got, len(want), "changes: %+v", got)
	for i, w := range want {
		require.Equal(t, w.Op, got[i].Op, "op of change %d (%+v)", i, got[i])
		require.JSONEq(t, w.Key, got[i].Key, "key of change %d", i)
		require.JSONEq(t, w.Row, got[i].Row, "row of change %d", i)
		if i > 0 {
			require.Greater(t, got[i].Version, got[i-1].Version)
		}
	}
}
