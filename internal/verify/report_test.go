package verify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRanges(t *testing.T) {
	require.Equal(t, []keyRange{{}}, ranges(nil), "no bounds: one range, unbounded both ways")
	require.Equal(t, []keyRange{{hi: []byte("a")}, {lo: []byte("a"), hi: []byte("b")}, {lo: []byte("b")}},
		ranges([][]byte{[]byte("a"), []byte("b")}))
}

func hashes(kv ...any) rowHashes {
	var h rowHashes
	for i := 0; i < len(kv); i += 2 {
		h.add(kv[i].(string), int64(kv[i+1].(int)))
	}
	return h
}

func TestDiffKeys(t *testing.T) {
	src := hashes(`{"id":1}`, 10, `{"id":2}`, 20, `{"id":3}`, 30)
	rep := hashes(`{"id":1}`, 10, `{"id":3}`, 31, `{"id":9}`, 90)
	require.Equal(t, []found{
		{key: `{"id":2}`, kind: KindMissing, rows: 1},
		{key: `{"id":3}`, kind: KindChanged, rows: 1},
		{key: `{"id":9}`, kind: KindExtra, rows: 1},
	}, diffKeys(src, rep))
	require.Empty(t, diffKeys(src, src))
}

func TestDiffImages(t *testing.T) {
	src := hashes("7", 2, "8", 1)
	rep := hashes("7", 3, "9", 4)
	require.Equal(t, []found{
		{key: "7", kind: KindExtra, rows: 1},
		{key: "8", kind: KindMissing, rows: 1},
		{key: "9", kind: KindExtra, rows: 4},
	}, diffImages(src, rep))
}

func TestLines(t *testing.T) {
	orders := TableReport{Schema: "public", Table: "orders", Status: Compared, KeyColumns: 1, Rows: 200000, Chunks: 20}
	require.Equal(t, "public.orders: 200000 rows in 20 chunks: equal", orders.Line())
	orders.InFlight = 2
	require.Equal(t, "public.orders: 200000 rows in 20 chunks: equal (2 rows were in flight)", orders.Line())
	orders.InFlight = 0
	orders.Found = Differences{Changed: 1, Missing: 1, Extra: 1, Diffs: []Diff{
		{KindChanged, `{"id":10}`, 1}, {KindMissing, `{"id":20}`, 1}, {KindExtra, `{"id":99999999}`, 1}}}
	require.Equal(t, "public.orders: 200000 rows in 20 chunks: 3 rows differ (changed 10, missing 20, extra 99999999)", orders.Line())
	require.False(t, orders.Equal())
	orders.Repair = &Repair{Chunks: 3, Rows: 30000}
	require.Equal(t, "public.orders: 200000 rows in 20 chunks: 3 rows differ (changed 10, missing 20, extra 99999999); "+
		"repaired 3 chunks (30000 rows copied again): equal", orders.Line())
	require.True(t, orders.Equal(), "equal once repaired")
	orders.Repair.Left = Differences{Changed: 1, Diffs: []Diff{{KindChanged, `{"id":10}`, 1}}}
	require.Contains(t, orders.Line(), "copied again): 1 row differs (changed 10)")
	require.False(t, orders.Equal())

	text := TableReport{Schema: "s", Table: "t", Status: Compared, KeyColumns: 1, Chunks: 1,
		Found: Differences{Missing: 5, Diffs: []Diff{{KindMissing, `{"name":"a, b"}`, 1}}}, InFlight: 1}
	require.Equal(t, `s.t: 0 rows in 1 chunk: 5 rows differ: 5 missing (missing "a, b", and 4 more); 1 more was in flight`, text.Line())

	require.Equal(t, "s.gone: missing on the replica", TableReport{Schema: "s", Table: "gone", Status: Missing, Reason: "missing on the replica"}.Line())
	require.False(t, TableReport{Status: Incomplete}.Equal())
}

func TestSummary(t *testing.T) {
	r := &Report{Comparing: 2 * time.Second, Elapsed: 5 * time.Second, Tables: []TableReport{
		{Status: Compared, Rows: 600000, Chunks: 60},
		{Status: Compared, Rows: 400000, Chunks: 40, Found: Differences{Extra: 1}, Repair: &Repair{Chunks: 1}},
		{Status: Missing},
	}}
	require.Equal(t, "verify: 3 tables, 1000000 rows in 100 chunks: 2 equal, 1 not, 1 repaired; compared in 2s (500000 rows/s), 5s in all", r.Summary())
	require.False(t, r.Equal())
	r.Tables = r.Tables[:2]
	require.True(t, r.Equal())
}
