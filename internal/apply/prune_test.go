package apply

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
)

func (f *fixture) prune(t *testing.T, cutoff int64) PruneResult {
	t.Helper()
	res, err := f.applier.Prune(context.Background(), cutoff, cutoff)
	require.NoError(t, err)
	require.False(t, res.Busy)
	require.Equal(t, cutoff, res.Cutoff)
	return res
}

func (f *fixture) count(t *testing.T, sql string) int {
	t.Helper()
	var n int
	require.NoError(t, f.rep.QueryRow(context.Background(), sql).Scan(&n))
	return n
}

// stale applies changes and requires a *StaleError naming exactly the versions want.
func (f *fixture) stale(t *testing.T, changes []change.Change, want ...int64) {
	t.Helper()
	err := f.applier.Apply(context.Background(), changes)
	var se *StaleError
	require.True(t, errors.As(err, &se), "want a StaleError, got %v", err)
	require.ElementsMatch(t, want, se.Versions)
	require.False(t, IsTransient(err))
}

// Once an entry is pruned, a change below the cutoff for its key is refused, never applied:
// without the rule each of these would bring back an older state.
func TestPruneNeverResurrects(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE k (id int PRIMARY KEY, v text)`, `CREATE TABLE l (v text)`)
	f.apply(t, []change.Change{
		ch("k", 1, change.Insert, `{"id":1}`, `{"id":1,"v":"a"}`),
		ch("k", 2, change.Insert, `{"id":2}`, `{"id":2,"v":"a"}`),
		ch("k", 3, change.Update, `{"id":2}`, `{"id":2,"v":"b"}`),
		ch("k", 4, change.Delete, `{"id":1}`, ""),
		ch("k", 5, change.Insert, `{"id":3}`, `{"id":3,"v":"a"}`),
		ch("k", 20, change.Update, `{"id":3}`, `{"id":3,"v":"c"}`),
		ch("l", 6, change.Insert, "", `{"v":"x"}`),
		ch("l", 7, change.Truncate, "", ""),
		ch("l", 8, change.Insert, "", `{"v":"y"}`),
	})
	require.Equal(t, 3, f.count(t, `SELECT count(*) FROM pgfanout.row_versions`))
	res := f.prune(t, 10)
	require.Equal(t, int64(3), res.Pruned, "the entries below 10 of keyed (2) and keyless (1) tables")
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM pgfanout.row_versions`), "only id 3's entry (20) stays")
	require.Zero(t, f.count(t, `SELECT count(*) FROM pgfanout.keyless_log`))

	f.stale(t, []change.Change{ch("k", 1, change.Insert, `{"id":1}`, `{"id":1,"v":"a"}`)}, 1) // a deleted row
	f.stale(t, []change.Change{ch("k", 2, change.Insert, `{"id":2}`, `{"id":2,"v":"a"}`)}, 2) // an older image
	f.stale(t, []change.Change{ch("l", 8, change.Insert, "", `{"v":"y"}`)}, 8)                // a second copy
	f.stale(t, []change.Change{ch("l", 9, change.Truncate, "", "")}, 9)                       // rows of unknown age
	// A batch with one stale change applies nothing, not even its fresh ones.
	f.stale(t, []change.Change{ch("k", 30, change.Insert, `{"id":4}`, `{"id":4,"v":"new"}`),
		ch("k", 3, change.Delete, `{"id":2}`, "")}, 3)
	require.Equal(t, []string{"(2,b)", "(3,c)"}, replicaRows(t, f, "k"))
	require.Equal(t, []string{"(y)"}, replicaRows(t, f, "l"))

	// Below the cutoff but placed exactly: id 3 kept its entry (20), and the truncate at 7 is
	// the table's watermark.
	f.apply(t, []change.Change{ch("k", 5, change.Insert, `{"id":3}`, `{"id":3,"v":"a"}`), ch("l", 7, change.Truncate, "", "")})
	f.apply(t, []change.Change{ch("k", 30, change.Insert, `{"id":4}`, `{"id":4,"v":"new"}`), ch("l", 31, change.Insert, "", `{"v":"z"}`)})
	require.Equal(t, []string{"(2,b)", "(3,c)", "(4,new)"}, replicaRows(t, f, "k"))
	require.Equal(t, []string{"(y)", "(z)"}, replicaRows(t, f, "l"))

	res = f.prune(t, 10) // nothing new below the same cutoff
	require.Zero(t, res.Pruned)
	res, err := f.applier.Prune(context.Background(), 5, 5)
	require.NoError(t, err)
	require.Equal(t, int64(10), res.Cutoff, "the cutoff never goes back")
}

// TestPruneWhileApplying prunes behind three concurrent appliers. The stream arrives in
// version order with redeliveries of changes applied earlier; the cutoff trails the oldest
// change not yet applied, so only redeliveries can be stale. Refused redeliveries are dropped
// (their originals were applied); the replica must end exactly equal to the source.
func TestPruneWhileApplying(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(11, 42))
	f, changes := newWorkloadFixture(t, r)
	type batch struct {
		originals, redelivered []change.Change
	}
	var batches []batch
	for rest := changes; len(rest) > 0; {
		k := min(len(rest), n(r, 1, 40))
		b := batch{originals: rest[:k]}
		done := len(changes) - len(rest)
		for range n(r, 0, 8) {
			if done > 0 {
				b.redelivered = append(b.redelivered, changes[r.IntN(done)])
			}
		}
		batches = append(batches, b)
		rest = rest[k:]
	}

	var mu sync.Mutex
	applied := make([]bool, len(batches))
	cutoff := func() int64 { // the first version of the oldest batch not applied yet
		mu.Lock()
		defer mu.Unlock()
		for i, ok := range applied {
			if !ok {
				return batches[i].originals[0].Version
			}
		}
		return changes[len(changes)-1].Version + 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	todo := make(chan int)
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	var staleSeen, pruned int64
	for range 3 {
		a := New(newPool(t, f.repURL))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range todo {
				b := batches[i]
				all := append(append([]change.Change(nil), b.originals...), b.redelivered...)
				for {
					err := applyOne(ctx, a, all)
					var se *StaleError
					if !errors.As(err, &se) {
						if err != nil {
							errs <- err
							return
						}
						break
					}
					gone := map[int64]bool{}
					for _, v := range se.Versions {
						gone[v] = true
					}
					for _, c := range b.originals {
						if gone[c.Version] {
							errs <- fmt.Errorf("change %d was refused as stale before it was ever applied", c.Version)
							return
						}
					}
					mu.Lock()
					staleSeen += int64(len(se.Versions))
					mu.Unlock()
					all = dropVersions(all, gone)
				}
				mu.Lock()
				applied[i] = true
				mu.Unlock()
			}
		}()
	}
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // the pruner
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			res, err := f.applier.Prune(ctx, cutoff(), cutoff())
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			pruned += res.Pruned
			mu.Unlock()
		}
	}()
	for i := range batches {
		select {
		case todo <- i:
		case err := <-errs:
			t.Fatal(err)
		}
	}
	close(todo)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	f.requireSame(t, "public", workloadTables...)
	t.Logf("%d changes in %d batches; %d entries pruned, %d redeliveries refused as stale", len(changes), len(batches), pruned, staleSeen)
	require.Positive(t, pruned, "the pruner pruned nothing: the test proves nothing")
	require.Positive(t, staleSeen, "no redelivery was stale: the test proves nothing")
}

func dropVersions(cs []change.Change, gone map[int64]bool) []change.Change {
	var out []change.Change
	for _, c := range cs {
		if !gone[c.Version] {
			out = append(out, c)
		}
	}
	return out
}
