// Package leader elects the one active publisher with a PostgreSQL session advisory lock.
// The lock lives exactly as long as the connection that took it, so the process that holds
// it runs its change-log queries on that same connection: when the connection dies the lock
// is gone and so is the ability to delete anything.
package leader

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/internal/backoff"
	"github.com/pgfanout/pgfanout/internal/outage"
	queries "github.com/pgfanout/pgfanout/sql"
)

// Elector takes the lock, waiting as a standby while another session holds it.
type Elector struct {
	// Connect opens a new connection; the elector owns and closes it.
	Connect func(ctx context.Context) (*pgx.Conn, error)
	Key     int64         // advisory lock key
	Every   time.Duration // between two lock attempts (standby poll)
	Log     zerolog.Logger
	// Connected, when set, is told whether the elector's connection is up (for readiness).
	Connected func(bool)
	// Reconnected, when set, is called whenever a connection is opened after an earlier one
	// (lost while standing by, or closed by the caller when its term ended), once per
	// reconnection however many attempts it took.
	Reconnected func()

	opened bool // a connection was opened before
}

// Acquire blocks until this session holds the lock, then returns the connection holding
// it; closing that connection releases the lock. It retries connection failures with
// backoff and returns only with the lock or with ctx's error.
func (e *Elector) Acquire(ctx context.Context) (*pgx.Conn, error) {
	down := outage.Tracker{Log: e.Log, Target: "postgresql"}
	var conn *pgx.Conn
	var err error
	for standby := false; ; {
		if conn == nil {
			if conn, err = e.connect(ctx, &down); err != nil {
				return nil, err
			}
		}
		var held bool
		if err := conn.QueryRow(ctx, queries.TryLock, e.Key).Scan(&held); err != nil {
			e.drop(conn)
			conn = nil
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err := backoff.Sleep(ctx, down.Fail(fmt.Errorf("try leader lock: %w", err))); err != nil {
				return nil, err
			}
			continue
		}
		if held {
			return conn, nil
		}
		if !standby {
			standby = true
			e.Log.Info().Msg("another publisher holds the leader lock; standing by")
		}
		if err := backoff.Sleep(ctx, e.Every); err != nil {
			e.drop(conn)
			return nil, err
		}
	}
}

// connect opens the lock connection, retrying with backoff until it succeeds or ctx ends.
func (e *Elector) connect(ctx context.Context, down *outage.Tracker) (*pgx.Conn, error) {
	conn, err := outage.Retry(ctx, down, e.Connect)
	if err != nil {
		return nil, err
	}
	if e.opened && e.Reconnected != nil {
		e.Reconnected()
	}
	e.opened = true
	e.setConnected(true)
	return conn, nil
}

func (e *Elector) drop(conn *pgx.Conn) {
	e.setConnected(false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

func (e *Elector) setConnected(up bool) {
	if e.Connected != nil {
		e.Connected(up)
	}
}
