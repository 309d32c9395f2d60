package outage

import (
	"context"
	"errors"

	"github.com/pgfanout/pgfanout/internal/backoff"
)

// Retry calls attempt until it succeeds, fails with an error wrapped by Stop, or ctx ends.
// Each failure goes to t, which logs the outage and picks the delay before the next attempt;
// a success ends the outage. When ctx ends, Retry returns ctx's error.
func Retry[T any](ctx context.Context, t *Tracker, attempt func(context.Context) (T, error)) (T, error) {
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
		if err := backoff.Sleep(ctx, t.Fail(err)); err != nil {
			return zero, err
		}
	}
}

// Stop marks an error that retrying cannot mend: Retry returns it (unwrapped) at once.
func Stop(err error) error { return stopError{err} }

type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }
func (e stopError) Unwrap() error { return e.err }
