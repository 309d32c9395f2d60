package retry

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

func TestLogsOnceThenPeriodicallyThenRecovery(t *testing.T) {
	var buf bytes.Buffer
	tr := Tracker{Log: zerolog.New(&buf), Target: "rabbitmq", Every: time.Hour,
		Policy: Policy{Min: time.Millisecond, Max: 4 * time.Millisecond}}
	require.False(t, tr.OK(), "no outage to end")
	for i := 0; i < 10; i++ {
		d := tr.Fail(errors.New("refused"))
		require.LessOrEqual(t, d, 4*time.Millisecond, "delays are capped")
	}
	require.True(t, tr.Failing())
	require.Equal(t, 1, strings.Count(buf.String(), "unavailable, retrying"))
	require.True(t, tr.OK())
	require.Contains(t, buf.String(), `"attempts":10`)
	require.Contains(t, buf.String(), "available again")
	require.False(t, tr.Failing())
}

func TestUntil(t *testing.T) {
	fast := Policy{Min: time.Microsecond, Max: time.Microsecond}
	refused := errors.New("refused")
	for _, tc := range []struct {
		name     string
		failures int   // attempts failing with refused before the outcome
		outcome  error // last attempt's error (nil: success)
		want     error
	}{
		{name: "first attempt succeeds"},
		{name: "succeeds after failures", failures: 3},
		{name: "stop ends at once", failures: 2, outcome: Stop(refused), want: refused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tr := Tracker{Log: zerolog.New(&buf), Target: "x", Policy: fast}
			calls := 0
			v, err := Until(context.Background(), &tr, func(context.Context) (int, error) {
				calls++
				if calls <= tc.failures {
					return 0, refused
				}
				return 42, tc.outcome
			})
			require.Equal(t, tc.failures+1, calls)
			if tc.want != nil {
				require.Equal(t, tc.want, err, "Stop's error comes back unwrapped")
				return
			}
			require.NoError(t, err)
			require.Equal(t, 42, v)
			require.False(t, tr.Failing())
			require.Equal(t, tc.failures > 0, strings.Contains(buf.String(), "available again"))
		})
	}
}

func TestUntilEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	tr := Tracker{Log: zerolog.Nop(), Policy: Policy{Min: time.Hour, Max: time.Hour}}
	_, err := Until(ctx, &tr, func(context.Context) (int, error) {
		cancel() // the hour-long sleep that follows must end with ctx
		return 0, errors.New("refused")
	})
	require.ErrorIs(t, err, context.Canceled)
}
