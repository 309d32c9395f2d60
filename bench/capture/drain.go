package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgfanout/pgfanout/internal/changelog"
	"github.com/pgfanout/pgfanout/internal/retry"
)

// fetchSQL is the publisher's fetch in short: the oldest entries, cut once the batch holds
// $1 changes (the entry crossing the bound is still taken).
const fetchSQL = `
SELECT version, items::text FROM (
    SELECT version, items, sum(n) OVER (ORDER BY version ROWS UNBOUNDED PRECEDING) - n AS before
    FROM (SELECT version, n, items FROM pgfanout.changes ORDER BY version LIMIT $1) c
) s
WHERE before < $1
ORDER BY version`

// idleLinger mirrors the publisher's (internal/publish).
const idleLinger = 20 * time.Millisecond

// drainer plays the publisher without RabbitMQ: fetch entries in version order, delete them,
// and around idle periods take and release the idle lock and wait for a notification or the
// poll.
type drainer struct {
	listen, work *pgx.Conn
	store        *changelog.Store // on work
	term         int64            // the leader term whose idle flag the drainer raises
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	wake         chan struct{}
	notifies     atomic.Int64
	err          error // the drain loop's failure, read after wg.Wait
	batch        int
	poll         time.Duration
}

func startDrainer(ctx context.Context, dbURL string, o options) (*drainer, error) {
	d := &drainer{wake: make(chan struct{}, 1), batch: o.batch, poll: o.poll}
	var err error
	if d.listen, err = pgx.Connect(ctx, dbURL); err != nil {
		return nil, fmt.Errorf("connect consumer: %w", err)
	}
	if d.work, err = pgx.Connect(ctx, dbURL); err != nil {
		_ = d.listen.Close(ctx)
		return nil, fmt.Errorf("connect consumer: %w", err)
	}
	d.store = changelog.New(d.work, 0)
	if err = d.work.QueryRow(ctx, `SELECT term FROM pgfanout.leader`).Scan(&d.term); err != nil {
		d.close()
		return nil, fmt.Errorf("read the leader term: %w", err)
	}
	if _, err = d.listen.Exec(ctx, `LISTEN pgfanout`); err != nil {
		d.close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	d.cancel = cancel
	d.wg.Add(2)
	go d.receive(runCtx)
	go d.loop(runCtx)
	return d, nil
}

// stop ends the consumer once the clients are done; clientErr passes through.
func (d *drainer) stop(clientErr error) (int64, error) {
	d.cancel()
	d.wg.Wait()
	d.close()
	return d.notifies.Load(), errors.Join(clientErr, d.err)
}

func (d *drainer) close() {
	_ = d.listen.Close(context.Background())
	_ = d.work.Close(context.Background())
}

// receive reads every notification (row mode sends one per change; an unread backlog would
// fill the server's queue) and turns them into a wake-up.
func (d *drainer) receive(ctx context.Context) {
	defer d.wg.Done()
	for {
		if _, err := d.listen.WaitForNotification(ctx); err != nil {
			return
		}
		d.notifies.Add(1)
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

func (d *drainer) loop(ctx context.Context) {
	defer d.wg.Done()
	idle := false
	lingered := false
	pause := retry.Doubling{Min: idleLinger, Max: d.poll} // after a failed take of the idle lock, as the publisher's
	for ctx.Err() == nil {
		n, err := d.drainOnce(ctx)
		if n > 0 {
			lingered = false
			pause.Reset()
		}
		switch {
		case err != nil:
			if ctx.Err() == nil {
				d.err = err
			}
			return
		case n == 0 && !idle && !lingered:
			// As the publisher does (publish.idleLinger): take the lock only once the log
			// stayed empty for a while, or under load it would flip for nearly every statement.
			lingered = true
			_ = retry.Sleep(ctx, idleLinger)
		case n > 0 && idle, n == 0 && !idle:
			// Release the lock while busy; take it when empty, then fetch once more because a
			// change committed before the lock was held sent no notification. A failed take
			// (a writer's transaction still open) is retried after a doubling pause.
			if idle, err = d.setIdle(ctx, !idle); err != nil {
				if ctx.Err() == nil {
					d.err = err
				}
				return
			}
			if n == 0 && !idle {
				_ = retry.Sleep(ctx, pause.Next())
			}
		case n == 0:
			select {
			case <-ctx.Done():
			case <-d.wake:
			case <-time.After(d.poll):
			}
		}
	}
}

// setIdle takes (want) or releases the idle lock and reports whether it is now held.
func (d *drainer) setIdle(ctx context.Context, want bool) (bool, error) {
	if !want {
		return false, d.store.ReleaseIdleLock(ctx)
	}
	return d.store.TakeIdleLock(ctx, d.term)
}

// drainOnce fetches one batch, reads it as the publisher would, and deletes it.
func (d *drainer) drainOnce(ctx context.Context) (int, error) {
	rows, err := d.work.Query(ctx, fetchSQL, d.batch)
	if err != nil {
		return 0, fmt.Errorf("fetch: %w", err)
	}
	var versions []int64
	var v int64
	// The entries' JSON is read from the socket but not copied: the publisher would run on
	// other machines, and what this consumer may take from the shared cores is the source's
	// side of draining (detoast, send, delete, vacuum), not a copy of every entry.
	var items pgtype.DriverBytes
	_, err = pgx.ForEachRow(rows, []any{&v, &items}, func() error {
		versions = append(versions, v)
		return nil
	})
	if err != nil || len(versions) == 0 {
		return 0, err
	}
	if _, err := d.work.Exec(ctx, `DELETE FROM pgfanout.changes WHERE version = ANY($1)`, versions); err != nil {
		return 0, fmt.Errorf("delete: %w", err)
	}
	return len(versions), nil
}
