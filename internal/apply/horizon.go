package apply

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/internal/dml"
)

// horizonName labels the horizon's statements in error messages.
var horizonName = tableName{"pgfanout", "horizon"}

// horizon is the bookkeeping horizon as one transaction read it (docs/bookkeeping.md).
type horizon struct {
	cutoff int64 // entries below it may be gone; changes below it are stale
	seen   int64 // a low-water mark some replicator saw: never below cutoff
}

// read queues the horizon's shared lock and then its reading (a statement of its own, whose
// snapshot sees every raise that committed before the lock was granted).
func (h *horizon) read(q *queued) {
	q.add(horizonName, dml.LockShared, dml.HorizonLockKey)
	q.addRead(horizonName, func(rows pgx.Rows) error {
		for rows.Next() {
			if err := rows.Scan(&h.cutoff, &h.seen); err != nil {
				return err
			}
		}
		return rows.Err()
	}, dml.HorizonRead)
}

// Hold is the horizon held by a copy transaction (HoldHorizon): ApplyChunk takes one, so a
// copy cannot forget to hold it before it reads the source.
type Hold struct{ h horizon }

// HoldHorizon holds the bookkeeping horizon in tx until it ends. A copy takes it before it
// reads the source: the cutoff cannot pass the low-water mark its snapshot saw meanwhile, so
// every change whose entry may have been pruned is in the snapshot (docs/bookkeeping.md).
func (a *Applier) HoldHorizon(ctx context.Context, tx pgx.Tx) (Hold, error) {
	if err := a.ensureSchema(ctx); err != nil {
		return Hold{}, err
	}
	var q queued
	var h horizon
	h.read(&q)
	if err := q.run(ctx, tx); err != nil {
		return Hold{}, err
	}
	return Hold{h: h}, nil
}

// oldest is the smallest version in the plan (0 when it has none).
func (p *plan) oldest() int64 {
	var m int64
	low := func(v int64) {
		if v > 0 && (m == 0 || v < m) {
			m = v
		}
	}
	for _, tp := range p.tables {
		low(tp.truncate)
		for _, v := range tp.claims.versions {
			low(v)
		}
		for _, v := range tp.keyless.versions {
			low(v)
		}
	}
	return m
}

// resolveStale looks at the plan's changes below the cutoff, holding the stale lock so that
// no entry it sees is pruned before the transaction ends. A change whose key still has an
// entry is placed exactly by it, as any change is; one without (or a keyless event not in the
// log, or a truncate above the watermark) makes the batch a *StaleError.
func (a *Applier) resolveStale(ctx context.Context, tx pgx.Tx, p *plan, cutoff int64) error {
	var q queued
	var stale []int64
	collect := func(rows pgx.Rows) error {
		for rows.Next() {
			var v int64
			if err := rows.Scan(&v); err != nil {
				return err
			}
			stale = append(stale, v)
		}
		return rows.Err()
	}
	q.add(horizonName, dml.LockExclusive, dml.StaleLockKey)
	for _, tp := range p.tables {
		t := tp.t
		if tp.truncate > 0 && tp.truncate < cutoff {
			q.addRead(tp.name, collect, dml.StaleTruncate, t.relid, tp.truncate)
		}
		if vs, ims := below(&tp.claims.imageList, cutoff); len(vs) > 0 {
			q.addRead(tp.name, collect, dml.StaleKeyed(&t.Table), t.relid, vs, ims)
		}
		if vs, _ := below(&tp.keyless, cutoff); len(vs) > 0 {
			q.addRead(tp.name, collect, dml.StaleKeyless, t.relid, vs)
		}
	}
	if err := q.run(ctx, tx); err != nil {
		return err
	}
	if len(stale) > 0 {
		return &StaleError{Cutoff: cutoff, Versions: stale}
	}
	return nil
}

// below returns the changes of im below cutoff.
func below(im *imageList, cutoff int64) ([]int64, [][]byte) {
	var vs []int64
	var ims [][]byte
	for i, v := range im.versions {
		if v < cutoff {
			vs = append(vs, v)
			ims = append(ims, im.images[i])
		}
	}
	return vs, ims
}
