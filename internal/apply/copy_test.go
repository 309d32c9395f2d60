package apply

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/dml"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/source"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// copyStep is one thing that reaches the replica: a batch of changes or a copied chunk.
type copyStep struct {
	changes []change.Change
	chunk   *Chunk
}

// readChunks copies every chunk of table in one snapshot each, running a few workload
// statements between two chunks, so that every chunk sees another state of the source.
func readChunks(t *testing.T, f *fixture, r *rand.Rand, src *source.Source, table string) []*Chunk {
	t.Helper()
	ctx := context.Background()
	def, err := src.Describe(ctx, "public", table)
	require.NoError(t, err)
	bounds, err := src.Bounds(ctx, def, 40)
	require.NoError(t, err)
	edges := append(append([][]byte{nil}, bounds...), nil)
	var out []*Chunk
	for i := 0; i+1 < len(edges); i++ {
		runWorkload(t, f, r, n(r, 2, 20))
		snap, rows, err := src.ReadChunk(ctx, def, edges[i], edges[i+1])
		require.NoError(t, err)
		out = append(out, &Chunk{Schema: "public", Table: table, Lo: edges[i], Hi: edges[i+1], Snapshot: snap.Text, SeqHigh: snap.SeqHigh, Rows: rows})
	}
	return out
}

// applyChunk records the chunk in copy_chunks and applies it, in one transaction, as the
// copier does.
func (f *fixture) applyChunk(t *testing.T, c *Chunk) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, f.applier.ensureSchema(ctx))
	tx, err := f.applier.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	require.NoError(t, tx.QueryRow(ctx, `INSERT INTO pgfanout.copy_chunks (schema_name, table_name, plan, ordinal, state, snapshot)
		VALUES ($1, $2, 1, (SELECT count(*) FROM pgfanout.copy_chunks), 'done', $3::pg_snapshot) RETURNING id`,
		c.Schema, c.Table, c.Snapshot).Scan(&c.ID))
	hold, err := f.applier.HoldHorizon(ctx, tx)
	require.NoError(t, err)
	_, err = f.applier.ApplyChunk(ctx, tx, hold, c)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
}

// TestCopyConvergence is the hand-over of docs/bootstrap.md: the changes made before the
// replica's queue existed are lost (only the copy holds them); chunks are copied in snapshots
// of their own while writes go on, some twice (a resync); and changes and chunks reach the
// replica in any order, changes duplicated. The replica must end equal to the source.
func TestCopyConvergence(t *testing.T) {
	for _, tc := range []struct {
		seed   uint64
		resync bool // more writes after the copy, and a second copy of kv's ranges
	}{{11, false}, {12, false}, {13, false}, {14, true}, {15, true}, {16, true}} {
		seed := tc.seed
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 99))
			f := newFixture(t, workloadDDL...)
			f.track(t, workloadTables...)
			runWorkload(t, f, r, 120)
			f.entries(t) // published before the queue existed: lost, the copy must supply them
			src, err := source.Open(context.Background(), f.srcURL, liveness.Defaults(), 1)
			require.NoError(t, err)
			t.Cleanup(src.Close)

			var chunks []*Chunk
			for _, tb := range []string{"kv", "kc"} {
				chunks = append(chunks, readChunks(t, f, r, src, tb)...)
			}
			var resync []*Chunk
			if tc.resync {
				runWorkload(t, f, r, 40)
				resync = readChunks(t, f, r, src, "kv") // later snapshots of the same ranges
				runWorkload(t, f, r, 40)
			}
			changes := sourcetest.Flatten(f.entries(t))

			var steps []copyStep
			for _, b := range deliveries(r, changes) {
				steps = append(steps, copyStep{changes: b})
			}
			for _, c := range chunks {
				k := r.IntN(len(steps) + 1)
				steps = append(steps[:k], append([]copyStep{{chunk: c}}, steps[k:]...)...)
			}
			// A resync's copy of a range comes after the first copy of it (docs/bootstrap.md).
			for _, c := range resync {
				first := 0
				for i, s := range steps {
					if s.chunk != nil && s.chunk.Table == c.Table && string(s.chunk.Lo) == string(c.Lo) {
						first = i + 1
					}
				}
				k := first + r.IntN(len(steps)-first+1)
				steps = append(steps[:k], append([]copyStep{{chunk: c}}, steps[k:]...)...)
			}
			for _, s := range steps {
				if s.chunk != nil {
					f.applyChunk(t, s.chunk)
				} else {
					f.apply(t, s.changes)
				}
			}
			f.requireSame(t, "public", "kv", "kc") // kl is keyless: not copied here
		})
	}
}

