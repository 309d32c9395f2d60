package verify

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"github.com/sourcegraph/conc/pool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a source with the capture and tracked tables, and a replica with the same tables and
// rows (as if replicated), to be tampered with.
type rig struct {
	srcURL, repURL string
	src, rep       *pgx.Conn
}

// ordersDDL is a keyed table whose names need quoting, and a keyless one.
var ordersDDL = []string{
	`CREATE TABLE "Order Lines" ("order" int, "line no" int, qty numeric, note text, f float8, at timestamptz,
		total numeric GENERATED ALWAYS AS (qty * 2) STORED, PRIMARY KEY ("order", "line no"))`,
	`CREATE TABLE events (kind text, n int)`,
}

const ordersRows = `INSERT INTO "Order Lines" ("order", "line no", qty, note, f, at)
	SELECT g / 10, g % 10, g / 3.0, CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('n', g % 40) END, g * 0.1, '2024-01-01'::timestamptz + g * interval '1 min'
	FROM generate_series(1, 5000) g`

const eventsRows = `INSERT INTO events SELECT 'k' || (g % 5), g % 3 FROM generate_series(1, 300) g`

func newRig(t testing.TB, ddl ...string) *rig {
	t.Helper()
	r := &rig{srcURL: testenv.NewCaptureDatabase(t), repURL: testenv.NewDatabase(t)}
	r.src, r.rep = sourcetest.Connect(t, r.srcURL), sourcetest.Connect(t, r.repURL)
	sourcetest.Exec(t, r.src, ddl...)
	sourcetest.Exec(t, r.rep, ddl...)
	return r
}

// orders is a rig with both tables tracked and filled alike on both sides.
func orders(t *testing.T) *rig {
	t.Helper()
	r := newRig(t, ordersDDL...)
	sourcetest.Exec(t, r.src, ordersRows, eventsRows, `ANALYZE`, `SELECT pgfanout.track('"Order Lines"'), pgfanout.track('events')`)
	sourcetest.Exec(t, r.rep, ordersRows, eventsRows)
	return r
}

func (r *rig) verifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	cfg.SourceURL, cfg.ReplicaURL = r.srcURL, r.repURL
	if cfg.ChunkRows == 0 {
		cfg.ChunkRows = 700
	}
	if cfg.RecheckEvery == 0 {
		cfg.RecheckEvery = 50 * time.Millisecond
	}
	v, err := New(cfg, zerolog.Nop())
	require.NoError(t, err)
	t.Cleanup(v.Close)
	return v
}

func (r *rig) verify(t testing.TB, cfg Config) *Report {
	t.Helper()
	rep, err := r.verifier(t, cfg).Run(context.Background())
	require.NoError(t, err)
	return rep
}

func tableOf(t *testing.T, rep *Report, name string) TableReport {
	t.Helper()
	for _, tr := range rep.Tables {
		if tr.Table == name {
			return tr
		}
	}
	t.Fatalf("no report of table %s in %+v", name, rep.Tables)
	return TableReport{}
}

func TestEqualTablesAreEqual(t *testing.T) {
	r := orders(t)
	// Not part of the comparison: generated values and the replica's own extra column.
	sourcetest.Exec(t, r.rep, `ALTER TABLE "Order Lines" ADD COLUMN replica_only int DEFAULT 7`)
	rep := r.verify(t, Config{})
	require.True(t, rep.Equal(), "%+v", rep.Tables)
	lines := tableOf(t, rep, "Order Lines")
	require.Equal(t, int64(5000), lines.Rows)
	require.Equal(t, 8, lines.Chunks, "5000 rows in chunks of 700")
	require.Equal(t, "public.Order Lines: 5000 rows in 8 chunks: equal", lines.Line())
	events := tableOf(t, rep, "events")
	require.True(t, events.Keyless)
	require.Equal(t, int64(300), events.Rows)
	require.Contains(t, rep.Summary(), "verify: 2 tables, 5300 rows in 9 chunks: 2 equal, 0 not; compared in ")
}

