// Package replicate is the replicator: it consumes a replica's queue, applies the changes in
// batches through an Applier, acknowledges after commit, isolates and dead-letters messages that
// cannot be applied, and reconnects whenever RabbitMQ or the replica goes away.
package replicate

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/sourcegraph/conc/pool"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/bootstrap"
	"github.com/pgfanout/pgfanout/internal/broker"
	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/horizon"
	"github.com/pgfanout/pgfanout/internal/retry"
)

// Applier writes a batch of changes to the replica in one transaction (apply.Applier).
type Applier interface {
	Apply(ctx context.Context, changes []change.Change) error
	Ping(ctx context.Context) error
}

// Replicator replicates one queue into one replica.
type Replicator struct {
	cfg      Config
	applier  Applier
	db       *pgxpool.Pool // the replica pool when the replicator built its own applier
	copier   *bootstrap.Copier
	declared chan struct{} // closed once the replica's queue was declared and bound
	once     sync.Once
	log      zerolog.Logger
	// warnedDeadQueue: the kept dead-letter queue's warning was logged (once per process).
	warnedDeadQueue bool
	metrics         *metrics
	status          *status
	tracker         *horizon.Tracker // the low-water marks this process saw
	reg             prometheus.Registerer
}

// New builds a Replicator; metrics are registered on reg (none when nil). Without
// cfg.Applier it opens a pool on cfg.ReplicaURL, lazily: a replica that is down is retried.
func New(cfg Config, log zerolog.Logger, reg prometheus.Registerer) (*Replicator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Replicator{cfg: cfg, applier: cfg.Applier, log: log, metrics: newMetrics(reg), status: newStatus(),
		declared: make(chan struct{}), tracker: &horizon.Tracker{}, reg: reg}
	if r.applier != nil {
		return r, nil
	}
	pc, err := apply.PoolConfig(cfg.ReplicaURL, cfg.Liveness)
	if err != nil {
		return nil, err
	}
	// One connection per worker and per copy worker, one for catalog lookups.
	pc.MaxConns = int32(cfg.Workers + 1)
	if cfg.SourceURL != "" {
		pc.MaxConns += int32(cfg.CopyWorkers + 1)
	}
	if r.db, err = pgxpool.NewWithConfig(context.Background(), pc); err != nil {
		return nil, fmt.Errorf("replica pool: %w", err)
	}
	a := apply.New(r.db)
	r.applier = a
	if cfg.SourceURL != "" {
		r.copier, err = bootstrap.New(bootstrap.Config{SourceURL: cfg.SourceURL, Match: r.selected, Workers: cfg.CopyWorkers,
			Name: connectionName(cfg.ReplicaName), Liveness: cfg.Liveness, CreateTables: cfg.CreateTables, FollowDDL: cfg.FollowDDL},
			a, log.With().Str("component", "copy").Logger(), reg)
		if err != nil {
			r.db.Close()
			return nil, err
		}
		if f := r.copier.Follower(); f != nil {
			a.SetHealer(f)
		}
		a.OnDropped(func(schema, table string, n int) {
			r.metrics.stopped.WithLabelValues(schema + "." + table).Add(float64(n))
		})
	}
	return r, nil
}

// selected reports whether --tables selects a table.
func (r *Replicator) selected(schema, table string) bool {
	return MatchAny(r.cfg.Tables, schema, table)
}

// queueDeclared lets the copier start: no change can fall between its copies and the stream
// once the queue is bound.
func (r *Replicator) queueDeclared() { r.once.Do(func() { close(r.declared) }) }

// Ready reports whether the replicator consumes and the replica takes batches, and why not; a
// table whose stream is stopped (its shape could not be followed, or its copy failed) makes it
// unready too, with the table and the reason.
func (r *Replicator) Ready() (bool, string) {
	ok, why := r.status.ready()
	if !ok || r.copier == nil {
		return ok, why
	}
	if stopped := r.copier.Stopped(); len(stopped) > 0 {
		s := stopped[0]
		why := fmt.Sprintf("table %s.%s is stopped: %s (fix the replica table, then: replicator resync --tables %s.%s)",
			s.Schema, s.Table, s.Reason, s.Schema, s.Table)
		if len(stopped) > 1 {
			why += fmt.Sprintf("; %d more tables stopped", len(stopped)-1)
		}
		return false, why
	}
	return ok, why
}

