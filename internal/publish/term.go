package publish

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/sourcegraph/conc/pool"

	"github.com/pgfanout/pgfanout/internal/broker"
	"github.com/pgfanout/pgfanout/internal/changelog"
	"github.com/pgfanout/pgfanout/internal/leader"
	"github.com/pgfanout/pgfanout/internal/retry"
	"github.com/pgfanout/pgfanout/internal/shutdown"
)

// brokerError marks a failure on the RabbitMQ side. The leader keeps its lease, reconnects
// to RabbitMQ and drains again from the change log, which still holds every change whose
// messages were not confirmed: they are published again, never dropped.
type brokerError struct{ err error }

func (e brokerError) Error() string { return e.err.Error() }
func (e brokerError) Unwrap() error { return e.err }

// errStalled ends a term whose drain made no progress for ProgressTimeout.
var errStalled = errors.New("no progress")

// term is one period as leader: the lease (renewed on its own connection), a work
// connection for every change-log statement, and a RabbitMQ connection.
type term struct {
	p           *Publisher
	conn        *pgx.Conn // work connection: fetch, delete, idle lock
	store       *changelog.Store
	work        context.Context // ends ShutdownGrace after shutdown (lets confirms finish), or at once when the term fails
	bconn       *broker.Conn
	live        atomic.Pointer[broker.Conn] // bconn, for the watchdog's goroutine
	pub         *broker.Publisher
	opened      bool           // a RabbitMQ connection was opened before in this term
	broker      retry.Tracker  // RabbitMQ connection attempts
	failures    int            // broker failures since the last confirmed batch
	progress    atomic.Int64   // unix nanos of the drain loop's last step
	idle        bool           // holds the idle lock with the idle flag up: source commits notify
	leaseTerm   int64          // the lease's term, which the idle flag names
	lingerSince time.Time      // when the log was first found empty since the last fetch with work
	lingerWait  retry.Doubling // pauses between the fetches of a linger
	idleWait    retry.Doubling // pause after the idle lock was busy
	lowWater    lowWater
	autoTrack   autoTrack
}

