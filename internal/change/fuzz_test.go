package change

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeDelivery: whatever another AMQP client puts in a message (content type and
// encoding, the headers' values, the body), DecodeDelivery never panics, and what it accepts
// is exactly what the headers describe: changes of the headers' one table, as many as they
// count, between their first and last versions. The seed corpus is under testdata/fuzz.
func FuzzDecodeDelivery(f *testing.F) {
	f.Fuzz(func(t *testing.T, contentType, encoding, schema, table string, first, last, count int64, body []byte) {
		d := amqp.Delivery{ContentType: contentType, ContentEncoding: encoding, Body: body,
			Headers: Headers{Format: FormatVersion, Schema: schema, Table: table, FirstVersion: first,
				LastVersion: last, Count: count}.AMQP()}
		changes, err := DecodeDelivery(d)
		if err != nil {
			require.Nil(t, changes)
			return
		}
		require.Equal(t, ContentType, contentType)
		require.Empty(t, encoding, "an encoded body is never decoded")
		require.Len(t, changes, int(count))
		for _, c := range changes {
			require.Equal(t, schema, c.Schema)
			require.Equal(t, table, c.Table)
			require.GreaterOrEqual(t, c.Version, first)
			require.LessOrEqual(t, c.Version, last)
			require.NoError(t, c.Validate())
		}
	})
}
