package publish

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	queries "github.com/pgfanout/pgfanout/sql"
)

// The idle signal (migration 000007): while the publisher waits for work it holds the idle
// lock on its work connection AND has raised the flag in the leader row for its term. 'wakeup'
// capture notifies only when it finds both, so a session of any other role holding the lock's
// key cannot make source commits notify. The flag goes up before the lock is taken (a commit
// that finds the lock busy then also finds the flag) and comes down before the lock is
// released, and at once if the lock could not be taken.

// takeIdleSignal raises the flag for the term and takes the idle lock. It reports false,
// holding nothing and with the flag down, while the lock is not free (a writer's transaction
// that captured without notifying is open, or another session holds the key), or when the
// term has ended (the lease's keeper then ends it).
func (t *term) takeIdleSignal(ctx context.Context) (bool, error) {
	var term int64
	err := t.queryRow(ctx, queries.IdleRaise, []any{t.leaseTerm}, &term)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("raise the idle flag of term %d: %w", t.leaseTerm, err)
	}
	var ok bool
	if err := t.queryRow(ctx, queries.IdleTake, nil, &ok); err != nil {
		return false, fmt.Errorf("take the idle lock: %w", err)
	}
	return ok, nil
}

// releaseIdleSignal lowers the flag and releases the idle lock.
func (t *term) releaseIdleSignal(ctx context.Context) error {
	var ok bool
	if err := t.queryRow(ctx, queries.IdleRelease, nil, &ok); err != nil {
		return fmt.Errorf("release the idle lock: %w", err)
	}
	if !ok {
		return errors.New("release the idle lock: it was not held")
	}
	return nil
}

// queryRow runs one statement on the work connection within the round-trip deadline.
func (t *term) queryRow(ctx context.Context, sql string, args []any, dst ...any) error {
	cctx, cancel := t.p.cfg.Liveness.Call(ctx)
	defer cancel()
	return t.conn.QueryRow(cctx, sql, args...).Scan(dst...)
}
