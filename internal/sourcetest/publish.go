package sourcetest

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pgfanout/pgfanout/internal/broker"
	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// Message builds, with the publisher's own code (change.NewMessage), the AMQP message the
// publisher sends for changes of one table, and its routing key.
func Message(changes []change.Change) (string, amqp.Publishing) {
	first := changes[0]
	m := change.NewMessage(testenv.UniqueName("m"), first.Schema, first.Table, changes, change.AppendBody(nil, changes))
	return m.RoutingKey, m.Publishing()
}

// Publisher publishes with confirms through internal/broker, as the publisher does.
type Publisher struct {
	pub      *broker.Publisher
	exchange string
}

// NewPublisher opens a confirm-mode channel on url; exchange must exist.
func NewPublisher(t testing.TB, url, exchange string) *Publisher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := broker.Dial(ctx, broker.DialConfig{URL: url, Name: "pgfanout-test-publisher"})
	if err != nil {
		t.Fatalf("dial RabbitMQ: %v", err)
	}
	t.Cleanup(func() { conn.Close(time.Second) })
	pub, err := conn.Publisher(nil)
	if err != nil {
		t.Fatalf("open confirm channel: %v", err)
	}
	t.Cleanup(pub.Close)
	return &Publisher{pub: pub, exchange: exchange}
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
	dc, err := p.pub.Publish(context.Background(), p.exchange, key, msg)
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
