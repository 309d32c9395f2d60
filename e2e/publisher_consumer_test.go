package e2e

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// pubConsumer collects what a queue delivers, by version; a duplicate must equal the first
// copy.
type pubConsumer struct {
	t          *testing.T
	deliveries <-chan amqp.Delivery
	changes    map[int64]change.Change
	messages   []amqp.Delivery
	dups       int
}

func pubConsume(t *testing.T, ch *amqp.Channel, queue string) *pubConsumer {
	t.Helper()
	deliveries, err := ch.Consume(queue, "", true, false, false, false, nil)
	require.NoError(t, err)
	return &pubConsumer{t: t, deliveries: deliveries, changes: map[int64]change.Change{}}
}

// until consumes until every version 1..last arrived, failing after timeout.
func (c *pubConsumer) until(last int64, timeout time.Duration) {
	c.t.Helper()
	deadline := time.After(timeout)
	for int64(len(c.changes)) < last {
		select {
		case d, ok := <-c.deliveries:
			require.True(c.t, ok, "consumer channel closed")
			c.add(d, last)
		case <-deadline:
			c.t.Fatalf("received %d of %d changes within %s", len(c.changes), last, timeout)
		}
	}
}

func (c *pubConsumer) add(d amqp.Delivery, last int64) {
	c.t.Helper()
	c.messages = append(c.messages, d)
	changes, err := change.Decode(d.Body)
	require.NoError(c.t, err)
	for _, ch := range changes {
		require.Positive(c.t, ch.Version)
		if prev, dup := c.changes[ch.Version]; dup {
			c.dups++
			require.Equal(c.t, string(change.AppendChange(nil, &prev)), string(change.AppendChange(nil, &ch)),
				"a duplicate must carry the same change")
		}
		c.changes[ch.Version] = ch
	}
}

// pubWriter inserts rows into t from its own connection until stopped.
type pubWriter struct {
	rows atomic.Int64
	stop context.CancelFunc
	done chan error
}

// startWriter inserts 20 rows every 10 ms, with ids from first on.
func startWriter(t *testing.T, url string, first int) *pubWriter {
	t.Helper()
	conn := testenv.Connect(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	w := &pubWriter{stop: cancel, done: make(chan error, 1)}
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for id := first; ; id += 20 {
			select {
			case <-ctx.Done():
				w.done <- nil
				return
			case <-tick.C:
			}
			// Not ctx: a cancelled statement would roll back and leave a gap in the versions.
			if _, err := conn.Exec(context.Background(), `INSERT INTO t SELECT g, 'w' FROM generate_series($1::int, $1 + 19) g`, id); err != nil {
				w.done <- err
				return
			}
			w.rows.Add(20)
		}
	}()
	t.Cleanup(cancel)
	return w
}

// finish stops the writer and returns how many rows it wrote.
func (w *pubWriter) finish(t *testing.T) int64 {
	t.Helper()
	w.stop()
	if err := <-w.done; err != nil {
		t.Fatalf("writer: %v", err)
	}
	return w.rows.Load()
}
