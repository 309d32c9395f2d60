package publish

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGraceful(t *testing.T) {
	done := func(t *testing.T, ctx context.Context) {
		t.Helper()
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("work context did not end")
		}
	}
	t.Run("outlives the shutdown by the grace", func(t *testing.T) {
		parent, stop := context.WithCancel(context.Background())
		work, cancel := graceful(parent, 20*time.Millisecond)
		defer cancel()
		stop()
		done(t, work)
	})
	t.Run("ends at once when the work is done within the grace", func(t *testing.T) {
		parent, stop := context.WithCancel(context.Background())
		work, cancel := graceful(parent, time.Hour)
		stop()
		require.NoError(t, work.Err(), "shutdown alone does not end the work")
		cancel()
		done(t, work)
	})
	t.Run("ends with cancel before any shutdown", func(t *testing.T) {
		work, cancel := graceful(context.Background(), time.Hour)
		cancel()
		done(t, work)
	})
}