// A copy that predates a truncate the replica already applied must write nothing.
func TestCopyOlderThanATruncateIsSkipped(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `CREATE TABLE kv (id int PRIMARY KEY, a text, num numeric)`)
	f.track(t, "kv")
	_, err := f.src.Exec(ctx, `INSERT INTO kv SELECT g, 'x', g FROM generate_series(1, 50) g`)
	require.NoError(t, err)
	f.entries(t)
	src, err := source.Open(ctx, f.srcURL, liveness.Defaults(), 1)
	require.NoError(t, err)
	t.Cleanup(src.Close)
	def, err := src.Describe(ctx, "public", "kv")
	require.NoError(t, err)
	snap, rows, err := src.ReadChunk(ctx, def, nil, nil)
	require.NoError(t, err)
	require.Len(t, rows, 50)
	_, err = f.src.Exec(ctx, `TRUNCATE kv`)
	require.NoError(t, err)
	f.apply(t, sourcetest.Flatten(f.entries(t)))
	f.applyChunk(t, &Chunk{Schema: "public", Table: "kv", Snapshot: snap.Text, SeqHigh: snap.SeqHigh, Rows: rows})
	f.requireSame(t, "public", "kv")
	var n int
	require.NoError(t, f.rep.QueryRow(ctx, `SELECT count(*) FROM kv`).Scan(&n))
	require.Zero(t, n)
}

// A truncate that arrives after a copy which already saw it must leave the copied rows alone,
// even when the rows' own changes (seen by the copy, so skipped) came before it.
func TestTruncateTheCopySawKeepsTheCopy(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `CREATE TABLE kv (id int PRIMARY KEY, a text, num numeric)`)
	f.track(t, "kv")
	for _, q := range []string{
		`INSERT INTO kv SELECT g, 'old', g FROM generate_series(1, 10) g`,
		`TRUNCATE kv`,
		`INSERT INTO kv SELECT g, 'new', g FROM generate_series(11, 20) g`,
	} {
		_, err := f.src.Exec(ctx, q)
		require.NoError(t, err)
	}
	src, err := source.Open(ctx, f.srcURL, liveness.Defaults(), 1)
	require.NoError(t, err)
	t.Cleanup(src.Close)
	def, err := src.Describe(ctx, "public", "kv")
	require.NoError(t, err)
	snap, rows, err := src.ReadChunk(ctx, def, nil, nil)
	require.NoError(t, err)
	f.applyChunk(t, &Chunk{Schema: "public", Table: "kv", Snapshot: snap.Text, SeqHigh: snap.SeqHigh, Rows: rows})

	var first, truncate, last []change.Change
	for _, c := range sourcetest.Flatten(f.entries(t)) {
		switch {
		case c.Op == change.Truncate:
			truncate = append(truncate, c)
		case truncate == nil:
			first = append(first, c)
		default:
			last = append(last, c)
		}
	}
	f.apply(t, last) // seen by the copy: skipped
	f.apply(t, truncate)
	f.apply(t, first)
	f.requireSame(t, "public", "kv")
}

