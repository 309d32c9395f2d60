package publish

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pgfanout/pgfanout/internal/amqpout"
	"github.com/pgfanout/pgfanout/internal/backoff"
	"github.com/pgfanout/pgfanout/internal/changelog"
	"github.com/pgfanout/pgfanout/internal/outage"
)

// brokerError marks a failure on the RabbitMQ side. The leader keeps its lock, reconnects
// to RabbitMQ and drains again from the change log, which still holds every change whose
// messages were not confirmed: they are published again, never dropped.
type brokerError struct{ err error }

func (e brokerError) Error() string { return e.err.Error() }
func (e brokerError) Unwrap() error { return e.err }

// term is one period as leader. Every change-log statement runs on the connection holding
// the lock, so a leader whose connection died cannot delete anything; any PostgreSQL error
// ends the term.
type term struct {
	p         *Publisher
	conn      *pgx.Conn // holds the leader lock
	store     *changelog.Store
	work      context.Context // ends ShutdownGrace after the run's context: lets confirms finish
	session   *amqpout.Session
	unabort   func() bool
	opened    bool           // a session was opened before in this term
	broker    outage.Tracker // connection attempts
	failures  int            // broker failures since the last confirmed batch
	idle      bool           // holds the idle lock: source commits notify
	lingered  bool           // the log was found empty, idleLinger passed, and nothing was fetched since
	idleRetry time.Duration  // pause after the idle lock was busy; doubles up to PollInterval
}

// lead publishes as leader on conn until ctx ends (then returns nil) or PostgreSQL fails.
func (p *Publisher) lead(ctx context.Context, conn *pgx.Conn) error {
	work, cancel := graceful(ctx, p.cfg.ShutdownGrace)
	defer cancel()
	t := &term{p: p, conn: conn, store: changelog.New(conn), work: work,
		broker: outage.Tracker{Log: p.log.With().Str("connection", "amqp").Logger(), Target: "rabbitmq"}}
	defer t.closeSession()
	// The caller closes conn after the term, which releases the idle lock with it: commits
	// stop notifying once no publisher waits, however the term ended.
	err := t.run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (t *term) run(ctx context.Context) error {
	for {
		if err := t.openSession(ctx); err != nil {
			return err
		}
		err := t.drain(ctx)
		var be brokerError
		if !errors.As(err, &be) || ctx.Err() != nil {
			return err
		}
		t.failures++
		ev := t.p.log.Warn().Err(err).Int("failures", t.failures)
		var amqpErr *amqp.Error
		if errors.As(err, &amqpErr) {
			ev = ev.Int("amqp_code", amqpErr.Code).Bool("by_server", amqpErr.Server)
		}
		if hint := amqpout.Hint(err); hint != "" {
			ev = ev.Str("hint", hint)
		}
		ev.Msg("RabbitMQ failed; reconnecting, unconfirmed changes stay in the change log and are published again")
		t.closeSession()
		if err := backoff.Sleep(ctx, backoff.Reconnect().Delay(t.failures)); err != nil {
			return nil
		}
	}
}

// openSession connects to RabbitMQ, retrying with backoff until it succeeds or ctx ends.
// Between attempts it checks the lock connection: a leader that lost its lock must stand
// by rather than wait for RabbitMQ.
func (t *term) openSession(ctx context.Context) error {
	s, err := outage.Retry(ctx, &t.broker, func(ctx context.Context) (*amqpout.Session, error) {
		if t.broker.Failing() {
			if err := t.conn.Ping(ctx); err != nil {
				return nil, outage.Stop(fmt.Errorf("check leader connection while RabbitMQ is unavailable: %w", err))
			}
		}
		s, err := amqpout.Open(ctx, amqpout.Config{URL: t.p.cfg.AMQPURL, Exchange: t.p.cfg.Exchange,
			Name: AppName, Returned: t.p.unroutable.returned})
		if hint := amqpout.Hint(err); hint != "" {
			err = fmt.Errorf("%w (%s)", err, hint)
		}
		return s, err
	})
	if err != nil {
		return err
	}
	if t.opened {
		t.p.m.reconnects.WithLabelValues(targetRabbitMQ).Inc()
	}
	t.opened = true
	t.session = s
	t.unabort = context.AfterFunc(t.work, s.Abort)
	t.p.status.setBroker(true)
	return nil
}

func (t *term) closeSession() {
	if t.session == nil {
		return
	}
	t.unabort()
	t.session.Close(time.Second)
	t.session = nil
	t.p.status.setBroker(false)
}

// wait blocks until a notification, the poll interval, RabbitMQ failing or ctx ending.
func (t *term) wait(ctx context.Context) error {
	timer := time.NewTimer(t.p.cfg.PollInterval)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-t.p.wake:
	case <-timer.C:
	case <-t.session.Done():
		return brokerError{fmt.Errorf("RabbitMQ connection closed: %w", t.session.Err())}
	}
	return nil
}

// graceful returns a context that ends grace after ctx does: a shutdown stops new work at
// once but lets outstanding confirms and the final delete finish.
func graceful(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-work.Done(): // the work finished within the grace
		}
	})
	return work, func() { stop(); cancel() }
}
