package apply

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/internal/dml"
)

// queued remembers which table each statement of a pipeline belongs to, for error messages.
type queued struct {
	batch  pgx.Batch
	tables []tableName
}

func (q *queued) add(n tableName, sql string, args ...any) {
	q.batch.Queue(sql, args...)
	q.tables = append(q.tables, n)
}

// lock adds the table's lock: the strongest the batch needs, so it is never upgraded.
func (tp *tablePlan) lock(q *queued) {
	mode := dml.RowExclusive
	if tp.t.Keyless() || tp.truncate > 0 {
		mode = dml.ShareRowExclusive
	}
	q.add(tp.name, dml.Lock(&tp.t.Table, mode))
}

// queue adds the table's statements after its lock: truncate, then the claim of every key the batch changes, in key order in one
// statement (every transaction takes bookkeeping rows in that one order, and user rows only
// under a bookkeeping row it holds, so concurrent applies and copies cannot deadlock), then
// deletes, then upserts. Deletes go before upserts so that a primary key moved by an UPDATE
// frees its old row before the new one is written.
func (tp *tablePlan) queue(q *queued) {
	t := tp.t
	if tp.truncate > 0 {
		if t.Keyless() {
			q.add(tp.name, t.truncateSQL, t.relid, tp.truncate, tp.truncTx, t.writable)
		} else {
			q.add(tp.name, t.truncateSQL, t.relid, tp.truncate, tp.truncTx)
		}
	}
	if cl := &tp.claims; len(cl.versions) > 0 {
		q.add(tp.name, t.claimSQL, t.relid, cl.versions, cl.images, cl.txids, cl.deleted)
	}
	if d := &tp.deletes; len(d.versions) > 0 {
		q.add(tp.name, t.deleteRowsSQL, t.relid, d.versions, d.images)
	}
	for _, g := range tp.sortedGroups() {
		q.add(tp.name, t.upsert(g.sig), t.relid, g.versions, g.images)
	}
	if len(tp.keyless.versions) > 0 {
		q.add(tp.name, t.reconcileSQL, t.relid, tp.keyless.versions, tp.keyless.images, tp.deltas, t.writable, t.all)
	}
}

// run sends the queued statements in one pipelined round trip.
func (q *queued) run(ctx context.Context, tx pgx.Tx) error {
	if len(q.tables) == 0 {
		return nil
	}
	results := tx.SendBatch(ctx, &q.batch)
	for _, n := range q.tables {
		if _, err := results.Exec(); err != nil {
			_ = results.Close()
			return fmt.Errorf("apply to %s: %w", n, err)
		}
	}
	if err := results.Close(); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}

// exec runs the plan in one transaction: the tables' locks in one round trip, then every
// other statement pipelined in a second.
func (a *Applier) exec(ctx context.Context, p *plan) error {
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// Rollback after a successful Commit is a no-op.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// The tables' locks go first, in a round trip of their own: preparing a statement takes a
	// lock on each table it names (RowExclusive for a write), and the pipeline below prepares
	// every statement not cached yet before running any. Taken by the preparation, those locks
	// would come before the batch's own and be upgraded: two such batches deadlock.
	var locks, work queued
	for _, tp := range p.tables {
		tp.lock(&locks)
		tp.queue(&work)
	}
	for _, q := range []*queued{&locks, &work} {
		if err := q.run(ctx, tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
