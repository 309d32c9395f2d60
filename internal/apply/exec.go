package apply

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/internal/dml"
)

// queued is a pipeline of statements; each remembers its table, for error messages, and may
// read its result rows.
type queued struct {
	batch  pgx.Batch
	tables []tableName
	reads  []func(pgx.Rows) error // nil: Exec
}

func (q *queued) add(n tableName, sql string, args ...any) { q.addRead(n, nil, sql, args...) }

func (q *queued) addRead(n tableName, read func(pgx.Rows) error, sql string, args ...any) {
	q.batch.Queue(sql, args...)
	q.tables = append(q.tables, n)
	q.reads = append(q.reads, read)
}

// lock adds the table's lock: the strongest the batch needs, so it is never upgraded.
// Truncates serialize with everything else on the table; nothing else takes more than ROW
// EXCLUSIVE.
func (tp *tablePlan) lock(q *queued) {
	mode := dml.RowExclusive
	if tp.truncate > 0 {
		mode = dml.ShareRowExclusive
	}
	q.add(tp.name, dml.Lock(&tp.t.Table, mode))
}

// queue adds the table's statements after its lock: truncate; for a keyed table the claim
// of every key the batch changes, in key order in one statement (every transaction takes
// bookkeeping rows in that one order, and user rows only under a bookkeeping row it holds,
// so concurrent applies and copies cannot deadlock), then deletes, then upserts (deletes
// first, so that a primary key moved by an UPDATE frees its old row before the new one is
// written); for a keyless table the recording of its events, whose result says which images
// to bring to which count (queueKeyless, in the next round trip).
func (tp *tablePlan) queue(q *queued) {
	t := tp.t
	if tp.truncate > 0 {
		q.add(tp.name, t.truncateSQL, t.relid, tp.truncate, tp.truncTx)
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
		q.addRead(tp.name, tp.readImages, t.keylessEventsSQL, t.relid, tp.keyless.versions, tp.keyless.images, tp.ktxids, tp.deltas)
	}
}

// readImages keeps the images whose new events change their count.
func (tp *tablePlan) readImages(rows pgx.Rows) error {
	for rows.Next() {
		var digest []byte
		var delta int32
		var img *string
		if err := rows.Scan(&digest, &delta, &img); err != nil {
			return err
		}
		if delta == 0 {
			continue
		}
		tp.images.digests = append(tp.images.digests, digest)
		tp.images.deltas = append(tp.images.deltas, delta)
		tp.images.texts = append(tp.images.texts, img)
	}
	return rows.Err()
}

// queueKeyless adds, for a keyless table whose events changed images, the images' locks (in
// a statement of their own, so that the next sees every copy committed before it could
// start) and the statement bringing each image to its count.
func (tp *tablePlan) queueKeyless(q *queued) {
	im := &tp.images
	if len(im.digests) == 0 {
		return
	}
	q.add(tp.name, dml.KeylessLocks, tp.t.relid, im.digests)
	q.add(tp.name, tp.t.keylessApplySQL, tp.t.relid, im.digests, im.deltas, im.texts)
}

// run sends the queued statements in one pipelined round trip.
func (q *queued) run(ctx context.Context, tx pgx.Tx) error {
	if len(q.tables) == 0 {
		return nil
	}
	results := tx.SendBatch(ctx, &q.batch)
	for i, n := range q.tables {
		if err := q.result(results, i); err != nil {
			_ = results.Close()
			return fmt.Errorf("apply to %s: %w", n, err)
		}
	}
	if err := results.Close(); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}

func (q *queued) result(results pgx.BatchResults, i int) error {
	if q.reads[i] == nil {
		_, err := results.Exec()
		return err
	}
	rows, err := results.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	return q.reads[i](rows)
}

// exec runs the plan in one transaction, in up to three round trips: the tables' locks and
// the bookkeeping horizon; every table's statements; the images of keyless tables. (A batch
// with changes below the horizon's cutoff takes one more, resolveStale.) The locks go first, in a round trip
// of their own: preparing a statement takes a lock on each table it names, and a pipeline
// prepares every statement not cached yet before running any; taken by the preparation, a
// weaker lock would come before the batch's own and be upgraded, and two such batches
// deadlock.
func (a *Applier) exec(ctx context.Context, p *plan) error {
	if err := a.digestIndexes(ctx, p); err != nil {
		return err
	}
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// Rollback after a successful Commit is a no-op.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var locks, work, images queued
	var h horizon
	for _, tp := range p.tables {
		tp.lock(&locks)
		if a.stops.believed(tp.name) {
			tp.checkStopped(&locks)
		}
	}
	h.read(&locks)
	if err := locks.run(ctx, tx); err != nil {
		return err
	}
	a.dropStopped(p)
	for _, tp := range p.tables {
		tp.queue(&work)
	}
	if h.cutoff > 0 && p.oldest() < h.cutoff {
		if err := a.resolveStale(ctx, tx, p, h.cutoff); err != nil {
			return err
		}
	}
	if err := work.run(ctx, tx); err != nil {
		return err
	}
	for _, tp := range p.tables {
		tp.queueKeyless(&images)
	}
	if err := images.run(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// digestIndexes makes sure each keyless table whose events delete a copy has pgfanout's valid
// digest index, building it outside the apply transaction (CONCURRENTLY, which cannot run in
// one). Another replicator building it at the same time leaves an index not valid yet: the
// deletes then find their copies without it (slower, still exact), and the next batch looks
// again.
func (a *Applier) digestIndexes(ctx context.Context, p *plan) error {
	for _, tp := range p.tables {
		t := tp.t
		if !tp.kdeletes || t.hasDigestIndex() {
			continue
		}
		name := pgx.Identifier{t.Schema, dml.DigestIndexName(t.relid)}.Sanitize()
		var valid *bool
		var exists bool
		if err := a.pool.QueryRow(ctx, dml.DigestIndexState, name).Scan(&valid, &exists); err != nil {
			return fmt.Errorf("look up the digest index of %s: %w", tp.name, err)
		}
		if exists && valid != nil && *valid {
			t.setDigestIndex()
			continue
		}
		if err := a.buildDigestIndex(ctx, t, exists); err != nil {
			return fmt.Errorf("digest index of %s: %w", tp.name, err)
		}
	}
	return nil
}

// buildDigestIndex builds the digest index, dropping a failed build first, on a connection
// of its own holding the build's session advisory lock: only one replicator builds at a
// time (two concurrent builds of one index wait for each other), and the others go on
// without it. A build waits for every transaction that may use the table, so the lock is
// only tried, never waited for (a waiting session would be one of those transactions).
func (a *Applier) buildDigestIndex(ctx context.Context, t *table, failed bool) error {
	conn, err := a.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var mine bool
	if err := conn.QueryRow(ctx, dml.DigestIndexLock, t.relid).Scan(&mine); err != nil || !mine {
		return err
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), dml.DigestIndexUnlock, t.relid) }()
	if failed {
		if _, err := conn.Exec(ctx, dml.DropDigestIndex(&t.Table, t.relid)); err != nil {
			return err
		}
	}
	_, err = conn.Exec(ctx, dml.DigestIndex(&t.Table, t.relid))
	return err
}