// lead publishes as leader until ctx ends (then returns nil), the lease is lost, the source
// fails, or the watchdog finds the term stuck.
func (p *Publisher) lead(ctx context.Context, lease *leader.Lease) error {
	termCtx, endTerm := context.WithCancel(ctx)
	defer endTerm()
	// Shutdown (ctx) leaves the work ShutdownGrace to land its batch; a failed term (lease
	// lost, stall) stops it at once.
	work, stopWork := shutdown.WorkContext(ctx, termCtx, p.cfg.ShutdownGrace)
	defer stopWork()

	conn, err := p.connectWork(work)
	if err != nil {
		return err
	}
	t := &term{p: p, conn: conn, store: changelog.New(conn, p.cfg.Liveness.Timeout), work: work, leaseTerm: lease.Term,
		broker:     retry.Tracker{Log: p.log.With().Str("connection", "amqp").Logger(), Target: "rabbitmq", Hint: broker.Hint},
		idleWait:   retry.Doubling{Min: idleLinger, Max: p.cfg.PollInterval},
		lingerWait: retry.Doubling{Min: lingerFirst, Max: idleLinger / 4}}
	t.stepped()
	// The first part to fail ends the term: termCtx itself, so that the work context follows.
	g := pool.New().WithErrors().WithFirstError()
	for _, part := range []func(context.Context) error{lease.Keep, t.run, t.watchdog} {
		g.Go(func() error {
			err := part(termCtx)
			if err != nil {
				endTerm()
			}
			return err
		})
	}
	err = g.Wait()
	// Nothing publishes any more: say so before the slower closing of the connections.
	p.status.update(func(s *status) { s.leader = false })
	t.close()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// connectWork opens the work connection.
func (p *Publisher) connectWork(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := p.cfg.Liveness.Call(ctx)
	defer cancel()
	conn, err := p.connect(cctx, AppName)
	if err != nil {
		return nil, fmt.Errorf("connect to the source: %w", err)
	}
	return conn, nil
}

// close ends the term: the idle lock is released and the flag lowered before the connection
// closes (a backend releases a closed session's locks only once it has exited, and meanwhile
// every commit would notify for nothing), then RabbitMQ and PostgreSQL are closed.
func (t *term) close() {
	if t.idle {
		ctx, cancel := context.WithTimeout(context.Background(), min(time.Second, t.p.cfg.Liveness.Timeout))
		if err := t.releaseIdleSignal(ctx); err != nil {
			t.p.log.Debug().Err(err).Msg("release the idle lock; it goes with the connection")
		}
		cancel()
		t.idle = false
	}
	t.closeBroker()
	closeConn(t.conn)
}

func (t *term) run(ctx context.Context) error {
	for {
		if err := t.openBroker(ctx); err != nil {
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
		if hint := broker.Hint(err); hint != "" {
			ev = ev.Str("hint", hint)
		}
		ev.Msg("RabbitMQ failed; reconnecting, unconfirmed changes stay in the change log and are published again")
		t.closeBroker()
		if err := retry.Sleep(ctx, retry.Reconnect().Delay(t.failures)); err != nil {
			return nil
		}
	}
}

// openBroker connects to RabbitMQ, retrying with backoff until it succeeds or ctx ends.
// Between attempts it checks the work connection: a leader that lost the source must stand
// by rather than wait for RabbitMQ.
func (t *term) openBroker(ctx context.Context) error {
	c, err := retry.Until(ctx, &t.broker, func(ctx context.Context) (*broker.Conn, error) {
		t.stepped() // waiting for RabbitMQ is not being stuck
		if t.broker.Failing() {
			// A retry keeps the last attempt's failure as the readiness reason: /readyz's
			// cause, and /healthz with it, must not flap to "connecting" between refused logins.
			pctx, cancel := t.p.cfg.Liveness.Call(ctx)
			err := t.conn.Ping(pctx)
			cancel()
			if err != nil {
				return nil, retry.Stop(fmt.Errorf("check the source while RabbitMQ is unavailable: %w", err))
			}
		} else {
			t.p.status.update(func(s *status) { s.broker = "connecting" })
		}
		return t.dial(ctx)
	})
	if err != nil {
		return err
	}
	if t.opened {
		t.p.m.reconnects.WithLabelValues(targetRabbitMQ).Inc()
	}
	t.opened = true
	t.bconn = c
	t.live.Store(c)
	t.p.status.update(func(s *status) { s.broker, s.blocked = "", c.Blocked() })
	return nil
}

// dial opens the RabbitMQ connection, its confirm channel and the exchange.
func (t *term) dial(ctx context.Context) (*broker.Conn, error) {
	c, err := broker.Dial(ctx, broker.DialConfig{URL: t.p.cfg.AMQPURL, Name: AppName,
		Liveness: t.p.cfg.Liveness, OnBlocked: t.blocked})
	if err != nil {
		t.p.status.update(func(s *status) { s.broker = err.Error() })
		return nil, err
	}
	ch, err := c.Channel()
	if err == nil {
		err = broker.DeclareExchange(ch, t.p.cfg.Exchange)
		_ = ch.Close()
	}
	if err == nil {
		t.pub, err = c.Publisher(t.p.unroutable.returned)
	}
	if err != nil {
		c.Close(time.Second)
		t.p.status.update(func(s *status) { s.broker = err.Error() })
		return nil, err
	}
	return c, nil
}

// blocked follows RabbitMQ's resource alarms (called on the connection's goroutine).
func (t *term) blocked(b amqp.Blocking) {
	reason := ""
	if b.Active {
		reason = b.Reason
		if reason == "" {
			reason = "resource alarm"
		}
		t.p.log.Warn().Str("reason", reason).Msg("RabbitMQ blocks publishing (resource alarm); changes wait in the change log")
	} else {
		t.p.log.Info().Msg("RabbitMQ unblocked publishing")
	}
	t.p.status.update(func(s *status) { s.blocked = reason })
}

func (t *term) closeBroker() {
	if t.bconn == nil {
		return
	}
	if t.pub != nil {
		t.pub.Close()
		t.pub = nil
	}
	t.live.Store(nil)
	t.bconn.Close(time.Second)
	t.bconn = nil
	t.p.status.update(func(s *status) { s.broker, s.blocked = "not connected to RabbitMQ", "" })
}

// stepped records progress of the drain loop, for the watchdog.
func (t *term) stepped() { t.progress.Store(time.Now().UnixNano()) }

// watchdog ends the term when the drain loop made no progress for ProgressTimeout while
// RabbitMQ did not block it: a backstop for a call stuck where no deadline reaches. The
// term's end closes every connection, and the next term starts afresh.
func (t *term) watchdog(ctx context.Context) error {
	tick := time.NewTicker(min(time.Second, t.p.cfg.ProgressTimeout/4))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		b := t.live.Load()
		if b != nil && b.Blocked() != "" {
			t.stepped() // a blocked broker is a legitimate wait
			continue
		}
		since := time.Since(time.Unix(0, t.progress.Load()))
		if since > t.p.cfg.ProgressTimeout {
			t.p.m.stalls.Inc()
			t.p.log.Error().Dur("stuck_for", since).Msg("the leader made no progress; reconnecting everything")
			if b != nil {
				b.Abort() // unblocks a publish stuck writing
			}
			return fmt.Errorf("%w for %s", errStalled, since.Round(time.Second))
		}
	}
}

// wait blocks until a notification, the poll interval, RabbitMQ failing or ctx ending.
func (t *term) wait(ctx context.Context) error {
	timer := time.NewTimer(t.p.cfg.PollInterval)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-t.p.wake:
	case <-timer.C:
	case <-t.bconn.Done():
		return brokerError{fmt.Errorf("RabbitMQ connection closed: %w", t.bconn.Err())}
	case <-t.pub.Done():
		return brokerError{fmt.Errorf("RabbitMQ channel closed: %w", t.pub.Err())}
	}
	return nil
}
