// Package horizon ages the source's low-water mark for a replicator and prunes the replica's
// bookkeeping with it (docs/bookkeeping.md): a mark seen in a message at least Horizon ago
// becomes the replica's cutoff, below which entries are pruned and changes are stale.
package horizon

import (
	"sync"
	"time"
)

// Tracker records the highest low-water mark this process has seen in messages, and samples
// of it over time, so that the mark as it stood Horizon ago can be told.
type Tracker struct {
	mu      sync.Mutex
	seen    int64
	samples []sample // oldest first, at most one per Sample call
}

type sample struct {
	at   time.Time
	mark int64
}

// Observe records a mark read from a message (0: the message carried none).
func (t *Tracker) Observe(mark int64) {
	t.mu.Lock()
	t.seen = max(t.seen, mark)
	t.mu.Unlock()
}

// Seen is the highest mark observed.
func (t *Tracker) Seen() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seen
}

// Sample notes the highest mark as of now, and returns the newest sample taken at least
// horizon before now (0 when there is none yet): every change below it had been published
// and confirmed at least horizon ago. Samples older than that one are dropped.
func (t *Tracker) Sample(now time.Time, horizon time.Duration) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.samples); n == 0 || t.samples[n-1].mark < t.seen {
		t.samples = append(t.samples, sample{at: now, mark: t.seen})
	}
	aged := -1
	for i, s := range t.samples {
		if now.Sub(s.at) < horizon {
			break
		}
		aged = i
	}
	if aged < 0 {
		return 0
	}
	mark := t.samples[aged].mark
	t.samples = t.samples[aged:]
	return mark
}
