package publish

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/internal/retry"
)

// listen keeps a LISTEN connection on Channel until ctx ends, turning notifications into
// wake-ups of the drain loop. Each (re)connect wakes the loop too: whatever was committed while
// no one listened is in the change log.
//
// It is pgxlisten's loop plus liveness, which pgxlisten cannot give: a LISTEN connection is
// silent while nothing is committed, so it waits for notifications at most KeepAlive at a
// time and then pings with a deadline. A connection cut off without a FIN (a partition, a
// frozen server) is noticed within KeepAlive + Timeout and replaced.
func (p *Publisher) listen(ctx context.Context) error {
	down := retry.Tracker{Log: p.log.With().Str("connection", "listen").Logger(), Target: "postgresql", Hint: pgHint}
	connected := false
	for {
		conn, err := retry.Until(ctx, &down, func(ctx context.Context) (*pgx.Conn, error) {
			return p.connect(ctx, listenAppName)
		})
		if err != nil {
			return nil // only ctx ends retry.Until
		}
		if connected {
			p.m.reconnects.WithLabelValues(targetListener).Inc()
		}
		connected = true
		err = p.listenOn(ctx, conn)
		closeConn(conn)
		if ctx.Err() != nil {
			return nil
		}
		if err := retry.Sleep(ctx, down.Fail(err)); err != nil {
			return nil
		}
	}
}

// listenOn listens on conn until ctx ends (nil) or the connection fails.
func (p *Publisher) listenOn(ctx context.Context, conn *pgx.Conn) error {
	live := p.cfg.Liveness
	cctx, cancel := live.Call(ctx)
	_, err := conn.Exec(cctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize())
	cancel()
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	p.signal()
	for {
		wctx, cancel := context.WithTimeout(ctx, live.KeepAlive)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			p.signal()
			continue
		case ctx.Err() != nil:
			return nil
		case !errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("wait for notifications: %w", err)
		}
		// Nothing for KeepAlive: a timeout leaves the connection usable; ping it.
		pctx, cancel := live.Call(ctx)
		err = conn.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("ping the listening connection: %w", err)
		}
	}
}

// signal wakes the drain loop. It never blocks: the listening connection must be read
// promptly whatever the publisher is doing (waiting for RabbitMQ, for instance), or the
// server's NOTIFY queue fills and source commits fail.
func (p *Publisher) signal() {
	select {
	case p.wake <- struct{}{}:
	default: // a wake-up is already pending; it covers this one
	}
}
