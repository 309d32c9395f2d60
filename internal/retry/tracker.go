package retry

import (
	"time"

	"github.com/rs/zerolog"
)

// DefaultEvery is how often a lasting outage is logged again.
const DefaultEvery = 30 * time.Second

// Tracker follows one dependency's failed attempts. It is used by one goroutine.
type Tracker struct {
	Log    zerolog.Logger
	Target string        // what is unreachable, e.g. "rabbitmq"
	Every  time.Duration // between repeated log lines; DefaultEvery when 0
	Policy Policy        // retry delays; Reconnect() when zero
	// Hint, when set, adds a "hint" field to the log lines of an error it has advice for.
	Hint func(error) string

	attempts int
	since    time.Time
	logged   time.Time
}

// Fail records a failed attempt, logs it when due and returns the delay before the next one.
func (t *Tracker) Fail(err error) time.Duration {
	now := time.Now()
	if t.attempts == 0 {
		t.since = now
	}
	t.attempts++
	every := t.Every
	if every == 0 {
		every = DefaultEvery
	}
	if t.attempts == 1 || now.Sub(t.logged) >= every {
		t.logged = now
		ev := t.Log.Warn().Err(err).Str("target", t.Target).Int("attempts", t.attempts).
			Str("down_for", now.Sub(t.since).Round(time.Millisecond).String())
		if t.Hint != nil {
			if h := t.Hint(err); h != "" {
				ev = ev.Str("hint", h)
			}
		}
		ev.Msg("unavailable, retrying")
	}
	p := t.Policy
	if p == (Policy{}) {
		p = Reconnect()
	}
	return p.Delay(t.attempts)
}

// Failing reports whether the last attempt failed.
func (t *Tracker) Failing() bool { return t.attempts > 0 }

// OK records a success. It reports whether it ended an outage, and logs that it did.
func (t *Tracker) OK() bool {
	if t.attempts == 0 {
		return false
	}
	t.Log.Info().Str("target", t.Target).Int("attempts", t.attempts).
		Str("down_for", time.Since(t.since).Round(time.Millisecond).String()).Msg("available again")
	t.attempts = 0
	return true
}