// A change that waits for the locks of a chunk being applied, and newer than the chunk's
// snapshot, must still be applied once the chunk commits: the statement that waited sees the
// chunk's entries as committed, but nothing else the chunk wrote (docs/bootstrap.md).
func TestChangeWaitingForAChunkIsApplied(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `CREATE TABLE kv (id int PRIMARY KEY, a text, num numeric)`)
	f.track(t, "kv")
	_, err := f.src.Exec(ctx, `INSERT INTO kv SELECT g, 'copied', g FROM generate_series(1, 10) g`)
	require.NoError(t, err)
	f.entries(t)
	src, err := source.Open(ctx, f.srcURL, liveness.Defaults(), 1)
	require.NoError(t, err)
	t.Cleanup(src.Close)
	def, err := src.Describe(ctx, "public", "kv")
	require.NoError(t, err)
	snap, rows, err := src.ReadChunk(ctx, def, nil, nil)
	require.NoError(t, err)
	_, err = f.src.Exec(ctx, `UPDATE kv SET a = 'newer' WHERE id = 3`)
	require.NoError(t, err)
	update := sourcetest.Flatten(f.entries(t))

	require.NoError(t, f.applier.ensureSchema(ctx))
	tx, err := f.applier.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	hold, err := f.applier.HoldHorizon(ctx, tx) // after the read: no prune runs in this test
	require.NoError(t, err)
	_, err = f.applier.ApplyChunk(ctx, tx, hold, &Chunk{Schema: "public", Table: "kv", Snapshot: snap.Text, SeqHigh: snap.SeqHigh, Rows: rows})
	require.NoError(t, err)
	applied := make(chan error, 1)
	other := New(newPool(t, f.repURL))
	go func() { applied <- other.Apply(ctx, update) }()
	testenv.Eventually(t, "the change to wait for the chunk's locks", 30*time.Second, func() bool {
		var waiting bool
		require.NoError(t, f.rep.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock')`).Scan(&waiting))
		return waiting
	})
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-applied)
	f.requireSame(t, "public", "kv")
}

// TestKeylessCopyConvergence: a table without a primary key is copied whole, in the middle of
// its stream: events delivered before the copy are replaced by it, events the copy saw that
// arrive after it are dropped, events it did not see are applied, duplicates and reordering
// included. The changes made before the replica's queue existed reach it only through the
// copy.
func TestKeylessCopyConvergence(t *testing.T) {
	for _, seed := range []uint64{21, 22, 23, 24} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r := rand.New(rand.NewPCG(seed, 5))
			f := newFixture(t, workloadDDL...)
			f.track(t, workloadTables...)
			runWorkload(t, f, r, 60)
			f.entries(t) // before the queue existed
			src, err := source.Open(ctx, f.srcURL, liveness.Defaults(), 1)
			require.NoError(t, err)
			t.Cleanup(src.Close)
			def, err := src.Describe(ctx, "public", "kl")
			require.NoError(t, err)

			var pending []change.Change
			deliver := func(all bool) {
				r.Shuffle(len(pending), func(i, j int) { pending[i], pending[j] = pending[j], pending[i] })
				k := len(pending)
				if !all {
					k = r.IntN(len(pending) + 1)
				}
				for _, b := range deliveries(r, pending[:k]) {
					f.apply(t, b)
				}
				pending = pending[k:]
			}
			for round := 0; round < 8; round++ {
				runWorkload(t, f, r, n(r, 5, 25))
				pending = append(pending, sourcetest.Flatten(f.entries(t))...)
				deliver(false)
				if round == 3 {
					f.copyKeyless(t, src, def)
					require.Equal(t, sourcetest.Dump(t, f.src, "public", "kl"), sourcetest.Dump(t, f.rep, "public", "kl"), "right after the copy")
				}
			}
			deliver(true)
			if !assert.Equal(t, sourcetest.Dump(t, f.src, "public", "kl"), sourcetest.Dump(t, f.rep, "public", "kl")) {
				for _, q := range []string{`SELECT relid::text, version, encode(digest,'hex'), delta, txid FROM pgfanout.keyless_log ORDER BY version`,
					`SELECT encode(digest,'hex'), owed FROM pgfanout.keyless_debts`, `SELECT snap::text FROM pgfanout.keyless_copies`,
					`SELECT encode(pgfanout.row_digest(ROW(a, b)),'hex'), a, b FROM kl`, `SELECT * FROM pgfanout.truncations`} {
					rows, _ := f.rep.Query(ctx, q)
					vals, _ := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
					t.Logf("%s:\n%v", q, vals)
				}
			}
		})
	}
}

// copyKeyless copies table kl whole, as the copier does.
func (f *fixture) copyKeyless(t *testing.T, src *source.Source, def *dml.Table) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, f.applier.ensureSchema(ctx))
	tx, err := f.applier.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, _, err = f.applier.CopyKeyless(ctx, tx, "public", "kl", func(ctx context.Context) (string, [][]byte, error) {
		s, rows, err := src.ReadChunk(ctx, def, nil, nil)
		return s.Text, rows, err
	})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
}
