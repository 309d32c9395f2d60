package replicate

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Declare creates (idempotently) the exchange, the replica's quorum queue with one binding per
// table pattern, and the dead-letter exchange and queue. Declaring is safe while other
// replicators and the publisher run; arguments must match earlier declarations.
func Declare(ch *amqp.Channel, cfg *Config) error {
	if err := ch.ExchangeDeclare(cfg.Exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %q: %w", cfg.Exchange, err)
	}
	if err := ch.ExchangeDeclare(cfg.DeadExchange(), amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %q: %w", cfg.DeadExchange(), err)
	}
	quorum := amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}
	if _, err := ch.QueueDeclare(cfg.DeadQueue(), true, false, false, false, quorum); err != nil {
		return fmt.Errorf("declare queue %q: %w", cfg.DeadQueue(), err)
	}
	if err := ch.QueueBind(cfg.DeadQueue(), cfg.Queue(), cfg.DeadExchange(), false, nil); err != nil {
		return fmt.Errorf("bind queue %q: %w", cfg.DeadQueue(), err)
	}
	// Messages the broker itself dead-letters (rejected, expired by a policy) land there too.
	args := amqp.Table{
		amqp.QueueTypeArg:           amqp.QueueTypeQuorum,
		"x-dead-letter-exchange":    cfg.DeadExchange(),
		"x-dead-letter-routing-key": cfg.Queue(),
	}
	if _, err := ch.QueueDeclare(cfg.Queue(), true, false, false, false, args); err != nil {
		return fmt.Errorf("declare queue %q: %w", cfg.Queue(), err)
	}
	for _, p := range cfg.Tables {
		if err := ch.QueueBind(cfg.Queue(), p.BindingKey(), cfg.Exchange, false, nil); err != nil {
			return fmt.Errorf("bind %q to %s: %w", cfg.Queue(), p, err)
		}
	}
	return nil
}
