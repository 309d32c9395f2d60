package replicate

import (
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pgfanout/pgfanout/internal/change"
)

// message is one delivery on its way through a session.
type message struct {
	d       amqp.Delivery
	changes []change.Change // those of tables --tables selects
	// bad is set when the message cannot be applied whatever the replica holds (it does not
	// meet the message format): such a message is dead-lettered at once.
	bad      error
	lowWater int64     // the source's low-water mark it carries (0: none)
	failures int       // failed attempts of this message applied on its own
	retryAt  time.Time // when a held message is tried again
}

// newMessage decodes a delivery and drops the changes of tables outside the patterns (a queue
// may keep bindings from an earlier --tables). It returns how many changes it dropped.
func newMessage(d amqp.Delivery, tables []Pattern) (m *message, skipped int) {
	m = &message{d: d}
	changes, err := decode(d)
	if err != nil {
		m.bad = err
		return m, 0
	}
	m.lowWater, _ = change.LowWater(d.Headers) // checked by decode
	m.changes = changes[:0]
	for _, c := range changes {
		if MatchAny(tables, c.Schema, c.Table) {
			m.changes = append(m.changes, c)
		}
	}
	return m, len(changes) - len(m.changes)
}

// decode is change.DecodeDelivery turning even a panic into an error: a malformed message
// must never take the replicator down.
func decode(d amqp.Delivery) (changes []change.Change, err error) {
	defer func() {
		if p := recover(); p != nil {
			changes, err = nil, fmt.Errorf("decode message: panic: %v", p)
		}
	}()
	changes, err = change.DecodeDelivery(d)
	if err != nil {
		return nil, fmt.Errorf("not a pgfanout message of format %d: %w", change.FormatVersion, err)
	}
	return changes, nil
}

func flatten(msgs []*message) []change.Change {
	n := 0
	for _, m := range msgs {
		n += len(m.changes)
	}
	all := make([]change.Change, 0, n)
	for _, m := range msgs {
		all = append(all, m.changes...)
	}
	return all
}

func tags(msgs []*message) []uint64 {
	out := make([]uint64, len(msgs))
	for i, m := range msgs {
		out[i] = m.d.DeliveryTag
	}
	return out
}
