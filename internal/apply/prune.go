package apply

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgfanout/pgfanout/internal/dml"
)

// PruneResult is what one Prune did.
type PruneResult struct {
	Cutoff int64 // the horizon's cutoff afterwards
	Pruned int64 // entries deleted
	Busy   bool  // another replicator prunes, or applies kept the fence past fenceTimeout: try later
}

// FenceTimeout bounds how long the pruner waits for the applies in flight before it raises
// the cutoff; new applies queue behind its request meanwhile, so it is kept short.
const FenceTimeout = 100 * time.Millisecond

// prunePages is how many pages of a bookkeeping table one delete covers (8 MiB).
const prunePages = 1024

// Prune raises the bookkeeping horizon's cutoff to cutoff (never lowering it), records seen,
// a low-water mark at least cutoff, and deletes the entries below the cutoff
// (docs/bookkeeping.md). One replicator prunes at a time; the others get Busy.
func (a *Applier) Prune(ctx context.Context, cutoff, seen int64) (PruneResult, error) {
	if err := a.ensureSchema(ctx); err != nil {
		return PruneResult{}, err
	}
	conn, err := a.pool.Acquire(ctx)
	if err != nil {
		return PruneResult{}, fmt.Errorf("prune: %w", err)
	}
	defer conn.Release()
	var mine bool
	if err := conn.QueryRow(ctx, dml.TryLockSession, dml.PruneLockKey).Scan(&mine); err != nil {
		return PruneResult{}, fmt.Errorf("prune: %w", err)
	}
	if !mine {
		return PruneResult{Busy: true}, nil
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), dml.UnlockSession, dml.PruneLockKey) }()
	res, err := raise(ctx, conn.Conn(), cutoff, max(seen, cutoff))
	if err != nil || res.Busy {
		return res, err
	}
	a.mu.Lock()
	done := a.prunedTo
	a.mu.Unlock()
	if res.Cutoff <= done {
		return res, nil
	}
	for _, table := range []string{"row_versions", "keyless_log"} {
		n, err := prune(ctx, conn.Conn(), table, res.Cutoff)
		res.Pruned += n
		if err != nil {
			return res, err
		}
	}
	a.mu.Lock()
	a.prunedTo = res.Cutoff
	a.mu.Unlock()
	return res, nil
}

// raise raises the cutoff behind the fence: with the horizon's lock exclusive, every apply
// that read an older cutoff has ended, and every later one reads the new cutoff. Raising the
// seen mark alone needs no fence.
func raise(ctx context.Context, conn *pgx.Conn, cutoff, seen int64) (PruneResult, error) {
	var res PruneResult
	if err := conn.QueryRow(ctx, dml.HorizonSee, seen).Scan(&res.Cutoff); err != nil {
		return res, fmt.Errorf("prune: record the low-water mark: %w", err)
	}
	if cutoff <= res.Cutoff {
		return res, nil
	}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		timeout := strconv.FormatInt(FenceTimeout.Milliseconds(), 10) + "ms"
		if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true)`, timeout); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, dml.LockExclusive, dml.HorizonLockKey); err != nil {
			return err
		}
		return tx.QueryRow(ctx, dml.HorizonRaise, cutoff, seen).Scan(&res.Cutoff)
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "55P03" {
		return PruneResult{Cutoff: res.Cutoff, Busy: true}, nil
	}
	if err != nil {
		return res, fmt.Errorf("prune: raise the horizon to %d: %w", cutoff, err)
	}
	return res, nil
}

// prune deletes table's entries below cutoff, a range of pages per transaction, each holding
// the stale lock shared so that no apply looking at entries below the cutoff loses one.
func prune(ctx context.Context, conn *pgx.Conn, table string, cutoff int64) (int64, error) {
	var pages int64
	if err := conn.QueryRow(ctx, dml.Pages, "pgfanout."+table).Scan(&pages); err != nil {
		return 0, fmt.Errorf("prune %s: %w", table, err)
	}
	stmt := dml.Prune(table)
	var total int64
	for lo := int64(0); lo < pages; lo += prunePages {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, dml.LockShared, dml.StaleLockKey); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, stmt, lo, lo+prunePages, cutoff)
			total += tag.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("prune %s pages %d..%d: %w", table, lo, lo+prunePages, err)
		}
	}
	return total, nil
}
