package publish

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
)

func testChange(v int64, schema, table string, rowSize int) change.Change {
	return change.Change{Version: v, Op: change.Insert, Schema: schema, Table: table,
		Key: json.RawMessage(`{"id" : 1}`), Row: json.RawMessage(`{"pad":"` + strings.Repeat("x", rowSize) + `"}`),
		TxID: 7, CommittedAt: time.Unix(1, 0)}
}

func collectMessages(t *testing.T, changes []change.Change, lim messageLimits) []change.Message {
	t.Helper()
	var out []change.Message
	require.NoError(t, eachMessage(changes, lim, func(m change.Message) error {
		m.Body = append([]byte(nil), m.Body...) // the buffer is reused
		out = append(out, m)
		return nil
	}))
	return out
}

func TestEachMessageGroupsPerTableAndChunks(t *testing.T) {
	changes := []change.Change{
		testChange(1, "s", "a", 10), testChange(2, "s", "b", 10), testChange(3, "s", "a", 10),
		testChange(4, "s", "a", 10), testChange(5, "s.x", "b", 10),
	}
	msgs := collectMessages(t, changes, messageLimits{Changes: 2, Bytes: 1 << 20})
	var got []string
	for _, m := range msgs {
		// What the replicator will read of it: the one decoder checks headers against body.
		p := m.Publishing()
		decoded, err := change.DecodeDelivery(amqp.Delivery{ContentType: p.ContentType, Headers: p.Headers, Body: p.Body})
		require.NoError(t, err)
		var versions []string
		for _, c := range decoded {
			versions = append(versions, string(rune('0'+c.Version)))
		}
		got = append(got, m.RoutingKey+":"+strings.Join(versions, ","))
		require.Equal(t, int64(len(decoded)), m.Headers.Count)
		require.Equal(t, decoded[0].Version, m.Headers.FirstVersion)
		require.Equal(t, decoded[len(decoded)-1].Version, m.Headers.LastVersion)
		require.NotEmpty(t, m.ID)
	}
	require.Equal(t, []string{"s.a:1,3", "s.a:4", "s.b:2", "s%2Ex.b:5"}, got)
	require.NotEqual(t, msgs[0].ID, msgs[1].ID)
}

func TestEachMessageCutsByBytesAndSendsLargeChangesAlone(t *testing.T) {
	changes := []change.Change{
		testChange(1, "s", "t", 100), testChange(2, "s", "t", 100), testChange(3, "s", "t", 5000),
		testChange(4, "s", "t", 100),
	}
	msgs := collectMessages(t, changes, messageLimits{Changes: 100, Bytes: 1000})
	var counts []int64
	for _, m := range msgs {
		counts = append(counts, m.Headers.Count)
		if m.Headers.Count > 1 {
			require.LessOrEqual(t, len(m.Body), 1000)
		}
	}
	require.Equal(t, []int64{2, 1, 1}, counts)
	require.Contains(t, string(msgs[1].Body), strings.Repeat("x", 5000), "the large row travels byte-exact")
}
