package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
)

// payload is a row's text: a phase marker ('i' inserted, 'u' updated) and hex filler, sized so
// that the row's JSON image is about rowBytes.
func payload(id int, marker byte, rowBytes int) string {
	const hexdigits = "0123456789abcdef"
	n := max(rowBytes-40, 8)
	var b strings.Builder
	b.Grow(n)
	b.WriteByte(marker)
	x := uint64(id)*0x9E3779B97F4A7C15 + 1
	for b.Len() < n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b.WriteByte(hexdigits[x&15])
	}
	return b.String()
}

// phaseChanges are the changes of one phase on rows 1..rows of public.bench; versions continue
// after *version.
func phaseChanges(phase string, rows, rowBytes int, version *int64) []change.Change {
	op := map[string]change.Op{"insert": change.Insert, "update": change.Update, "delete": change.Delete}[phase]
	now := time.Now()
	out := make([]change.Change, rows)
	for i := range out {
		id := i + 1
		*version++
		c := change.Change{Version: *version, Op: op, Schema: "public", Table: "bench",
			Key: json.RawMessage(`{"id":` + strconv.Itoa(id) + `}`), TxID: uint64(*version), CommittedAt: now}
		if op != change.Delete {
			marker := byte('i')
			if op == change.Update {
				marker = 'u'
			}
			c.Row = json.RawMessage(fmt.Sprintf(`{"id":%d,"payload":%q}`, id, payload(id, marker, rowBytes)))
		}
		out[i] = c
	}
	return out
}

// prefill publishes changes perMessage at a time, as the publisher does, and waits for every
// confirm.
func prefill(ctx context.Context, url, exchange string, changes []change.Change, perMessage int) error {
	conn, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if err := ch.Confirm(false); err != nil {
		return err
	}
	var pending []*amqp.DeferredConfirmation
	for i := 0; i < len(changes); i += perMessage {
		key, msg := sourcetest.Message(changes[i:min(i+perMessage, len(changes))])
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, msg)
		if err != nil {
			return err
		}
		pending = append(pending, dc)
	}
	for _, dc := range pending {
		if ok, err := dc.WaitContext(ctx); err != nil || !ok {
			return fmt.Errorf("publish not confirmed: %v", err)
		}
	}
	return nil
}