func TestChangedMissingAndExtraRowsAreReportedAndRepaired(t *testing.T) {
	r := orders(t)
	sourcetest.Exec(t, r.rep, `UPDATE "Order Lines" SET note = 'tampered' WHERE "order" = 10 AND "line no" = 1`,
		`DELETE FROM "Order Lines" WHERE "order" = 200 AND "line no" = 0`,
		`INSERT INTO "Order Lines" ("order", "line no", qty) VALUES (99999, 9, 1)`,
		`UPDATE "Order Lines" SET f = f + 1e-13 WHERE "order" = 300 AND "line no" = 3`)
	rep := r.verify(t, Config{Recheck: 200 * time.Millisecond})
	require.False(t, rep.Equal())
	lines := tableOf(t, rep, "Order Lines")
	require.Equal(t, Differences{Changed: 2, Missing: 1, Extra: 1, Diffs: []Diff{
		{KindChanged, `{"order":10,"line no":1}`, 1},
		{KindMissing, `{"order":200,"line no":0}`, 1},
		{KindChanged, `{"order":300,"line no":3}`, 1},
		{KindExtra, `{"order":99999,"line no":9}`, 1},
	}}, lines.Found)
	require.Equal(t, `public.Order Lines: 5000 rows in 8 chunks: 4 rows differ (changed {"order":10,"line no":1}, `+
		`missing {"order":200,"line no":0}, changed {"order":300,"line no":3}, extra {"order":99999,"line no":9})`, lines.Line())
	require.True(t, tableOf(t, rep, "events").Equal())

	limited := tableOf(t, r.verify(t, Config{MaxKeys: 1}), "Order Lines")
	require.Contains(t, limited.Line(), `4 rows differ: 2 changed, 1 missing, 1 extra (changed {"order":10,"line no":1}, and 3 more)`)

	repaired := r.verify(t, Config{Repair: true, Recheck: 200 * time.Millisecond})
	require.True(t, repaired.Equal(), "%+v", repaired.Tables)
	lines = tableOf(t, repaired, "Order Lines")
	require.Equal(t, 4, lines.Repair.Chunks, "the four keys are in four ranges")
	require.Contains(t, lines.Line(), "; repaired 4 chunks (")
	require.Contains(t, lines.Line(), "rows copied again): equal")
	require.Equal(t, sourcetest.Dump(t, r.src, "public", "Order Lines"), sourcetest.Dump(t, r.rep, "public", "Order Lines"))
	var chunks, rows int
	require.NoError(t, r.rep.QueryRow(context.Background(), `SELECT count(*), sum(rows) FROM pgfanout.copy_chunks
		WHERE table_name = 'Order Lines' AND plan = 0 AND state = 'done' AND snapshot IS NOT NULL`).Scan(&chunks, &rows))
	require.Equal(t, 4, chunks, "each repaired range is recorded as a copied chunk")
	require.Equal(t, int64(rows), lines.Repair.Rows)
	require.True(t, r.verify(t, Config{}).Equal())
}

func TestRepairRecordsTheChunkInTheCurrentPlan(t *testing.T) {
	r := orders(t)
	v := r.verifier(t, Config{Repair: true})
	require.NoError(t, v.applier.Prepare(context.Background()))
	sourcetest.Exec(t, r.rep, `INSERT INTO pgfanout.copy_tables (schema_name, table_name, epoch, plan, state, chunks)
		VALUES ('public', 'Order Lines', '1', 3, 'done', 8)`,
		`INSERT INTO pgfanout.copy_chunks (schema_name, table_name, plan, ordinal, state) SELECT 'public', 'Order Lines', 3, g, 'done'
		FROM generate_series(0, 7) g`,
		`DELETE FROM "Order Lines" WHERE "order" = 1`)
	rep, err := v.Run(context.Background())
	require.NoError(t, err)
	require.True(t, rep.Equal(), "%+v", rep.Tables)
	var ordinal, chunks int
	require.NoError(t, r.rep.QueryRow(context.Background(), `SELECT max(c.ordinal), max(t.chunks) FROM pgfanout.copy_chunks c
		JOIN pgfanout.copy_tables t USING (schema_name, table_name, plan) WHERE c.table_name = 'Order Lines' AND c.copied_by = $1`,
		"pgfanout-replicator verify").Scan(&ordinal, &chunks))
	require.Equal(t, 8, ordinal, "after the plan's last chunk")
	require.Equal(t, 9, chunks, "the plan counts the repair's chunk")
}

