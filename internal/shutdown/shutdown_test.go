package shutdown

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func requireEnds(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("work context did not end")
	}
}

func TestWorkContext(t *testing.T) {
	t.Run("outlives the shutdown by the grace", func(t *testing.T) {
		const grace = 20 * time.Millisecond
		parent, stop := context.WithCancel(context.Background())
		unit, endUnit := context.WithCancel(parent)
		defer endUnit()
		work, cancel := WorkContext(parent, unit, grace)
		defer cancel()
		// Measured, not asserted right after stop: a test goroutine descheduled for the 20 ms
		// would find the grace over.
		stopped := time.Now()
		stop()
		requireEnds(t, work)
		require.GreaterOrEqual(t, time.Since(stopped), grace, "the work ended before the grace passed")
	})
	t.Run("a failed unit stops its work at once", func(t *testing.T) {
		parent := context.Background()
		unit, endUnit := context.WithCancel(parent)
		work, cancel := WorkContext(parent, unit, time.Hour)
		defer cancel()
		endUnit()
		requireEnds(t, work)
	})
	t.Run("ends with cancel when the work is done within the grace", func(t *testing.T) {
		parent, stop := context.WithCancel(context.Background())
		work, cancel := WorkContext(parent, parent, time.Hour)
		stop()
		require.NoError(t, work.Err(), "shutdown alone does not end the work")
		cancel()
		requireEnds(t, work)
	})
}
