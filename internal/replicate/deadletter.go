package replicate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Headers a dead letter carries besides the original ones.
const (
	HeaderError      = "x-pgfanout-error"       // why the message could not be applied
	HeaderReplica    = "x-pgfanout-replica"     // which replica gave up on it
	HeaderAttempts   = "x-pgfanout-attempts"    // failed attempts on its own
	HeaderRoutingKey = "x-pgfanout-routing-key" // where to republish it once fixed
	HeaderExchange   = "x-pgfanout-exchange"
)

const maxReason = 2000 // bytes: header frames are small

// deadLetters publishes to the dead-letter exchange on a confirm-mode channel. Mandatory, so a
// missing dead queue is an error rather than a silent drop.
type deadLetters struct {
	mu      sync.Mutex // one publish at a time: a return is matched to the publish in flight
	ch      *amqp.Channel
	returns chan amqp.Return
	cfg     *Config
}

func newDeadLetters(conn *amqp.Connection, cfg *Config) (*deadLetters, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open dead-letter channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		return nil, fmt.Errorf("dead-letter channel confirm mode: %w", err)
	}
	// One publish is in flight at a time, so a small buffer never blocks the connection.
	returns := ch.NotifyReturn(make(chan amqp.Return, 4))
	return &deadLetters{ch: ch, returns: returns, cfg: cfg}, nil
}

// publish sends m to the dead-letter queue and waits for the broker's confirm.
func (d *deadLetters) publish(ctx context.Context, m *message, reason error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.returns) > 0 { // a leftover return of an abandoned publish
		<-d.returns
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dc, err := d.ch.PublishWithDeferredConfirmWithContext(ctx, d.cfg.DeadExchange(), d.cfg.Queue(), true, false, d.letter(m, reason))
	if err != nil {
		return err
	}
	acked, err := dc.WaitContext(ctx)
	switch {
	case err != nil:
		return err
	case !acked:
		return errors.New("broker refused the dead letter (nack)")
	}
	select {
	case r := <-d.returns:
		return fmt.Errorf("dead letter returned: %s (is queue %q bound?)", r.ReplyText, d.cfg.DeadQueue())
	default:
		return nil
	}
}

func (d *deadLetters) letter(m *message, reason error) amqp.Publishing {
	headers := amqp.Table{}
	for k, v := range m.d.Headers {
		headers[k] = v
	}
	text := reason.Error()
	if len(text) > maxReason {
		text = strings.ToValidUTF8(text[:maxReason], "") + "…"
	}
	headers[HeaderError] = text
	headers[HeaderReplica] = d.cfg.ReplicaName
	headers[HeaderAttempts] = int32(m.failures)
	headers[HeaderRoutingKey] = m.d.RoutingKey
	headers[HeaderExchange] = m.d.Exchange
	return amqp.Publishing{
		Headers: headers, ContentType: m.d.ContentType, ContentEncoding: m.d.ContentEncoding,
		DeliveryMode: amqp.Persistent, MessageId: m.d.MessageId, Timestamp: m.d.Timestamp,
		Type: m.d.Type, AppId: m.d.AppId, Body: m.d.Body,
	}
}
