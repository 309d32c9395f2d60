package broker

import (
	"fmt"

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

// Declare creates the topology on ch.
func (t Topology) Declare(ch *amqp.Channel) error {
	if err := DeclareExchange(ch, t.Exchange); err != nil {
		return err
	}
	if t.Queue == "" {
		return nil
	}
	if err := ch.ExchangeDeclare(t.DeadExchange(), amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %q: %w", t.DeadExchange(), err)
	}
	quorum := amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}
	if _, err := ch.QueueDeclare(t.DeadQueue(), true, false, false, false, quorum); err != nil {
		return fmt.Errorf("declare queue %q: %w", t.DeadQueue(), err)
	}
	if err := ch.QueueBind(t.DeadQueue(), t.Queue, t.DeadExchange(), false, nil); err != nil {
		return fmt.Errorf("bind queue %q: %w", t.DeadQueue(), err)
	}
	if _, err := ch.QueueDeclare(t.Queue, true, false, false, false, t.QueueArgs()); err != nil {
		return fmt.Errorf("declare queue %q: %w", t.Queue, err)
	}
	for _, key := range t.Bindings {
		if err := ch.QueueBind(t.Queue, key, t.Exchange, false, nil); err != nil {
			return fmt.Errorf("bind %q to %q: %w", t.Queue, key, err)
		}
	}
	return nil
}

// DeclareExchange declares the stream's durable topic exchange.
func DeclareExchange(ch *amqp.Channel, exchange string) error {
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %q: %w", exchange, err)
	}
	return nil
}
