package outage

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/backoff"
)

func TestLogsOnceThenPeriodicallyThenRecovery(t *testing.T) {
	var buf bytes.Buffer
	tr := Tracker{Log: zerolog.New(&buf), Target: "rabbitmq", Every: time.Hour,
		Policy: backoff.Policy{Min: time.Millisecond, Max: 4 * time.Millisecond}}
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
