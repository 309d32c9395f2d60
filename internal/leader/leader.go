// Package leader elects the one active publisher with a lease: a row in pgfanout.leader that
// only pgfanout's roles may write, taken when it expired and renewed by its holder. A holder
// that vanishes (crashed, partitioned away) loses it when it expires, however long the
// server keeps its dead connection; a holder that cannot renew in time steps down on its own
// clock before the lease can expire on the server's, so two publishers never lead at once.
// Leading is about efficiency, not safety: any publisher deletes only changes it saw
// confirmed, so even an overlap would publish some changes twice, never lose one.
package leader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/retry"
	queries "github.com/pgfanout/pgfanout/sql"
)

// ErrLost is returned by Keep when the lease could not be renewed in time or another term
// began.
var ErrLost = errors.New("leader lease lost")

// Holder identifies a candidate in the lease row (and so in `publisher status`).
type Holder struct {
	ID   string // unique per process
	Host string
	PID  int
}

// Elector takes the lease, waiting as a standby while another holder has it.
type Elector struct {
	// Connect opens a new connection; the elector and its leases own and close it.
	Connect  func(ctx context.Context) (*pgx.Conn, error)
	Holder   Holder
	TTL      time.Duration // lease length
	Every    time.Duration // between two attempts of a standby
	Liveness liveness.Settings
	Log      zerolog.Logger
	// Hint, when set, adds advice to the log line of a failed attempt (missing migration…).
	Hint func(error) string
	// Connected, when set, is told whether the elector can reach PostgreSQL (readiness).
	Connected func(up bool, err error)
	// Reconnected, when set, is called whenever a connection is opened after an earlier one.
	Reconnected func()

	opened bool
}

// Lease is a held lease. Its connection is used for the lease only.
type Lease struct {
	e       *Elector
	conn    *pgx.Conn
	Term    int64
	expires time.Time // on this process's clock: never later than the server's expiry
}

// Acquire blocks until this candidate holds the lease and returns it. It retries failures
// with backoff and returns only with the lease or with ctx's error.
func (e *Elector) Acquire(ctx context.Context) (*Lease, error) {
	down := retry.Tracker{Log: e.Log, Target: "postgresql", Hint: e.Hint}
	var conn *pgx.Conn
	standby := int64(-1) // the term seen while standing by, to log each holder once
	for {
		if conn == nil {
			c, err := retry.Until(ctx, &down, e.connect)
			if err != nil {
				return nil, err
			}
			conn = c
		}
		l, holder, err := e.try(ctx, conn)
		if err == nil && l != nil {
			return l, nil
		}
		if err != nil {
			e.drop(conn, err)
			conn = nil
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err := retry.Sleep(ctx, down.Fail(err)); err != nil {
				return nil, err
			}
			continue
		}
		if holder.term != standby {
			standby = holder.term
			e.Log.Info().Int64("term", holder.term).Str("leader_host", holder.host).Int("leader_pid", holder.pid).
				Time("expires_at", holder.expires).Msg("another publisher holds the leader lease; standing by")
		}
		if err := retry.Sleep(ctx, e.Every); err != nil {
			e.drop(conn, nil)
			return nil, err
		}
	}
}

type holderRow struct {
	term    int64
	host    string
	pid     int
	expires time.Time
}

// try takes the lease if it is free; otherwise it reports who holds it.
func (e *Elector) try(ctx context.Context, conn *pgx.Conn) (*Lease, holderRow, error) {
	cctx, cancel := e.Liveness.Call(ctx)
	defer cancel()
	sent := time.Now()
	var term int64
	err := conn.QueryRow(cctx, queries.LeaseAcquire, e.Holder.ID, e.Holder.Host, e.Holder.PID, e.TTL.Seconds()).Scan(&term)
	if err == nil {
		return &Lease{e: e, conn: conn, Term: term, expires: sent.Add(e.TTL)}, holderRow{}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, holderRow{}, fmt.Errorf("take the leader lease: %w", err)
	}
	var h holderRow
	var id, host *string
	var pid *int
	var acquired, renewed *time.Time
	var held bool
	if err := conn.QueryRow(cctx, queries.LeaseRead).Scan(&h.term, &id, &host, &pid, &acquired, &renewed, &h.expires, &held); err != nil {
		return nil, holderRow{}, fmt.Errorf("read the leader lease: %w", err)
	}
	if host != nil && pid != nil {
		h.host, h.pid = *host, *pid
	}
	return nil, h, nil
}

func (e *Elector) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := e.Connect(ctx)
	if err != nil {
		e.setConnected(false, err)
		return nil, err
	}
	if e.opened && e.Reconnected != nil {
		e.Reconnected()
	}
	e.opened = true
	e.setConnected(true, nil)
	return conn, nil
}

func (e *Elector) drop(conn *pgx.Conn, err error) {
	e.setConnected(false, err)
	closeConn(conn)
}

func (e *Elector) setConnected(up bool, err error) {
	if e.Connected != nil {
		e.Connected(up, err)
	}
}

// Keep renews the lease every TTL/3 until ctx ends (it returns nil) or the lease is lost
// (ErrLost, wrapped with why). A renewal that fails is retried until the lease would expire.
func (l *Lease) Keep(ctx context.Context) error {
	every := l.e.TTL / 3
	for {
		if err := retry.Sleep(ctx, every); err != nil {
			return nil
		}
		for {
			err := l.renew(ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, ErrLost) || time.Until(l.expires) <= l.margin() {
				return err
			}
			l.e.Log.Warn().Err(err).Dur("expires_in", time.Until(l.expires)).Msg("leader lease renewal failed; retrying")
			if err := retry.Sleep(ctx, min(time.Second, time.Until(l.expires)/2)); err != nil {
				return nil
			}
		}
	}
}

// margin is how long before the lease's end a holder that could not renew gives up: the
// time it needs to stop publishing before a standby may start.
func (l *Lease) margin() time.Duration { return min(time.Second, l.e.TTL/10) }

// renew extends the lease; its deadline is margin before the lease's own end, so that a
// renewal stuck on a dead connection cannot outlast the lease.
func (l *Lease) renew(ctx context.Context) error {
	left := time.Until(l.expires) - l.margin()
	if left <= 0 {
		return fmt.Errorf("%w: not renewed within %s", ErrLost, l.e.TTL)
	}
	cctx, cancel := context.WithTimeout(ctx, min(left, l.e.Liveness.Timeout))
	defer cancel()
	sent := time.Now()
	var term int64
	err := l.conn.QueryRow(cctx, queries.LeaseRenew, l.Term, l.e.TTL.Seconds()).Scan(&term)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: another publisher began a new term", ErrLost)
	case err != nil:
		if l.conn.IsClosed() {
			return fmt.Errorf("%w: renew: %v", ErrLost, err)
		}
		return fmt.Errorf("renew the leader lease: %w", err)
	}
	l.expires = sent.Add(l.e.TTL)
	return nil
}

// Expires is when the lease ends unless renewed, on this process's clock.
func (l *Lease) Expires() time.Time { return l.expires }

// Release gives the lease up (best effort: a dead connection lets it expire instead) and
// closes its connection.
func (l *Lease) Release() {
	ctx, cancel := context.WithTimeout(context.Background(), min(time.Second, l.e.Liveness.Timeout))
	defer cancel()
	if _, err := l.conn.Exec(ctx, queries.LeaseRelease, l.Term); err != nil {
		l.e.Log.Debug().Err(err).Msg("release the leader lease; it expires instead")
	}
	l.e.drop(l.conn, nil)
}

// closeConn closes conn without waiting long for a server that may be gone.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
