package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/sourcegraph/conc"
)

// Publisher is a channel in confirm mode. Every publish is persistent-by-message and
// mandatory: a message no queue is bound for comes back as a return instead of vanishing.
// Once the channel fails it stays failed.
type Publisher struct {
	ch *amqp.Channel
	wg conc.WaitGroup

	done   chan struct{} // closed when the channel closed
	mu     sync.Mutex
	reason error

	waitMu   sync.Mutex // PublishAndWait: one at a time, so a return is matched to its publish
	waiting  atomic.Bool
	returned chan amqp.Return
	barrier  chan chan struct{} // PublishAndWait: "dispatch every return received so far"
}

// Publisher opens a confirm-mode channel. returned, when set, is called (on the
// connection's reader goroutine; it must not block) for each message returned as unroutable
// by Publish; PublishAndWait reports its own returns as errors instead.
func (c *Conn) Publisher(returned func(amqp.Return)) (*Publisher, error) {
	ch, err := c.Channel()
	if err != nil {
		return nil, err
	}
	p := &Publisher{ch: ch, done: make(chan struct{}), returned: make(chan amqp.Return, 1), barrier: make(chan chan struct{})}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	// Unread returns would stall the connection's reader, so they are drained right away; the
	// channel is closed by amqp091 when the AMQP channel closes.
	returns := ch.NotifyReturn(make(chan amqp.Return, 64))
	p.wg.Go(func() { p.forward(returns, returned) })
	p.wg.Go(func() { p.watch(closed) })
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		p.wg.Wait()
		return nil, fmt.Errorf("put RabbitMQ channel in confirm mode: %w", err)
	}
	return p, nil
}

// forward dispatches returns until the channel closes. A barrier request is answered only
// after every return amqp091 had handed over was dispatched: amqp091 hands a message's return
// over before it processes the message's ack, so after an ack and a barrier, the return of
// that message, if any, has been dispatched.
func (p *Publisher) forward(returns <-chan amqp.Return, returned func(amqp.Return)) {
	for {
		select {
		case r, ok := <-returns:
			if !ok {
				return
			}
			p.dispatch(r, returned)
		case done := <-p.barrier:
			for flushed := false; !flushed; {
				select {
				case r, ok := <-returns:
					if !ok {
						close(done)
						return
					}
					p.dispatch(r, returned)
				default:
					flushed = true
				}
			}
			close(done)
		}
	}
}

// dispatch routes a return to the PublishAndWait in flight, if any, or to returned.
func (p *Publisher) dispatch(r amqp.Return, returned func(amqp.Return)) {
	if p.waiting.Load() {
		select {
		case p.returned <- r:
		default: // a second return for one publish cannot happen; never block the reader
		}
		return
	}
	if returned != nil {
		returned(r)
	}
}

func (p *Publisher) watch(closed chan *amqp.Error) {
	reason := <-closed
	p.mu.Lock()
	p.reason = amqp.ErrClosed
	if reason != nil {
		p.reason = reason
	}
	p.mu.Unlock()
	close(p.done)
}

// Done is closed when the channel failed or was closed.
func (p *Publisher) Done() <-chan struct{} { return p.done }

// Err says why the channel ended, or nil while it is open.
func (p *Publisher) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reason
}

// Publish sends msg and returns its pending confirmation; msg.Body may be reused once
// Publish returns. A blocked broker makes Publish wait (see Conn.Blocked).
func (p *Publisher) Publish(ctx context.Context, exchange, key string, msg amqp.Publishing) (*amqp.DeferredConfirmation, error) {
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, msg)
	if err != nil {
		return nil, fmt.Errorf("publish message %s: %w", msg.MessageId, err)
	}
	return dc, nil
}

// ErrReturned is PublishAndWait's error for a message no queue was bound for.
var ErrReturned = errors.New("returned as unroutable: no queue is bound for its routing key")

// PublishAndWait publishes msg and waits for its confirm (at most timeout): nil only when the
// broker took responsibility for it and routed it to a queue.
func (p *Publisher) PublishAndWait(ctx context.Context, exchange, key string, msg amqp.Publishing, timeout time.Duration) error {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	p.waiting.Store(true)
	defer p.waiting.Store(false)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The slot takes this publish's return; a leftover of an abandoned publish is dropped.
	select {
	case <-p.returned:
	default:
	}
	dc, err := p.Publish(ctx, exchange, key, msg)
	if err != nil {
		return err
	}
	acked, err := dc.WaitContext(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("confirm of message %s: %w", msg.MessageId, err)
	case !acked:
		return fmt.Errorf("message %s: the broker refused it (nack)", msg.MessageId)
	}
	// RabbitMQ sends basic.return before the basic.ack of the same message.
	flushed := make(chan struct{})
	select {
	case p.barrier <- flushed:
		<-flushed
	case <-p.done:
	}
	select {
	case r := <-p.returned:
		return fmt.Errorf("message %s to %q: %w (%s)", msg.MessageId, r.RoutingKey, ErrReturned, r.ReplyText)
	default:
		return nil
	}
}

// Close closes the channel and stops its goroutines.
func (p *Publisher) Close() {
	_ = p.ch.Close()
	p.wg.Wait()
}
