// Package replicate is the replicator: it consumes a replica's queue, applies the changes in
// batches through an Applier, acknowledges after commit, isolates and dead-letters messages that
// cannot be applied, and reconnects whenever RabbitMQ or the replica goes away.
package replicate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/internal/amqpout"
	"github.com/pgfanout/pgfanout/internal/backoff"
	"github.com/pgfanout/pgfanout/internal/change"
)

// Applier writes a batch of changes to the replica in one transaction (apply.Applier).
type Applier interface {
	Apply(ctx context.Context, changes []change.Change) error
}

// Replicator replicates one queue into one replica.
type Replicator struct {
	cfg     Config
	applier Applier
	log     zerolog.Logger
	metrics *metrics
	ready   func(bool)
}

// New builds a Replicator; metrics are registered on reg, ready reports readiness (connected
// to RabbitMQ and the last batch applied).
func New(cfg Config, applier Applier, log zerolog.Logger, reg prometheus.Registerer, ready func(bool)) (*Replicator, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if ready == nil {
		ready = func(bool) {}
	}
	return &Replicator{cfg: cfg, applier: applier, log: log, metrics: newMetrics(reg), ready: ready}, nil
}

// Run consumes until ctx ends, reconnecting with backoff. It returns nil on shutdown: the batch
// in flight is finished (within ShutdownGrace) or abandoned, and every message not acknowledged
// goes back to the queue.
func (r *Replicator) Run(ctx context.Context) error {
	r.log.Info().Str("queue", r.cfg.Queue()).Str("exchange", r.cfg.Exchange).
		Stringer("tables", patternList(r.cfg.Tables)).Msg("replicator starting")
	attempt := 0
	for {
		started := time.Now()
		err := r.session(ctx)
		r.ready(false)
		if ctx.Err() != nil {
			r.log.Info().Msg("replicator stopped")
			return nil
		}
		attempt++
		if time.Since(started) > time.Minute {
			attempt = 1 // a session that lasted was healthy: start the backoff over
		}
		delay := r.cfg.Reconnect.Delay(attempt)
		r.log.Warn().Err(err).Dur("retry_in", delay).Msg("AMQP session ended; reconnecting")
		if backoff.Sleep(ctx, delay) != nil {
			return nil
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

// DeclareOnly connects, declares the topology and disconnects (`replicator declare`).
func DeclareOnly(ctx context.Context, cfg Config) error {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	conn, err := amqpout.Dial(ctx, cfg.AMQPURL, connectionName(cfg.ReplicaName))
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	return Declare(ch, &cfg)
}
