// Package backoff computes jittered exponential delays and sleeps them cancellably.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff with full jitter between Min and Max.
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
