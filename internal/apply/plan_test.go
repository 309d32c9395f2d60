package apply

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/dml"
)

// fakeTables describes public.k (keyed, with a generated column) and public.l (keyless).
func fakeTables(n tableName) (*table, error) {
	switch n {
	case tableName{"public", "k"}:
		return newTable(1, dml.Table{Schema: "public", Name: "k", Key: []string{"id"}, Columns: []dml.Column{
			{Name: "id"}, {Name: "a"}, {Name: "b"}, {Name: "g", Generated: true}}}), nil
	case tableName{"public", "l"}:
		return newTable(2, dml.Table{Schema: "public", Name: "l", Columns: []dml.Column{{Name: "x"}, {Name: "y"}}}), nil
	}
	return nil, dataErrorf("table %s does not exist on the replica", n)
}

func TestBuildPlanGroups(t *testing.T) {
	p, err := buildPlan([]change.Change{
		ch("l", 1, change.Insert, "", `{"x":1,"y":2}`),
		ch("k", 2, change.Insert, `{"id":1}`, `{"id":1,"a":"x","b":null,"g":"ignored"}`),
		ch("k", 3, change.Update, `{"id":2}`, `{"id":2,"a":"y"}`), // fewer columns: own group
		ch("k", 4, change.Update, `{"id":1}`, `{"b":1,"id":1,"a":"z"}`),
		ch("k", 5, change.Delete, `{"id":3}`, ""),
		ch("k", 6, change.Truncate, "", ""),
		ch("k", 7, change.Truncate, "", ""),
		ch("l", 8, change.Delete, `{"x":1,"y":2}`, ""),
	}, fakeTables)
	require.NoError(t, err)
	require.Len(t, p.tables, 2)
	k, l := p.tables[0], p.tables[1]
	require.Equal(t, "k", k.name.name, "tables in name order")
	require.Equal(t, int64(7), k.truncate)
	require.Equal(t, []int64{5}, k.deletes.versions)
	groups := k.sortedGroups()
	require.Len(t, groups, 2)
	var cols [][]string
	for _, g := range groups {
		cols = append(cols, k.t.groupColumns(g.sig))
	}
	require.ElementsMatch(t, [][]string{{"id", "a", "b"}, {"id", "a"}}, cols)
	require.Equal(t, 6, k.changes)
	require.Equal(t, []int64{1, 8}, l.keyless.versions)
	require.Equal(t, []int32{1, -1}, l.deltas)
}

func TestBuildPlanRejects(t *testing.T) {
	cases := map[string]change.Change{
		"unknown table":         ch("nope", 1, change.Insert, "", `{"x":1}`),
		"unknown column":        ch("k", 1, change.Insert, `{"id":1}`, `{"id":1,"zz":1}`),
		"missing key":           ch("k", 1, change.Update, `{"id":1}`, `{"a":1}`),
		"delete key incomplete": ch("k", 1, change.Delete, `{"a":1}`, ""),
		"keyed into keyless":    ch("l", 1, change.Insert, `{"x":1}`, `{"x":1}`),
		"keyless unknown col":   ch("l", 1, change.Delete, `{"z":1}`, ""),
		"row not object":        ch("k", 1, change.Insert, "", `"s"`),
		"unknown op":            {Version: 1, Op: "merge", Schema: "public", Table: "k"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := buildPlan([]change.Change{c}, fakeTables)
			var de *DataError
			require.True(t, errors.As(err, &de), "want a DataError, got %v", err)
		})
	}
}

func TestIsTransient(t *testing.T) {
	cases := map[string]bool{
		"40001": true, "40P01": true, "08006": true, "53300": true, "57P01": true, "55P03": true, "25006": true,
		"23505": false, "22P02": false, "42P01": false, "42703": false, "57014": false, "XX000": false, "54000": false,
	}
	for code, want := range cases {
		require.Equal(t, want, IsTransient(&pgconn.PgError{Code: code}), code)
	}
	require.True(t, IsTransient(errors.New("connection reset")))
	require.True(t, IsTransient(fmt.Errorf("begin: %w", &pgconn.ConnectError{Config: &pgconn.Config{}})), "connect errors")
	require.True(t, IsTransient(&setupError{err: &pgconn.PgError{Code: "42501"}}), "no privilege to create the bookkeeping")
	require.False(t, IsTransient(dataErrorf("bad")))
	require.False(t, IsTransient(nil))
}

func TestIsDeadlock(t *testing.T) {
	require.True(t, IsDeadlock(fmt.Errorf("apply: %w", &pgconn.PgError{Code: "40P01"})))
	require.False(t, IsDeadlock(&pgconn.PgError{Code: "40001"}), "a serialization failure is not a deadlock")
	require.False(t, IsDeadlock(errors.New("connection reset")))
	require.False(t, IsDeadlock(nil))
}

// FuzzDecodeAndPlan: whatever a message body holds, decoding and planning it never panics,
// and a body that plans has only changes of known tables and columns.
func FuzzDecodeAndPlan(f *testing.F) {
	f.Add([]byte(`[{"version":1,"op":"insert","schema":"public","table":"k","key":{"id":1},"row":{"id":1,"a":"x"}}]`))
	f.Add([]byte(`[{"version":2,"op":"delete","schema":"public","table":"l","key":{"x":[1,{"y":"}"}]},"row":null}]`))
	f.Add([]byte(`[{"version":3,"op":"truncate","schema":"public","table":"k","key":null,"row":null}]`))
	f.Add([]byte(`[{"version":4,"op":"update","schema":"public","table":"k","key":null,"row":{"id":1,"\u0061":2}}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		changes, err := change.Decode(body)
		if err != nil {
			return
		}
		p, err := buildPlan(changes, fakeTables)
		if err != nil {
			var de *DataError
			require.True(t, errors.As(err, &de), "planning errors are data errors: %v", err)
			return
		}
		n := 0
		for _, tp := range p.tables {
			n += tp.changes
		}
		require.Equal(t, len(changes), n)
	})
}

// Planning must not allocate per change: column names are looked up without copying them and
// an upsert joins its group without building its signature.
func TestBuildPlanAllocatesPerGroupNotPerChange(t *testing.T) {
	changes := make([]change.Change, 1000)
	for i := range changes {
		changes[i] = ch("k", int64(i+1), change.Update, fmt.Sprintf(`{"id":%d}`, i), fmt.Sprintf(`{"id":%d,"a":"x","b":%d}`, i, i))
	}
	allocs := testing.AllocsPerRun(5, func() {
		_, err := buildPlan(changes, fakeTables)
		require.NoError(t, err)
	})
	require.Less(t, allocs, 100.0, "allocations for 1000 changes")
}
