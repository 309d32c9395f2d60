package apply

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sourcegraph/conc/pool"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
)

var workloadDDL = []string{
	`CREATE TABLE kv (id int PRIMARY KEY, a text, num numeric)`,
	`CREATE TABLE kc (k1 text, k2 int, v jsonb, PRIMARY KEY (k1, k2))`,
	`CREATE TABLE kl (a int, b text)`,
}

var workloadTables = []string{"kv", "kc", "kl"}

// op is one source statement template; args draws its parameters.
type op struct {
	weight int
	sql    string
	args   func(r *rand.Rand) []any
}

func n(r *rand.Rand, lo, hi int) int { return lo + r.IntN(hi-lo+1) }

var workload = []op{
	{8, `INSERT INTO kv SELECT g, md5(g::text || $3::bigint), g * 1.5 FROM generate_series($1::int, $2::int) g
		ON CONFLICT (id) DO UPDATE SET a = excluded.a`,
		func(r *rand.Rand) []any { lo := n(r, 1, 300); return []any{lo, lo + n(r, 0, 30), r.Int()} }},
	{5, `UPDATE kv SET a = a || 'u', num = num + 1 WHERE id % $1 = $2`,
		func(r *rand.Rand) []any { m := n(r, 3, 20); return []any{m, n(r, 0, m-1)} }},
	{3, `UPDATE kv SET id = id + 1000 WHERE id IN (SELECT k.id FROM kv k
		WHERE NOT EXISTS (SELECT FROM kv k2 WHERE k2.id = k.id + 1000) ORDER BY k.id LIMIT $1 OFFSET $2)`,
		func(r *rand.Rand) []any { return []any{n(r, 1, 5), n(r, 0, 50)} }},
	{4, `DELETE FROM kv WHERE id % $1 = $2`,
		func(r *rand.Rand) []any { m := n(r, 5, 30); return []any{m, n(r, 0, m-1)} }},
	{1, `TRUNCATE kv`, nil},
	{6, `INSERT INTO kc SELECT 'k' || (g % 7), g, jsonb_build_object('g', g, 'r', $3::int)
		FROM generate_series($1::int, $2::int) g ON CONFLICT DO NOTHING`,
		func(r *rand.Rand) []any { lo := n(r, 1, 200); return []any{lo, lo + n(r, 0, 20), n(r, 0, 9)} }},
	{3, `UPDATE kc SET k1 = k1 || 'x', v = v || '{"moved": true}' WHERE k2 % $1 = 0 AND length(k1) < 5
		AND NOT EXISTS (SELECT FROM kc k WHERE k.k1 = kc.k1 || 'x' AND k.k2 = kc.k2)`,
		func(r *rand.Rand) []any { return []any{n(r, 5, 15)} }},
	{3, `DELETE FROM kc WHERE k2 % $1 = $2`,
		func(r *rand.Rand) []any { m := n(r, 4, 25); return []any{m, n(r, 0, m-1)} }},
	{6, `INSERT INTO kl SELECT $1::int, 'v' || $2::int FROM generate_series(1, $3::int)`,
		func(r *rand.Rand) []any { return []any{n(r, 1, 15), n(r, 1, 3), n(r, 1, 4)} }},
	{3, `UPDATE kl SET b = b || 'x' WHERE ctid IN (SELECT ctid FROM kl WHERE a = $1 LIMIT $2)`,
		func(r *rand.Rand) []any { return []any{n(r, 1, 15), n(r, 1, 2)} }},
	{4, `DELETE FROM kl WHERE ctid IN (SELECT ctid FROM kl WHERE a = $1 LIMIT $2)`,
		func(r *rand.Rand) []any { return []any{n(r, 1, 15), n(r, 1, 3)} }},
	{1, `TRUNCATE kl, kc`, nil},
}

// runWorkload runs statements on the source, sometimes several in one transaction.
func runWorkload(t *testing.T, f *fixture, r *rand.Rand, statements int) {
	t.Helper()
	ctx := context.Background()
	total := 0
	for _, o := range workload {
		total += o.weight
	}
	for done := 0; done < statements; {
		tx, err := f.src.Begin(ctx)
		require.NoError(t, err)
		for k := n(r, 1, 3); k > 0; k-- {
			o := pick(r, total)
			var args []any
			if o.args != nil {
				args = o.args(r)
			}
			_, err := tx.Exec(ctx, o.sql, args...)
			require.NoError(t, err, o.sql)
			done++
		}
		require.NoError(t, tx.Commit(ctx))
	}
}

func pick(r *rand.Rand, total int) op {
	x := r.IntN(total)
	for _, o := range workload {
		if x < o.weight {
			return o
		}
		x -= o.weight
	}
	panic("unreachable")
}

// deliveries turns the change stream into what a queue may hand out: every change at least
// once, some twice, in random order, cut into batches of random size.
func deliveries(r *rand.Rand, changes []change.Change) [][]change.Change {
	var all []change.Change
	for _, c := range changes {
		all = append(all, c)
		if r.IntN(5) == 0 {
			all = append(all, c)
		}
	}
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	var batches [][]change.Change
	for len(all) > 0 {
		k := min(len(all), n(r, 1, 60))
		batches = append(batches, all[:k])
		all = all[k:]
	}
	return batches
}

func newWorkloadFixture(t *testing.T, r *rand.Rand) (*fixture, []change.Change) {
	f := newFixture(t, workloadDDL...)
	f.track(t, workloadTables...)
	runWorkload(t, f, r, 150)
	changes := sourcetest.Flatten(f.entries(t))
	require.NotEmpty(t, changes)
	return f, changes
}

func TestConvergence(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, 42))
			f, changes := newWorkloadFixture(t, r)
			for _, b := range deliveries(r, changes) {
				f.apply(t, b)
			}
			f.requireSame(t, "public", workloadTables...)
		})
	}
}

// TestConcurrentAppliers applies one stream through several Appliers at once, as competing
// replicator processes do: overlapping batches, the same change in flight twice.
func TestConcurrentAppliers(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{7, 8} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, 42))
			f, changes := newWorkloadFixture(t, r)
			batches := make(chan []change.Change)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			p := pool.New().WithErrors().WithContext(ctx)
			for w := 0; w < 3; w++ {
				a := New(newPool(t, f.repURL))
				p.Go(func(ctx context.Context) error {
					err := applyAll(ctx, a, batches)
					if err != nil {
						cancel() // the others stop too, and so does the feed below
					}
					return err
				})
			}
		feed: // an unbuffered send no applier takes would hang the test rather than fail it
			for _, b := range deliveries(r, changes) {
				select {
				case batches <- b:
				case <-ctx.Done():
					break feed
				}
			}
			close(batches)
			require.NoError(t, p.Wait())
			f.requireSame(t, "public", workloadTables...)
		})
	}
}

// applyAll applies batches, retrying transient failures as the replicator does, except
// deadlocks: concurrent appliers take every lock in one order, so none may ever happen.
func applyAll(ctx context.Context, a *Applier, batches <-chan []change.Change) error {
	for b := range batches {
		if err := applyOne(ctx, a, b); err != nil {
			return err
		}
	}
	return nil
}

// applyOne applies one batch as applyAll does.
func applyOne(ctx context.Context, a *Applier, b []change.Change) error {
	for {
		err := a.Apply(ctx, b)
		if err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "40P01" {
			return fmt.Errorf("deadlock between appliers: %w", err)
		}
		if !IsTransient(err) || ctx.Err() != nil {
			return err
		}
	}
}
