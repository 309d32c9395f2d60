package replicate

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/sourcegraph/conc/pool"

	"github.com/pgfanout/pgfanout/internal/broker"
	"github.com/pgfanout/pgfanout/internal/shutdown"
)

var errDeliveriesClosed = errors.New("delivery channel closed by the broker or the connection")

// session is one AMQP connection's worth of consuming. Two contexts: ctx ends on shutdown or
// when any part of the session fails, and stops new work; hard ends ShutdownGrace after
// shutdown, or at once on a failure, and aborts the batch in flight.
type session struct {
	*Replicator
	ctx, hard  context.Context
	deliveries <-chan amqp.Delivery
	batches    chan []*message
	acker      *acker
	dead       *broker.Publisher
	held       heldMessages
}

func (r *Replicator) session(parent context.Context) error {
	conn, err := broker.Dial(parent, broker.DialConfig{URL: r.cfg.AMQPURL, Name: connectionName(r.cfg.ReplicaName), Liveness: r.cfg.Liveness})
	if err != nil {
		return err
	}
	defer conn.Close(time.Second) // unacknowledged messages return to the queue
	ch, deliveries, err := r.subscribe(conn)
	if err != nil {
		return err
	}
	dead, err := conn.Publisher(nil)
	if err != nil {
		return err
	}
	defer dead.Close()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	hard, stop := shutdown.WorkContext(parent, ctx, r.cfg.ShutdownGrace)
	defer stop()
	s := &session{Replicator: r, ctx: ctx, hard: hard, deliveries: deliveries,
		batches: make(chan []*message), acker: newAcker(ch), dead: dead}
	r.log.Info().Str("queue", r.cfg.Queue()).Msg("consuming")
	r.status.consuming(r.cfg.Queue())
	// Every goroutine of the session; the first to fail ends ctx, which stops the others
	// (and, unless this is a shutdown, hard, which aborts the batch in flight).
	g := pool.New().WithErrors().WithFirstError()
	spawn := func(f func() error) {
		g.Go(func() error {
			err := f()
			if err != nil {
				cancel()
			}
			return err
		})
	}
	spawn(s.collect)
	for i := 0; i < r.cfg.Workers; i++ {
		spawn(s.work)
	}
	spawn(func() error {
		select {
		case <-conn.Done():
			return fmt.Errorf("AMQP connection closed: %w", conn.Err())
		case <-ctx.Done():
			return nil
		}
	})
	return g.Wait()
}

// subscribe declares the topology and starts consuming with manual acks.
func (r *Replicator) subscribe(conn *broker.Conn) (*amqp.Channel, <-chan amqp.Delivery, error) {
	warning, err := r.cfg.Topology().Declare(conn)
	if err != nil {
		return nil, nil, err
	}
	if warning != "" && !r.warnedDeadQueue {
		r.warnedDeadQueue = true
		r.log.Warn().Str("queue", r.cfg.DeadQueue()).Msg(warning)
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, err
	}
	r.queueDeclared()
	if err := ch.Qos(r.cfg.Prefetch, 0, false); err != nil {
		return nil, nil, fmt.Errorf("set prefetch: %w", err)
	}
	deliveries, err := ch.Consume(r.cfg.Queue(), "", false, false, false, false, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("consume %q: %w", r.cfg.Queue(), err)
	}
	return ch, deliveries, nil
}
