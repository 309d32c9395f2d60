package publish

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
)

// Messages carry the source's low-water mark once the publisher advanced it, and the mark is
// never above a change the message itself carries: that change was still in the log.
func TestMessagesCarryTheLowWaterMark(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.start(h.config())
	deadline := time.Now().Add(time.Minute)
	var stamped, highest int64
	for i := 0; stamped < 3; i++ {
		require.True(t, time.Now().Before(deadline), "no message carried a low-water mark above the last within a minute")
		_, err := h.conn.Exec(context.Background(), `INSERT INTO t VALUES ($1, 'x')`, i)
		require.NoError(t, err)
		select {
		case d := <-h.msgs:
			changes, err := change.DecodeDelivery(d)
			require.NoError(t, err)
			low, err := change.LowWater(d.Headers)
			require.NoError(t, err)
			for _, c := range changes {
				require.LessOrEqual(t, low, c.Version, "a mark above a change the message carries")
			}
			require.GreaterOrEqual(t, low, highest, "the mark went back")
			if low > highest {
				stamped++
				highest = low
			}
		case <-time.After(patience):
			t.Fatal("no message within the patience")
		}
	}
	require.GreaterOrEqual(t, counter(p.m.lowWater), float64(highest), "the gauge shows the mark")
}
