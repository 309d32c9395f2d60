package publish

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"
	"github.com/sourcegraph/conc/pool"

	"github.com/pgfanout/pgfanout/internal/backoff"
	"github.com/pgfanout/pgfanout/internal/leader"
	"github.com/pgfanout/pgfanout/internal/redact"
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

// New checks cfg and registers the metrics.
func New(cfg Config) (*Publisher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	pg, err := pgx.ParseConfig(cfg.SourceURL)
	if err != nil {
		// pgx's message already hides the password; redact it all the same.
		return nil, fmt.Errorf("parse source URL %s: %w", redact.URL(cfg.SourceURL), err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	p := &Publisher{
		cfg:  cfg,
		log:  cfg.Log,
		pg:   pg,
		m:    m,
		wake: make(chan struct{}, 1),
	}
	p.status = &status{setReady: cfg.SetReady, m: m}
	p.unroutable = &unroutable{log: p.log, m: m}
	p.elector = &leader.Elector{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			return pgx.ConnectConfig(ctx, p.connConfig(AppName))
		},
		Key:         lockKey,
		Every:       cfg.LockInterval,
		Log:         p.log.With().Str("connection", "leader").Logger(),
		Connected:   p.status.setPostgres,
		Reconnected: func() { m.reconnects.WithLabelValues(targetPostgres).Inc() },
	}
	return p, nil
}

// connConfig is the source configuration with our application_name, unless the URL set one.
func (p *Publisher) connConfig(appName string) *pgx.ConnConfig {
	c := p.pg.Copy()
	if _, set := c.RuntimeParams["application_name"]; !set {
		c.RuntimeParams["application_name"] = appName
	}
	return c
}

// Run publishes until ctx ends, then finishes the batch in flight (within ShutdownGrace) and
// returns nil. It returns early only if a part of it fails for good.
func (p *Publisher) Run(ctx context.Context) error {
	p.log.Info().Str("source", redact.URL(p.cfg.SourceURL)).Str("amqp", redact.URL(p.cfg.AMQPURL)).
		Str("exchange", p.cfg.Exchange).Msg("publisher starting")
	g := pool.New().WithErrors().WithContext(ctx).WithCancelOnError()
	g.Go(p.listen)
	g.Go(p.monitor)
	g.Go(p.campaign)
	err := g.Wait()
	p.log.Info().Msg("publisher stopped")
	return err
}

// campaign alternates between standing by for the leader lock and leading.
func (p *Publisher) campaign(ctx context.Context) error {
	lost := 0
	for {
		conn, err := p.elector.Acquire(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		started := time.Now()
		p.status.setLeader(true)
		p.log.Info().Msg("took the leader lock; publishing")
		err = p.lead(ctx, conn)
		p.status.update(func(s *status) { s.leader, s.postgres, s.broker = false, false, false })
		closeConn(conn)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > time.Minute {
			lost = 0 // a long term: this is a new incident, start the backoff over
		}
		lost++
		p.logLost(err)
		if err := backoff.Sleep(ctx, backoff.Reconnect().Delay(lost)); err != nil {
			return nil
		}
	}
}

// logLost explains why leadership ended, with what PostgreSQL said when it said something.
func (p *Publisher) logLost(err error) {
	ev := p.log.Warn().Err(err)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		ev = ev.Str("sqlstate", pgErr.Code)
		if pgErr.Code == "3F000" || pgErr.Code == "42P01" { // schema or table missing
			ev = ev.Str("hint", "run `publisher migrate` against the source database")
		}
	}
	ev.Msg("stopped publishing: PostgreSQL failed; releasing the leader lock and standing by")
}