func TestKeylessTablesCompareAsMultisets(t *testing.T) {
	r := orders(t)
	sourcetest.Exec(t, r.rep, `INSERT INTO events SELECT * FROM events WHERE kind = 'k1' AND n = 1 LIMIT 1`)
	rep := r.verify(t, Config{Repair: true, Recheck: 100 * time.Millisecond})
	require.False(t, rep.Equal())
	events := tableOf(t, rep, "events")
	require.Equal(t, Differences{Extra: 1, Diffs: []Diff{{KindExtra, "(k1,1)", 1}}}, events.Found)
	require.Equal(t, "public.events: 300 rows (no primary key: compared as a whole): 1 row image differs (extra (k1,1)); "+
		"not repaired: --repair does not support tables without a primary key yet", events.Line())
	sourcetest.Exec(t, r.src, `DELETE FROM events WHERE kind = 'k2'`)
	events = tableOf(t, r.verify(t, Config{}), "events")
	require.Equal(t, Differences{Extra: 61}, Differences{Changed: events.Found.Changed, Missing: events.Found.Missing, Extra: events.Found.Extra},
		"60 rows gone from the source, and the duplicate")
	require.Len(t, events.Found.Diffs, 4, "four images")
	require.Contains(t, events.Line(), "61 row images differ (")
	require.Contains(t, events.Line(), "extra 20 × (k2,0)")
	require.Contains(t, events.Line(), "extra (k1,1)")
	events = tableOf(t, r.verify(t, Config{MaxKeys: 1}), "events")
	require.Regexp(t, `61 row images differ: 61 extra \(extra .*, and \d+ more\)$`, events.Line())
}

func TestTablesThatCannotBeComparedAreNotEqual(t *testing.T) {
	r := orders(t)
	sourcetest.Exec(t, r.src, `CREATE TABLE absent (id int PRIMARY KEY)`, `CREATE TABLE narrow (id int PRIMARY KEY, wide text)`,
		`CREATE TABLE failed (id int PRIMARY KEY)`,
		`SELECT pgfanout.track('absent'), pgfanout.track('narrow'), pgfanout.track('failed')`)
	sourcetest.Exec(t, r.rep, `CREATE TABLE narrow (id int PRIMARY KEY)`, `CREATE TABLE failed (id int PRIMARY KEY)`)
	v := r.verifier(t, Config{})
	require.NoError(t, v.applier.Prepare(context.Background()))
	sourcetest.Exec(t, r.rep, `INSERT INTO pgfanout.copy_tables (schema_name, table_name, epoch, state, reason)
		VALUES ('public', 'failed', '1', 'failed', 'no such luck')`)
	rep, err := v.Run(context.Background())
	require.NoError(t, err)
	require.False(t, rep.Equal())
	require.Equal(t, "public.absent: missing on the replica", tableOf(t, rep, "absent").Line())
	require.Equal(t, Incompatible, tableOf(t, rep, "narrow").Status)
	require.Contains(t, tableOf(t, rep, "narrow").Line(), `column "wide" of the source table does not exist in the replica table`)
	require.Equal(t, "public.failed: copy failed: no such luck", tableOf(t, rep, "failed").Line())
	require.True(t, tableOf(t, rep, "Order Lines").Equal(), "the other tables are compared")
	require.Contains(t, rep.Summary(), "2 equal, 3 not;")

	only := r.verify(t, Config{Match: func(s, tb string) bool { return tb == "events" }})
	require.Len(t, only.Tables, 1)
	_, err = r.verifier(t, Config{Match: func(string, string) bool { return false }}).Run(context.Background())
	require.ErrorContains(t, err, "no tracked table of the source matches")
}

// TestKeysInFlightAreNotReported: a key that differs when its range is compared and is equal
// at a re-check (as the stream would make it) is not a difference.
func TestKeysInFlightAreNotReported(t *testing.T) {
	r := orders(t)
	sourcetest.Exec(t, r.rep, `UPDATE "Order Lines" SET note = 'not yet' WHERE "order" = 42 AND "line no" = 2`,
		`INSERT INTO events VALUES ('not yet', 0)`)
	v := r.verifier(t, Config{Recheck: time.Minute})
	g := pool.NewWithResults[*Report]().WithErrors()
	g.Go(func() (*Report, error) { return v.Run(context.Background()) })
	testenv.Eventually(t, "the re-checks", time.Minute, func() bool {
		p := v.Progress()
		return p.Phase == PhaseRechecking && p.Rechecks >= 1 && p.Candidates == 2 // still unequal at a re-check
	})
	sourcetest.Exec(t, r.rep, `UPDATE "Order Lines" SET note = repeat('n', 422 % 40) WHERE "order" = 42 AND "line no" = 2`,
		`DELETE FROM events WHERE kind = 'not yet'`)
	reports, err := g.Wait()
	require.NoError(t, err)
	rep := reports[0]
	require.True(t, rep.Equal(), "%+v", rep.Tables)
	require.Equal(t, int64(1), tableOf(t, rep, "Order Lines").InFlight)
	require.Equal(t, int64(1), tableOf(t, rep, "events").InFlight)
	require.Equal(t, "public.Order Lines: 5000 rows in 8 chunks: equal (1 row was in flight)", tableOf(t, rep, "Order Lines").Line())
	require.Less(t, rep.Elapsed, time.Minute, "the re-checks end once nothing differs")
}
