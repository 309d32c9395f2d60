package leader

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func elector(url string) *Elector {
	return &Elector{
		Connect: func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, url) },
		Key:     42,
		Every:   50 * time.Millisecond,
		Log:     zerolog.Nop(),
	}
}

func TestStandbyTakesOverWhenLeaderConnectionCloses(t *testing.T) {
	url := testenv.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	first, err := elector(url).Acquire(ctx)
	require.NoError(t, err)

	type result struct {
		conn *pgx.Conn
		err  error
	}
	got := make(chan result, 1)
	go func() {
		conn, err := elector(url).Acquire(ctx)
		got <- result{conn, err}
	}()
	select {
	case r := <-got:
		t.Fatalf("second elector acquired while the first held the lock: %v", r.err)
	case <-time.After(300 * time.Millisecond): // several standby polls
	}

	require.NoError(t, first.Close(ctx))
	r := <-got
	require.NoError(t, r.err)
	require.NoError(t, r.conn.Close(ctx))
}

func TestAcquireStopsOnCancel(t *testing.T) {
	url := testenv.NewDatabase(t)
	ctx := context.Background()
	holder, err := elector(url).Acquire(ctx)
	require.NoError(t, err)
	defer holder.Close(ctx)

	waitCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = elector(url).Acquire(waitCtx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestAcquireRetriesUnreachableServer(t *testing.T) {
	e := elector("postgres://postgres@127.0.0.1:1/postgres?connect_timeout=1")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := e.Acquire(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
