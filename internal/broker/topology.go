package broker

import (
	"errors"
	"fmt"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
)

// DeliveryLimit is the x-delivery-limit of every replica queue: how often RabbitMQ delivers a
// message before it dead-letters the message itself. The replicator dead-letters a message
// it cannot apply after its own --max-attempts, without redeliveries; the broker's limit is
// the last resort against a message that takes down every consumer that receives it (a
// crash loop). It is set explicitly because RabbitMQ 4 changed the default (none → 20), and
// high, so that replicators killed many times while holding a message never lose it to the
// dead-letter queue.
const DeliveryLimit = 100

// DeadDeliveryLimit is the x-delivery-limit of every dead-letter queue. Nothing dead-letters
// out of it, so a message delivered more often would be dropped: RabbitMQ 4 gives quorum
// queues a limit of 20 by default, which 20 inspections with requeue (the management UI's
// "Get messages", a crashed `replay-dead`) would reach. -1, RabbitMQ 4's "no limit", is not
// a documented value for RabbitMQ 3 (which accepts it and compares delivery counts against
// it), hence a limit no one reaches.
const DeadDeliveryLimit = 1_000_000

// Channels opens channels: a *Conn, or an *amqp.Connection in tests.
type Channels interface {
	Channel() (*amqp.Channel, error)
}

// Topology is what a replica needs on the broker: the stream's exchange, the replica's
// durable quorum queue bound to it once per binding key, and the dead-letter exchange and
// queue for messages it cannot apply. Declaring is idempotent and safe while the publisher
// and other replicators run; arguments must match earlier declarations.
type Topology struct {
	Exchange string   // durable topic exchange the publisher writes to
	Queue    string   // the replica's queue; empty declares the exchange only
	Bindings []string // binding keys of Queue (change.RoutingKey patterns)
}

// DeadExchange routes dead letters to each replica's dead queue by queue name; it is shared
// by every replica of an exchange.
func (t Topology) DeadExchange() string { return t.Exchange + ".dead" }

// DeadQueue holds the messages the replica could not apply.
func (t Topology) DeadQueue() string { return t.Queue + ".dead" }

// QueueArgs are the replica queue's arguments. Quorum queues replicate messages across a
// cluster's nodes and count deliveries; at-least-once dead-lettering (which needs the
// reject-publish overflow) keeps a message the broker dead-letters until the dead queue
// confirmed it.
func (t Topology) QueueArgs() amqp.Table {
	return amqp.Table{
		amqp.QueueTypeArg:           amqp.QueueTypeQuorum,
		"x-delivery-limit":          int64(DeliveryLimit),
		"x-dead-letter-exchange":    t.DeadExchange(),
		"x-dead-letter-routing-key": t.Queue,
		"x-dead-letter-strategy":    "at-least-once",
		"x-overflow":                "reject-publish",
	}
}

// DeadQueueArgs are the dead-letter queue's arguments: a quorum queue, with its delivery
// limit set explicitly (DeadDeliveryLimit).
func (t Topology) DeadQueueArgs() amqp.Table {
	return amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum, "x-delivery-limit": int64(DeadDeliveryLimit)}
}

// Declare creates the topology on a channel of its own, and closes it. warning is not empty
// when a dead-letter queue declared by an earlier pgfanout (with no explicit delivery limit)
// was kept as it is: arguments of an existing queue cannot change, and the warning says how
// to recreate it.
func (t Topology) Declare(c Channels) (warning string, err error) {
	ch, err := c.Channel()
	if err != nil {
		return "", err
	}
	defer func() { _ = ch.Close() }() // the channel in use when Declare returns
	if err := DeclareExchange(ch, t.Exchange); err != nil {
		return "", err
	}
	if t.Queue == "" {
		return "", nil
	}
	if err := ch.ExchangeDeclare(t.DeadExchange(), amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return "", fmt.Errorf("declare exchange %q: %w", t.DeadExchange(), err)
	}
	if ch, warning, err = t.declareDeadQueue(c, ch); err != nil {
		return "", err
	}
	if err := ch.QueueBind(t.DeadQueue(), t.Queue, t.DeadExchange(), false, nil); err != nil {
		return "", fmt.Errorf("bind queue %q: %w", t.DeadQueue(), err)
	}
	if _, err := ch.QueueDeclare(t.Queue, true, false, false, false, t.QueueArgs()); err != nil {
		return "", fmt.Errorf("declare queue %q: %w", t.Queue, err)
	}
	for _, key := range t.Bindings {
		if err := ch.QueueBind(t.Queue, key, t.Exchange, false, nil); err != nil {
			return "", fmt.Errorf("bind %q to %q: %w", t.Queue, key, err)
		}
	}
	return warning, nil
}

// declareDeadQueue declares the dead-letter queue with DeadQueueArgs, or keeps one an earlier
// pgfanout declared with no delivery limit: RabbitMQ then refuses the declaration (406) and
// closes ch, so it continues on a new channel, which it returns (on error too: the caller
// closes the channel returned).
func (t Topology) declareDeadQueue(c Channels, ch *amqp.Channel) (*amqp.Channel, string, error) {
	_, err := ch.QueueDeclare(t.DeadQueue(), true, false, false, false, t.DeadQueueArgs())
	if err == nil {
		return ch, "", nil
	}
	if !declaredWithoutLimit(err) {
		return ch, "", fmt.Errorf("declare queue %q: %w", t.DeadQueue(), err)
	}
	fresh, err := c.Channel()
	if err != nil {
		return ch, "", err
	}
	legacy := amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}
	if _, err := fresh.QueueDeclare(t.DeadQueue(), true, false, false, false, legacy); err != nil {
		return fresh, "", fmt.Errorf("declare queue %q: %w", t.DeadQueue(), err)
	}
	return fresh, fmt.Sprintf("dead-letter queue %q has no explicit delivery limit (declared by an earlier pgfanout): "+
		"on RabbitMQ 4 a dead letter delivered 20 times is dropped; to recreate it, move its messages out "+
		"(replicator replay-dead), delete it, and run replicator declare", t.DeadQueue()), nil
}

// DeclareExchange declares the stream's durable topic exchange.
func DeclareExchange(ch *amqp.Channel, exchange string) error {
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %q: %w", exchange, err)
	}
	return nil
}

// declaredWithoutLimit reports RabbitMQ's refusal to redeclare a queue that exists with no
// x-delivery-limit: PRECONDITION_FAILED, "inequivalent arg 'x-delivery-limit' … current is none".
func declaredWithoutLimit(err error) bool {
	var amqpErr *amqp.Error
	return errors.As(err, &amqpErr) && amqpErr.Code == amqp.PreconditionFailed &&
		strings.Contains(amqpErr.Reason, "x-delivery-limit") && strings.Contains(amqpErr.Reason, "current is none")
}
