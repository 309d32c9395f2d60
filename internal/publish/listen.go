package publish

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"

	"github.com/pgfanout/pgfanout/internal/backoff"
	"github.com/pgfanout/pgfanout/internal/outage"
)

// wakeHandler turns notifications into a wake-up of the drain loop. It never blocks: the
// listening connection must be read promptly whatever the publisher is doing (waiting for
// RabbitMQ, for instance), or the server's NOTIFY queue fills and source commits fail.
type wakeHandler struct{ wake chan struct{} }

func (h wakeHandler) signal() {
	select {
	case h.wake <- struct{}{}:
	default: // a wake-up is already pending; it covers this one
	}
}

func (h wakeHandler) HandleNotification(context.Context, *pgconn.Notification, *pgx.Conn) error {
	h.signal()
	return nil
}

// HandleBacklog runs each time LISTEN is (re-)established: whatever was committed while no
// one listened is in the change log, so the leader drains it.
func (h wakeHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	h.signal()
	return nil
}

// listen keeps a LISTEN connection on Channel until ctx ends.
func (p *Publisher) listen(ctx context.Context) error {
	down := outage.Tracker{Log: p.log.With().Str("connection", "listen").Logger(), Target: "postgresql"}
	connected := false
	l := &pgxlisten.Listener{
		// Connect retries with backoff itself, so that an outage is logged once and then
		// periodically rather than by pgxlisten at a fixed pace.
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			conn, err := outage.Retry(ctx, &down, func(ctx context.Context) (*pgx.Conn, error) {
				return pgx.ConnectConfig(ctx, p.connConfig(listenAppName))
			})
			if err != nil {
				return nil, err
			}
			if connected {
				p.m.reconnects.WithLabelValues(targetListener).Inc()
			}
			connected = true
			return conn, nil
		},
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				p.log.Warn().Err(err).Msg("listen connection failed; reconnecting")
			}
		},
		ReconnectDelay: backoff.Reconnect().Min,
	}
	l.Handle(Channel, wakeHandler{wake: p.wake})
	err := l.Listen(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
