// Package retry is how pgfanout waits before trying again: jittered exponential delays, a
// cancellable sleep, a doubling pause for polling, and an outage tracker that logs a failing
// dependency when it fails, now and then while it stays down, and once when it is back.
package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff with jitter between Min and Max.
type Policy struct {
	Min time.Duration
	Max time.Duration
}

// Reconnect suits reconnects: 100 ms growing to 10 s.
func Reconnect() Policy { return Policy{Min: 100 * time.Millisecond, Max: 10 * time.Second} }

// Delay returns the sleep before retry number attempt (1-based): a random duration in
// [d/2, d] where d = Min·2^(attempt-1) capped at Max, so that many clients spread out.
func (p Policy) Delay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := p.Min
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	if d > p.Max {
		d = p.Max
	}
	half := d / 2
	return half + rand.N(half+1)
}

// Sleep waits for d or until ctx is done, whichever comes first, and returns ctx.Err() if the
// context ended the wait.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Doubling is a pause that doubles from Min up to Max each time Next is called, and starts
// over after Reset. Pollers use it when something they wait for is busy: a short first pause
// reacts fast, the growing ones cost little when the wait is long.
type Doubling struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next returns the next pause: min(max(2·previous, Min), Max).
func (d *Doubling) Next() time.Duration {
	d.cur = min(max(2*d.cur, d.Min), d.Max)
	return d.cur
}

// Reset makes the next pause Min again.
func (d *Doubling) Reset() { d.cur = 0 }

// Until calls attempt until it succeeds, fails with an error wrapped by Stop, or ctx ends.
// Each failure goes to t, which logs the outage and picks the delay before the next attempt;
// a success ends the outage. When ctx ends, Until returns ctx's error.
func Until[T any](ctx context.Context, t *Tracker, attempt func(context.Context) (T, error)) (T, error) {
	var zero T
	for {
		v, err := attempt(ctx)
		if err == nil {
			t.OK()
			return v, nil
		}
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		var stop stopError
		if errors.As(err, &stop) {
			return zero, stop.err
		}
		if err := Sleep(ctx, t.Fail(err)); err != nil {
			return zero, err
		}
	}
}

// Stop marks an error that retrying cannot mend: Until returns it (unwrapped) at once.
func Stop(err error) error { return stopError{err} }

type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }
func (e stopError) Unwrap() error { return e.err }
