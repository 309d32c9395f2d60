package apply

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/dml"
)

// The statements that join a batch to its bookkeeping must probe row_versions once per
// change, whatever the planner believes of the table: pgx prepares each statement once per
// connection, and its generic plan, made while row_versions was nearly empty and had no
// statistics (a new replica), is kept as the table grows. A plan with the entries outside
// costs O(entries × batch) per statement (found by make bench-e2e: 20k rows took minutes).
func TestGenericPlansProbeEntriesPerChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE k (id int PRIMARY KEY, v text)`)
	ctx := context.Background()
	require.NoError(t, f.applier.Prepare(ctx))
	// No ANALYZE may come to the rescue during the test.
	_, err := f.rep.Exec(ctx, `ALTER TABLE pgfanout.row_versions SET (autovacuum_enabled = false);
		ALTER TABLE k SET (autovacuum_enabled = false)`)
	require.NoError(t, err)
	f.apply(t, []change.Change{ch("k", 1, change.Insert, `{"id":0}`, `{"id":0,"v":"x"}`)})
	tb, err := f.applier.Describe(ctx, "public", "k")
	require.NoError(t, err)
	var relid uint32
	require.NoError(t, f.rep.QueryRow(ctx, `SELECT 'k'::regclass::oid`).Scan(&relid))
	statements := map[string]string{"upsert": dml.Upsert(tb, []string{"id", "v"}), "delete": dml.DeleteRows(tb)}
	args := fmt.Sprintf(`(%d, '{1}', '{"{\"id\":0,\"v\":\"x\"}"}')`, relid)
	for name, sql := range statements {
		_, err := f.rep.Exec(ctx, "PREPARE "+name+"(oid, bigint[], text[]) AS "+sql)
		require.NoError(t, err)
		for range 6 { // the plan cache settles on a generic plan after five custom ones
			_, err = f.rep.Exec(ctx, "EXECUTE "+name+args)
			require.NoError(t, err)
		}
	}
	for b := range 10 {
		var cs []change.Change
		for i := range 1000 {
			id := b*1000 + i + 1
			cs = append(cs, ch("k", int64(id+1), change.Insert, fmt.Sprintf(`{"id":%d}`, id), fmt.Sprintf(`{"id":%d,"v":"x"}`, id)))
		}
		f.apply(t, cs)
	}
	for name := range statements {
		rows, err := f.rep.Query(ctx, "EXPLAIN EXECUTE "+name+args)
		require.NoError(t, err)
		var lines []string
		for rows.Next() {
			var l string
			require.NoError(t, rows.Scan(&l))
			lines = append(lines, l)
		}
		require.NoError(t, rows.Err())
		plan := strings.Join(lines, "\n")
		require.Contains(t, plan, "Index Scan using row_versions_pkey", "%s:\n%s", name, plan)
		for _, scan := range []string{"Seq Scan on row_versions", "Heap Scan on row_versions", "Seq Scan on k"} {
			require.NotContains(t, plan, scan, "%s:\n%s", name, plan)
		}
	}
}
