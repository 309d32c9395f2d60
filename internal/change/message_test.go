package change

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
)

func sample() []Change {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return []Change{
		{Version: 9, Op: Insert, Schema: "s", Table: "t", Key: json.RawMessage(`{"id" : 1}`), Row: json.RawMessage(`{"id":1}`), TxID: 5, CommittedAt: at},
		{Version: 3, Op: Delete, Schema: "s", Table: "t", Key: json.RawMessage(`{"id" : 2}`), TxID: 5, CommittedAt: at},
	}
}

func delivery(m Message) amqp.Delivery {
	p := m.Publishing()
	return amqp.Delivery{ContentType: p.ContentType, ContentEncoding: p.ContentEncoding, Headers: p.Headers, Body: p.Body, MessageId: p.MessageId}
}

func TestMessageRoundTrip(t *testing.T) {
	changes := sample()
	m := NewMessage("id1", "s", "t", changes, AppendBody(nil, changes))
	require.Equal(t, Headers{Format: FormatVersion, Schema: "s", Table: "t", FirstVersion: 3, LastVersion: 9, Count: 2}, m.Headers)
	p := m.Publishing()
	require.Equal(t, uint8(amqp.Persistent), p.DeliveryMode)
	require.Equal(t, "s.t", m.RoutingKey)
	// The wire types are part of the contract: int64 numbers, string names.
	require.IsType(t, int64(0), p.Headers[HeaderFirstVersion])
	require.IsType(t, int64(0), p.Headers[HeaderCount])
	require.IsType(t, int64(0), p.Headers[HeaderFormat])
	require.IsType(t, "", p.Headers[HeaderSchema])
	got, err := DecodeDelivery(delivery(m))
	require.NoError(t, err)
	require.Len(t, got, 2)
}

func TestDecodeDeliveryRejects(t *testing.T) {
	changes := sample()
	body := AppendBody(nil, changes)
	cases := map[string]func(d *amqp.Delivery){
		"content type":       func(d *amqp.Delivery) { d.ContentType = "text/plain" },
		"content encoding":   func(d *amqp.Delivery) { d.ContentEncoding = "gzip" },
		"no headers":         func(d *amqp.Delivery) { d.Headers = nil },
		"int32 count":        func(d *amqp.Delivery) { d.Headers[HeaderCount] = int32(2) },
		"string version":     func(d *amqp.Delivery) { d.Headers[HeaderFirstVersion] = "3" },
		"future format":      func(d *amqp.Delivery) { d.Headers[HeaderFormat] = FormatVersion + 1 },
		"int32 low water":    func(d *amqp.Delivery) { d.Headers[HeaderLowWater] = int32(5) },
		"negative low water": func(d *amqp.Delivery) { d.Headers[HeaderLowWater] = int64(-1) },
		"count disagrees":    func(d *amqp.Delivery) { d.Headers[HeaderCount] = int64(3) },
		"last disagrees":     func(d *amqp.Delivery) { d.Headers[HeaderLastVersion] = int64(10) },
		"other table header": func(d *amqp.Delivery) { d.Headers[HeaderTable] = "u" },
		"body not json":      func(d *amqp.Delivery) { d.Body = []byte("{") },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			d := delivery(NewMessage("id", "s", "t", changes, body))
			mutate(&d)
			_, err := DecodeDelivery(d)
			require.Error(t, err)
		})
	}
}

// TestDocsDescribeTheFormat: docs/messages.md is the one description of the format for
// third-party consumers; it must name every header and the current format version.
func TestDocsDescribeTheFormat(t *testing.T) {
	doc, err := os.ReadFile("../../docs/messages.md")
	require.NoError(t, err)
	text := string(doc)
	for _, h := range []string{HeaderFormat, HeaderSchema, HeaderTable, HeaderFirstVersion, HeaderLastVersion, HeaderCount, HeaderLowWater, ContentType} {
		require.Contains(t, text, "`"+h+"`")
	}
	require.Contains(t, text, "format version "+strconv.FormatInt(FormatVersion, 10))
	for _, op := range []Op{Insert, Update, Delete, Truncate} {
		require.True(t, strings.Contains(text, "`"+string(op)+"`"), "op %s", op)
	}
}

func TestLowWaterHeader(t *testing.T) {
	changes := sample()
	m := NewMessage("id", "s", "t", changes, AppendBody(nil, changes))
	low, err := LowWater(m.Publishing().Headers)
	require.NoError(t, err)
	require.Zero(t, low, "an unstamped message")
	m.LowWater = 8193
	p := m.Publishing()
	require.IsType(t, int64(0), p.Headers[HeaderLowWater])
	low, err = LowWater(p.Headers)
	require.NoError(t, err)
	require.Equal(t, int64(8193), low)
	_, err = DecodeDelivery(delivery(m))
	require.NoError(t, err)
}
