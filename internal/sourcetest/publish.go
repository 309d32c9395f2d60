package sourcetest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// Message builds the AMQP message the publisher sends for changes of one table (docs/DESIGN.md,
// "Message format"), and its routing key.
func Message(changes []change.Change) (string, amqp.Publishing) {
	first, last := changes[0], changes[len(changes)-1]
	return change.RoutingKey(first.Schema, first.Table), amqp.Publishing{
		ContentType:  change.ContentType,
		DeliveryMode: amqp.Persistent,
		MessageId:    fmt.Sprintf("%d-%d-%s", first.Version, last.Version, testenv.UniqueName("m")),
		Timestamp:    time.Now(),
		Headers: amqp.Table{
			change.HeaderSchema:       first.Schema,
			change.HeaderTable:        first.Table,
			change.HeaderFirstVersion: strconv.FormatInt(first.Version, 10),
			change.HeaderLastVersion:  strconv.FormatInt(last.Version, 10),
			change.HeaderCount:        int32(len(changes)),
		},
		Body: change.AppendBody(nil, changes),
	}
}

// Publisher publishes with confirms, as the publisher does.
type Publisher struct {
	ch       *amqp.Channel
	exchange string
}

// NewPublisher opens a confirm-mode channel on url; exchange must exist.
func NewPublisher(t testing.TB, url, exchange string) *Publisher {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("dial RabbitMQ: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("open channel: %v", err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatalf("confirm mode: %v", err)
	}
	return &Publisher{ch: ch, exchange: exchange}
}

// Entries publishes each entry as one message and waits for all confirms.
func (p *Publisher) Entries(t testing.TB, entries [][]change.Change) {
	t.Helper()
	for i := 0; i < len(entries); i += 500 {
		var pending []*amqp.DeferredConfirmation
		for _, e := range entries[i:min(i+500, len(entries))] {
			key, msg := Message(e)
			pending = append(pending, p.Raw(t, key, msg))
		}
		p.wait(t, pending)
	}
}

// Raw publishes one message as is (tests use it for malformed ones) and returns its confirm.
func (p *Publisher) Raw(t testing.TB, key string, msg amqp.Publishing) *amqp.DeferredConfirmation {
	t.Helper()
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(context.Background(), p.exchange, key, false, false, msg)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return dc
}

func (p *Publisher) wait(t testing.TB, pending []*amqp.DeferredConfirmation) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, dc := range pending {
		if ok, err := dc.WaitContext(ctx); err != nil || !ok {
			t.Fatalf("publish not confirmed: %v", err)
		}
	}
}
