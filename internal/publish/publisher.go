package publish

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/xid"
	"github.com/rs/zerolog"
	"github.com/sourcegraph/conc/pool"

	"github.com/pgfanout/pgfanout/internal/leader"
	"github.com/pgfanout/pgfanout/internal/redact"
	"github.com/pgfanout/pgfanout/internal/retry"
)

// Publisher is one publisher process: a leader candidate, a LISTEN connection and the
// gauges' monitor.
type Publisher struct {
	cfg        Config
	log        zerolog.Logger
	pg         *pgx.ConnConfig
	m          *metrics
	status     *status
	elector    *leader.Elector
	unroutable *unroutable
	wake       chan struct{} // buffered (1): a pending wake-up for the drain loop
}

// New checks cfg and registers the metrics on reg (none when nil).
func New(cfg Config, log zerolog.Logger, reg prometheus.Registerer) (*Publisher, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pg, err := pgx.ParseConfig(cfg.SourceURL)
	if err != nil {
		// pgx's message already hides the password; redact it all the same.
		return nil, fmt.Errorf("parse source URL %s: %w", redact.URL(cfg.SourceURL), err)
	}
	cfg.Liveness.PG(&pg.Config)
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	p := &Publisher{cfg: cfg, log: log, pg: pg, m: m, status: newStatus(m), wake: make(chan struct{}, 1)}
	p.unroutable = &unroutable{log: log, m: m}
	host, _ := os.Hostname()
	p.elector = &leader.Elector{
		Connect:     func(ctx context.Context) (*pgx.Conn, error) { return p.connect(ctx, leaseAppName) },
		Holder:      leader.Holder{ID: xid.New().String(), Host: host, PID: os.Getpid()},
		TTL:         cfg.LeaderLease,
		Every:       cfg.StandbyPoll,
		Liveness:    cfg.Liveness,
		Log:         log.With().Str("connection", "lease").Logger(),
		Hint:        pgHint,
		Connected:   p.status.setPG,
		Reconnected: func() { m.reconnects.WithLabelValues(targetPostgres).Inc() },
	}
	return p, nil
}

// connect opens a source connection named appName (unless the URL set application_name).
func (p *Publisher) connect(ctx context.Context, appName string) (*pgx.Conn, error) {
	c := p.pg.Copy()
	if _, set := c.RuntimeParams["application_name"]; !set {
		c.RuntimeParams["application_name"] = appName
	}
	return pgx.ConnectConfig(ctx, c)
}

// Ready reports whether the publisher does its work, and why not (for /readyz).
func (p *Publisher) Ready() (bool, string) { return p.status.ready() }

// Run publishes until ctx ends, then finishes the batch in flight (within ShutdownGrace) and
// returns nil. It returns early only if a part of it fails for good.
func (p *Publisher) Run(ctx context.Context) error {
	p.log.Info().Str("source", redact.URL(p.cfg.SourceURL)).Str("amqp", redact.URL(p.cfg.AMQPURL)).
		Str("exchange", p.cfg.Exchange).Str("holder", p.elector.Holder.ID).Msg("publisher starting")
	g := pool.New().WithErrors().WithContext(ctx).WithCancelOnError()
	g.Go(p.listen)
	g.Go(p.monitor)
	g.Go(p.campaign)
	err := g.Wait()
	p.log.Info().Msg("publisher stopped")
	return err
}

// campaign alternates between standing by for the lease and leading.
func (p *Publisher) campaign(ctx context.Context) error {
	lost := 0
	for {
		lease, err := p.elector.Acquire(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		started := time.Now()
		p.status.update(func(s *status) { s.leader = true })
		p.log.Info().Int64("term", lease.Term).Msg("took the leader lease; publishing")
		err = p.lead(ctx, lease)
		p.status.update(func(s *status) { s.leader, s.broker, s.blocked = false, "not connected to RabbitMQ", "" })
		lease.Release()
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > time.Minute {
			lost = 0 // a long term: this is a new incident, start the backoff over
		}
		lost++
		p.logLost(err, lease.Term)
		if err := retry.Sleep(ctx, retry.Reconnect().Delay(lost)); err != nil {
			return nil
		}
	}
}

// logLost explains why a term ended, with what PostgreSQL said when it said something.
func (p *Publisher) logLost(err error, term int64) {
	ev := p.log.Warn().Err(err).Int64("term", term)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		ev = ev.Str("sqlstate", pgErr.Code)
	}
	if h := pgHint(err); h != "" {
		ev = ev.Str("hint", h)
	}
	ev.Msg("stopped publishing; released the leader lease, standing by")
}

// pgHint says what to check for source errors a retry will not mend.
func pgHint(err error) string {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return ""
	}
	switch pgErr.Code {
	case "3F000", "42P01", "42883": // schema, table or function missing
		return "run `publisher migrate` against the source database"
	case "42501":
		return "the publisher's role lacks a grant: see docs/capture.md, Security"
	case "28P01", "28000":
		return "the source refused the credentials in --source-url"
	}
	return ""
}

// closeConn closes conn without waiting long for a server that may be gone.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
