package leader

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func elector(url, id string, ttl time.Duration) *Elector {
	return &Elector{
		Connect:  func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, url) },
		Holder:   Holder{ID: id, Host: "test", PID: 1},
		TTL:      ttl,
		Every:    20 * time.Millisecond,
		Liveness: liveness.Defaults(),
		Log:      zerolog.Nop(),
	}
}

type acquired struct {
	lease *Lease
	err   error
}

func acquireAsync(ctx context.Context, e *Elector) <-chan acquired {
	got := make(chan acquired, 1)
	go func() {
		l, err := e.Acquire(ctx)
		got <- acquired{l, err}
	}()
	return got
}

func TestStandbyWaitsWhileRenewedThenTakesOverOnRelease(t *testing.T) {
	url := testenv.NewCaptureDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A lease of 3 s: each renewal may take up to 2 s, which even a loaded CI machine gives a
	// round trip (with 300 ms, a renewal slower than 170 ms rightly ended the lease).
	const ttl = 3 * time.Second
	first, err := elector(url, "a", ttl).Acquire(ctx)
	require.NoError(t, err)
	keepCtx, stopKeeping := context.WithCancel(ctx)
	kept := make(chan error, 1)
	go func() { kept <- first.Keep(keepCtx) }()

	got := acquireAsync(ctx, elector(url, "b", ttl))
	// Longer than a lease: unrenewed, it would have expired; renewed, the standby must not
	// get in.
	select {
	case r := <-got:
		t.Fatalf("standby took a renewed lease: %v", r.err)
	case <-time.After(ttl + time.Second):
	}
	stopKeeping()
	require.NoError(t, <-kept)
	first.Release()
	r := <-got
	require.NoError(t, r.err)
	require.Greater(t, r.lease.Term, first.Term)
	r.lease.Release()
}

func TestStandbyTakesOverAnExpiredLease(t *testing.T) {
	t.Parallel()
	url := testenv.NewCaptureDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The first holder vanishes without releasing (as a partitioned process would): its
	// connection stays open, it just stops renewing.
	start := time.Now() // before the server's clock_timestamp() that starts the lease
	first, err := elector(url, "a", 500*time.Millisecond).Acquire(ctx)
	require.NoError(t, err)
	defer first.Release()
	second, err := elector(url, "b", 500*time.Millisecond).Acquire(ctx)
	require.NoError(t, err)
	defer second.Release()
	// A lower bound whatever the machine's speed (the slack is for clock rounding).
	require.GreaterOrEqual(t, time.Since(start), 490*time.Millisecond, "taken before it expired")

	// The old holder finds out at its next renewal.
	err = first.renew(ctx)
	require.ErrorIs(t, err, ErrLost)
}

func TestKeepStepsDownBeforeTheLeaseExpires(t *testing.T) {
	url := testenv.NewCaptureDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := elector(url, "a", 600*time.Millisecond)
	l, err := e.Acquire(ctx)
	require.NoError(t, err)
	defer l.Release()
	// The lease's connection dies; renewals fail. Keep must give up no later than the
	// lease's end on this clock, which is before the server's.
	require.NoError(t, l.conn.Close(ctx))
	err = l.Keep(ctx)
	require.ErrorIs(t, err, ErrLost)
	require.True(t, time.Now().Before(l.Expires()), "stepped down after the lease ended on its own clock")
}

func TestAcquireStopsOnCancel(t *testing.T) {
	t.Parallel()
	url := testenv.NewCaptureDatabase(t)
	ctx := context.Background()
	holder, err := elector(url, "a", time.Hour).Acquire(ctx)
	require.NoError(t, err)
	defer holder.Release()
	waitCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = elector(url, "b", time.Hour).Acquire(waitCtx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestAcquireRetriesUnreachableServer(t *testing.T) {
	t.Parallel()
	e := elector("postgres://postgres@127.0.0.1:1/postgres?connect_timeout=1", "a", time.Second)
	var downs int
	e.Connected = func(up bool, err error) {
		if !up && err != nil {
			downs++
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := e.Acquire(ctx)
	require.True(t, errors.Is(err, context.DeadlineExceeded))
	require.Positive(t, downs, "readiness hears of the outage")
}

func TestStandbyTakesOverAtOnceWhenTheHolderCrashed(t *testing.T) {
	t.Parallel()
	url := testenv.NewCaptureDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := elector(url, "a", time.Hour).Acquire(ctx)
	require.NoError(t, err)
	// A crash: the connection closes without a release; the lease would last an hour.
	require.NoError(t, first.conn.Close(ctx))
	second, err := elector(url, "b", time.Hour).Acquire(ctx)
	require.NoError(t, err, "the standby takes over once the holder's backend has exited")
	defer second.Release()
	require.Greater(t, second.Term, first.Term)
}
