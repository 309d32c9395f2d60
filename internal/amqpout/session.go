// Package amqpout publishes messages to RabbitMQ on a channel in confirm mode.
package amqpout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/sourcegraph/conc"

	"github.com/pgfanout/pgfanout/internal/change"
)

// Config says where and how to publish.
type Config struct {
	URL      string
	Exchange string // declared as a durable topic exchange
	Name     string // connection name shown by RabbitMQ
	// Returned is called, on the connection's reader goroutine, for every message the broker
	// returned as unroutable; it must not block.
	Returned func(amqp.Return)
}

// Message is one publishing.
type Message struct {
	RoutingKey string
	ID         string
	Headers    amqp.Table
	Body       []byte
}

// Session is one connection and one confirm-mode channel. Once it fails it stays failed:
// the caller closes it and opens a new one.
type Session struct {
	cfg  Config
	conn *amqp.Connection
	ch   *amqp.Channel
	wg   conc.WaitGroup

	done   chan struct{} // closed when the channel or connection closed
	mu     sync.Mutex
	reason error
}

// Open connects, puts a channel in confirm mode and declares the exchange. ctx cancels the
// connect and the handshake.
func Open(ctx context.Context, cfg Config) (*Session, error) {
	conn, err := Dial(ctx, cfg.URL, cfg.Name)
	if err != nil {
		return nil, err
	}
	s := &Session{cfg: cfg, conn: conn, done: make(chan struct{})}
	if err := s.setup(); err != nil {
		_ = conn.CloseDeadline(time.Now().Add(time.Second))
		s.wg.Wait()
		return nil, err
	}
	return s, nil
}

func (s *Session) setup() error {
	connClosed := s.conn.NotifyClose(make(chan *amqp.Error, 1))
	ch, err := s.conn.Channel()
	if err != nil {
		return fmt.Errorf("open RabbitMQ channel: %w", err)
	}
	s.ch = ch
	chClosed := ch.NotifyClose(make(chan *amqp.Error, 1))
	// Unread returns would stall the connection's reader, so they are drained right away;
	// the channel is closed by amqp091 when the AMQP channel closes.
	returns := ch.NotifyReturn(make(chan amqp.Return, 64))
	s.wg.Go(func() {
		for r := range returns {
			if s.cfg.Returned != nil {
				s.cfg.Returned(r)
			}
		}
	})
	s.wg.Go(func() { s.watch(connClosed, chClosed) })
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("put RabbitMQ channel in confirm mode: %w", err)
	}
	if err := ch.ExchangeDeclare(s.cfg.Exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %q: %w", s.cfg.Exchange, err)
	}
	return nil
}

// watch records why the session ended and closes done.
func (s *Session) watch(connClosed, chClosed chan *amqp.Error) {
	var reason *amqp.Error
	select {
	case reason = <-connClosed:
	case reason = <-chClosed:
	}
	s.mu.Lock()
	if reason != nil {
		s.reason = reason
	} else {
		s.reason = amqp.ErrClosed
	}
	s.mu.Unlock()
	close(s.done)
}

// Done is closed when the session failed or was closed.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err says why the session ended, or nil while it is open.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// Publish sends m as a persistent, mandatory message and returns its pending confirmation.
// The body may be reused once Publish returns.
func (s *Session) Publish(ctx context.Context, m Message) (*amqp.DeferredConfirmation, error) {
	dc, err := s.ch.PublishWithDeferredConfirmWithContext(ctx, s.cfg.Exchange, m.RoutingKey, true, false, amqp.Publishing{
		ContentType:  change.ContentType,
		DeliveryMode: amqp.Persistent,
		MessageId:    m.ID,
		Timestamp:    time.Now(),
		Headers:      m.Headers,
		Body:         m.Body,
	})
	if err != nil {
		return nil, fmt.Errorf("publish message %s: %w", m.ID, err)
	}
	return dc, nil
}

// Close closes the connection, waiting at most timeout for the broker, and stops the
// session's goroutines. Pending confirmations then resolve as not acknowledged.
func (s *Session) Close(timeout time.Duration) {
	_ = s.conn.CloseDeadline(time.Now().Add(timeout))
	s.wg.Wait()
}

// Abort unblocks a Publish stuck writing to a broker that stopped reading (for example one
// under a memory alarm) by closing the connection from another goroutine.
func (s *Session) Abort() {
	_ = s.conn.CloseDeadline(time.Now())
}

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
		if strings.Contains(amqpErr.Reason, "max size") {
			// The change stays in the log and blocks those after it until the limit is raised.
			return "a change is larger than RabbitMQ's max_message_size: raise it in rabbitmq.conf"
		}
		if strings.Contains(amqpErr.Reason, "exchange") {
			return "the exchange exists with another type or arguments: --exchange must name a durable topic exchange"
		}
	}
	return ""
}
