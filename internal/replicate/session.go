package replicate

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/sourcegraph/conc/pool"

	"github.com/pgfanout/pgfanout/internal/amqpout"
)

var errDeliveriesClosed = errors.New("delivery channel closed by the broker or the connection")

// session is one AMQP connection's worth of consuming. Two contexts: ctx ends on shutdown or
// connection loss and stops new work; hard ends on connection loss or ShutdownGrace after
// shutdown and aborts the batch in flight.
type session struct {
	*Replicator
	ctx, hard  context.Context
	deliveries <-chan amqp.Delivery
	batches    chan []*message
	acker      *acker
	dead       *deadLetters
	held       heldMessages
}

func (r *Replicator) session(parent context.Context) error {
	conn, err := amqpout.Dial(parent, r.cfg.AMQPURL, connectionName(r.cfg.ReplicaName))
	if err != nil {
		return err
	}
	defer conn.Close() // unacknowledged messages return to the queue
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	ch, deliveries, err := r.consume(conn)
	if err != nil {
		return err
	}
	dead, err := newDeadLetters(conn, &r.cfg)
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(parent)
	defer stop()
	hard, abort := context.WithCancel(context.WithoutCancel(parent))
	defer abort()
	s := &session{Replicator: r, ctx: ctx, hard: hard, deliveries: deliveries,
		batches: make(chan []*message), acker: newAcker(ch), dead: dead}
	r.log.Info().Str("queue", r.cfg.Queue()).Msg("consuming")
	r.ready(true)

	done := make(chan struct{})
	p := pool.New().WithErrors()
	p.Go(s.collect)
	p.Go(func() error {
		defer close(done)
		defer stop() // the collector stops when the workers do
		return s.workers(stop)
	})
	p.Go(func() error { return s.watch(parent, closed, done, stop, abort) })
	return p.Wait()
}

// workers runs cfg.Workers workers; the first to fail stops the others.
func (s *session) workers(stop func()) error {
	p := pool.New().WithErrors()
	for i := 0; i < s.cfg.Workers; i++ {
		p.Go(func() error {
			err := s.work()
			if err != nil {
				stop()
			}
			return err
		})
	}
	return p.Wait()
}

// watch ends the session when the connection closes, and bounds the batch in flight when
// shutdown begins.
func (s *session) watch(parent context.Context, closed <-chan *amqp.Error, done <-chan struct{}, stop, abort func()) error {
	select {
	case e := <-closed:
		stop()
		abort()
		if e == nil {
			return errors.New("AMQP connection closed")
		}
		return fmt.Errorf("AMQP connection closed: %w", e)
	case <-done:
		return nil
	case <-parent.Done():
	}
	t := time.NewTimer(s.cfg.ShutdownGrace)
	defer t.Stop()
	select {
	case <-t.C:
		s.log.Warn().Msg("batch in flight abandoned at shutdown; its messages return to the queue")
		abort()
	case <-done:
	}
	return nil
}

// consume declares the topology and starts consuming with manual acks.
func (r *Replicator) consume(conn *amqp.Connection) (*amqp.Channel, <-chan amqp.Delivery, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, fmt.Errorf("open channel: %w", err)
	}
	if err := Declare(ch, &r.cfg); err != nil {
		return nil, nil, err
	}
	if err := ch.Qos(r.cfg.Prefetch, 0, false); err != nil {
		return nil, nil, fmt.Errorf("set prefetch: %w", err)
	}
	deliveries, err := ch.Consume(r.cfg.Queue(), "", false, false, false, false, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("consume %q: %w", r.cfg.Queue(), err)
	}
	return ch, deliveries, nil
}

// connectionName is what the RabbitMQ management UI shows for our connections.
func connectionName(replica string) string { return "pgfanout-replicator " + replica }
