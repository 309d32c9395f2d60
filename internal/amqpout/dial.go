package amqpout

import (
	"context"
	"fmt"
	"net"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pgfanout/pgfanout/internal/redact"
)

// dialTimeout bounds the TCP connect and the AMQP handshake.
const dialTimeout = 10 * time.Second

// Dial connects to RabbitMQ as connection name, honouring ctx also during the AMQP
// handshake, so a process shutting down never waits out a stuck broker.
func Dial(ctx context.Context, url, name string) (*amqp.Connection, error) {
	unwatch := func() bool { return false }
	cfg := amqp.Config{
		Heartbeat:  10 * time.Second,
		Properties: amqp.Table{"connection_name": name},
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: dialTimeout}
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// Bounds the handshake; amqp091 clears the deadline once the connection is open.
			_ = conn.SetDeadline(time.Now().Add(dialTimeout))
			unwatch = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
			return conn, nil
		},
	}
	conn, err := amqp.DialConfig(url, cfg) // calls Dial synchronously
	unwatch()
	if err != nil {
		return nil, fmt.Errorf("connect to RabbitMQ at %s: %w", redact.URL(url), err)
	}
	return conn, nil
}
