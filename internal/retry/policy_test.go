package retry

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDelayBounds(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: time.Second}
	cases := []struct {
		attempt  int
		min, max time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{50, 500 * time.Millisecond, time.Second},
	}
	for _, c := range cases {
		for i := 0; i < 100; i++ {
			d := p.Delay(c.attempt)
			require.GreaterOrEqual(t, d, c.min, "attempt %d", c.attempt)
			require.LessOrEqual(t, d, c.max, "attempt %d", c.attempt)
		}
	}
}

func TestSleepCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	require.ErrorIs(t, Sleep(ctx, time.Hour), context.Canceled)
	require.Less(t, time.Since(start), time.Second)
	require.NoError(t, Sleep(context.Background(), time.Millisecond))
}

func TestDoubling(t *testing.T) {
	d := Doubling{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond}
	var got []time.Duration
	for i := 0; i < 5; i++ {
		got = append(got, d.Next())
	}
	ms := time.Millisecond
	require.Equal(t, []time.Duration{20 * ms, 40 * ms, 80 * ms, 100 * ms, 100 * ms}, got)
	d.Reset()
	require.Equal(t, 20*ms, d.Next())
}
