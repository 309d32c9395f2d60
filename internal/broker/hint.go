package broker

import (
	"errors"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Hint says what to check for errors a retry will not fix by itself, or "" for the others
// (connection losses, broker restarts), which reconnecting does fix.
func Hint(err error) string {
	var amqpErr *amqp.Error
	if !errors.As(err, &amqpErr) {
		return ""
	}
	switch amqpErr.Code {
	case amqp.AccessRefused:
		return "RabbitMQ refused the credentials or permissions: check the user and password in --amqp-url"
	case amqp.NotAllowed:
		return "RabbitMQ refused the virtual host: check the vhost in --amqp-url and the user's permissions on it"
	case amqp.PreconditionFailed:
		switch {
		case strings.Contains(amqpErr.Reason, "max size"):
			// The change stays in the log and blocks those after it until the limit is raised.
			return "a change is larger than RabbitMQ's max_message_size: raise it in rabbitmq.conf"
		case strings.Contains(amqpErr.Reason, "exchange"):
			return "the exchange exists with another type or arguments: --exchange must name a durable topic exchange"
		case strings.Contains(amqpErr.Reason, "queue"):
			return "the queue exists with other arguments (declared by another pgfanout version or by hand): delete it, or use another --replica-name"
		}
	}
	return ""
}