// Run consumes until ctx ends, reconnecting with backoff. It returns nil on shutdown: the batch
// in flight is finished (within ShutdownGrace) or abandoned, and every message not acknowledged
// goes back to the queue.
func (r *Replicator) Run(ctx context.Context) error {
	r.log.Info().Str("queue", r.cfg.Queue()).Str("exchange", r.cfg.Exchange).
		Stringer("tables", patternList(r.cfg.Tables)).Msg("replicator starting")
	if r.db != nil {
		defer r.db.Close()
	}
	g := pool.New().WithErrors().WithContext(ctx)
	g.Go(r.consume)
	g.Go(r.watchReplica)
	if r.copier != nil {
		g.Go(func(ctx context.Context) error { return r.copier.Run(ctx, r.declared) })
	}
	if p, ok := r.applier.(horizon.Pruner); ok && r.cfg.BookkeepingHorizon > 0 {
		loop := horizon.New(r.cfg.BookkeepingHorizon, r.tracker, p, r.log.With().Str("component", "prune").Logger(), r.reg)
		g.Go(loop.Run)
	}
	err := g.Wait()
	r.log.Info().Msg("replicator stopped")
	return err
}

// consume runs AMQP sessions one after the other until ctx ends.
func (r *Replicator) consume(ctx context.Context) error {
	attempt := 0
	for {
		started := time.Now()
		err := r.session(ctx)
		why := "not consuming"
		if err != nil {
			why = err.Error()
		}
		r.status.notConsuming(why)
		if ctx.Err() != nil {
			return nil
		}
		attempt++
		if time.Since(started) > time.Minute {
			attempt = 1 // a session that lasted was healthy: start the backoff over
		}
		delay := r.cfg.Reconnect.Delay(attempt)
		ev := r.log.Warn().Err(err).Dur("retry_in", delay)
		if h := broker.Hint(err); h != "" {
			ev = ev.Str("hint", h)
		}
		ev.Msg("AMQP session ended; reconnecting")
		if retry.Sleep(ctx, delay) != nil {
			return nil
		}
	}
}

// watchReplica pings the replica every KeepAlive while no batch proved it reachable, so that
// readiness tells the truth about an idle replicator too.
func (r *Replicator) watchReplica(ctx context.Context) error {
	tick := time.NewTicker(r.cfg.Liveness.KeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if time.Since(r.status.replicaSeen()) < r.cfg.Liveness.KeepAlive {
			continue
		}
		pctx, cancel := r.cfg.Liveness.Call(ctx)
		err := r.applier.Ping(pctx)
		cancel()
		if ctx.Err() == nil {
			r.status.setReplica(err)
		}
	}
}

type patternList []Pattern

func (ps patternList) String() string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// Declare connects, declares the replica's topology and disconnects (`replicator declare`).
// A dead-letter queue kept from an earlier pgfanout is logged as a warning.
func Declare(ctx context.Context, cfg Config, log zerolog.Logger) error {
	cfg = cfg.withDefaults()
	if cfg.AMQPURL == "" || cfg.ReplicaName == "" {
		return fmt.Errorf("declare: an AMQP URL and a replica name are required")
	}
	conn, err := broker.Dial(ctx, broker.DialConfig{URL: cfg.AMQPURL, Name: connectionName(cfg.ReplicaName), Liveness: cfg.Liveness})
	if err != nil {
		return withHint(err)
	}
	defer conn.Close(time.Second)
	warning, err := cfg.Topology().Declare(conn)
	if warning != "" {
		log.Warn().Str("queue", cfg.DeadQueue()).Msg(warning)
	}
	return withHint(err)
}

// withHint appends what to check to an error a retry will not fix (broker.Hint), for the
// one-shot subcommands, which print their error and exit.
func withHint(err error) error {
	if h := broker.Hint(err); err != nil && h != "" {
		return fmt.Errorf("%w (hint: %s)", err, h)
	}
	return err
}

// connectionName is what the RabbitMQ management UI shows for our connections.
func connectionName(replica string) string { return "pgfanout-replicator " + replica }
