// Package broker is pgfanout's one way to talk to RabbitMQ: dialing with liveness (heartbeats,
// TCP keepalives) and redacted errors, publishing in confirm mode, following the broker's
// resource alarms, and declaring the topology that the publisher, the replicator, `replicator
// declare` and the tests share.
package broker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/sourcegraph/conc"

	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/redact"
)

// DialConfig says where to connect and how to notice a dead broker.
type DialConfig struct {
	// URL is one AMQP URL, or several separated by commas (SplitURLs): nodes of one RabbitMQ
	// cluster, any of which will do. An amqps:// URL takes its TLS files from its query
	// parameters (tlsConfig).
	URL      string
	Name     string // connection name shown by RabbitMQ's management UI
	Liveness liveness.Settings
	// OnBlocked, when set, is called (on the connection's own goroutine; it must not block)
	// when RabbitMQ blocks the connection for a resource alarm and when it unblocks it.
	OnBlocked func(amqp.Blocking)
}

// Conn is one AMQP connection. Once it fails it stays failed: the caller dials a new one.
type Conn struct {
	conn *amqp.Connection
	wg   conc.WaitGroup

	done    chan struct{} // closed when the connection closed
	mu      sync.Mutex
	reason  error
	blocked string // the alarm's reason while blocked, "" otherwise
}

// Dial connects to one of cfg.URL's nodes with heartbeats and TCP keepalives, honouring ctx
// also during the AMQP handshake, so a process shutting down never waits out a stuck broker.
// With several URLs it tries them in turn from a random one (dialAny), so that the
// reconnect after a node failed rarely begins with that node, and never waits long on it.
// Errors name the brokers with their passwords redacted.
func Dial(ctx context.Context, cfg DialConfig) (*Conn, error) {
	urls := SplitURLs(cfg.URL)
	switch len(urls) {
	case 0:
		return nil, errors.New("connect to RabbitMQ: no AMQP URL")
	case 1:
		return dialNode(ctx, cfg, urls[0])
	}
	first := rand.IntN(len(urls))
	return dialAny(ctx, cfg, slices.Concat(urls[first:], urls[:first]))
}

// dialNode connects to the node at url.
func dialNode(ctx context.Context, cfg DialConfig, url string) (*Conn, error) {
	live := cfg.Liveness.WithDefaults()
	unwatch := func() bool { return false }
	acfg := amqp.Config{
		Heartbeat:  live.Heartbeat,
		Properties: amqp.Table{"connection_name": cfg.Name},
		Dial: func(network, addr string) (net.Conn, error) {
			conn, err := live.Dialer().DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// Bounds the TLS and AMQP handshakes; amqp091 clears the deadline once the
			// connection is open.
			_ = conn.SetDeadline(time.Now().Add(live.Timeout))
			unwatch = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
			return conn, nil
		},
	}
	uri, err := amqp.ParseURI(url)
	if err == nil && uri.Scheme == "amqps" {
		acfg.TLSClientConfig, err = tlsConfig(uri)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to RabbitMQ at %s: %w", redact.URL(url), err)
	}
	conn, err := amqp.DialConfig(url, acfg) // calls Dial synchronously
	unwatch()
	if err != nil {
		if uri.Scheme == "amqps" && closedInHandshake(err) {
			err = tlsRefusedError{err}
		}
		return nil, fmt.Errorf("connect to RabbitMQ at %s: %w", redact.URL(url), err)
	}
	c := &Conn{conn: conn, done: make(chan struct{})}
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	blocked := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	c.wg.Go(func() { c.watch(closed, blocked, cfg.OnBlocked) })
	return c, nil
}

// watch follows alarms until the connection closes, then records why and closes done.
func (c *Conn) watch(closed chan *amqp.Error, blocked chan amqp.Blocking, onBlocked func(amqp.Blocking)) {
	for {
		select {
		case b, ok := <-blocked:
			if !ok {
				blocked = nil // amqp091 closes it with the connection; closed says why
				continue
			}
			c.mu.Lock()
			c.blocked = ""
			if b.Active {
				c.blocked = b.Reason
				if c.blocked == "" {
					c.blocked = "resource alarm"
				}
			}
			c.mu.Unlock()
			if onBlocked != nil {
				onBlocked(b)
			}
		case reason := <-closed:
			c.mu.Lock()
			c.reason = amqp.ErrClosed
			if reason != nil {
				c.reason = reason
			}
			c.mu.Unlock()
			close(c.done)
			return
		}
	}
}

// Channel opens a channel.
func (c *Conn) Channel() (*amqp.Channel, error) {
	ch, err := c.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open RabbitMQ channel: %w", err)
	}
	return ch, nil
}

// Done is closed when the connection failed or was closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err says why the connection ended, or nil while it is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// Blocked reports the resource alarm RabbitMQ is blocking this connection for, or "".
// While blocked the broker reads nothing from the connection: publishes and their confirms
// wait, which is not a failure.
func (c *Conn) Blocked() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocked
}

// Close closes the connection, waiting at most timeout for the broker, and stops the
// connection's goroutines. Pending confirmations then resolve as not acknowledged.
func (c *Conn) Close(timeout time.Duration) {
	_ = c.conn.CloseDeadline(time.Now().Add(timeout))
	c.wg.Wait()
}

// Abort unblocks a write stuck on a broker that stopped reading (one under a memory alarm,
// or gone silent) by closing the connection at once from another goroutine.
func (c *Conn) Abort() { _ = c.conn.CloseDeadline(time.Now()) }
