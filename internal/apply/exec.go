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

// queue adds the table's statements: its lock first (the strongest it needs, so it is never
// upgraded), then truncate, deletes, upserts. Deletes go before upserts so that a primary key
// moved by an UPDATE frees its old row before the new one is written.
func (tp *tablePlan) queue(q *queued) {
	t := tp.t
	mode := dml.RowExclusive
	if t.Keyless() || tp.truncate > 0 {
		mode = dml.ShareRowExclusive
	}
	q.add(tp.name, dml.Lock(&t.Table, mode))
	if tp.truncate > 0 {
		if t.Keyless() {
			q.add(tp.name, t.truncateSQL, t.relid, tp.truncate, tp.truncTx, t.writable)
		} else {
			q.add(tp.name, t.truncateSQL, t.relid, tp.truncate, tp.truncTx)
		}
	}
	if d := &tp.deletes; len(d.versions) > 0 {
		q.add(tp.name, t.deleteVersionsSQL, t.relid, d.versions, d.images, d.txids)
		q.add(tp.name, t.deleteRowsSQL, t.relid, d.versions, d.images, d.txids)
	}
	for _, g := range tp.sortedGroups() {
		q.add(tp.name, t.upsert(g.sig), t.relid, g.versions, g.images, g.txids)
	}
	if len(tp.keyless.versions) > 0 {
		q.add(tp.name, t.reconcileSQL, t.relid, tp.keyless.versions, tp.keyless.images, tp.deltas, t.writable, t.all)
	}
}

// exec runs the plan in one transaction, all statements pipelined in one round trip.
func (a *Applier) exec(ctx context.Context, p *plan) error {
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// Rollback after a successful Commit is a no-op.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var q queued
	for _, tp := range p.tables {
		tp.queue(&q)
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
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
