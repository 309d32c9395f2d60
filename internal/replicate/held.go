package replicate

import (
	"sync"
	"time"
)

// heldMessages are messages that failed on their own and wait for another attempt; every
// worker of a session may take the due ones.
type heldMessages struct {
	mu   sync.Mutex
	msgs []*message
}

func (h *heldMessages) add(m *message, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m.retryAt = at
	h.msgs = append(h.msgs, m)
}

// next fires when the earliest held message is due (never if none is held).
func (h *heldMessages) next() <-chan time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.msgs) == 0 {
		return nil
	}
	next := h.msgs[0].retryAt
	for _, m := range h.msgs[1:] {
		if m.retryAt.Before(next) {
			next = m.retryAt
		}
	}
	return time.After(time.Until(next))
}

// due removes and returns the messages whose time has come.
func (h *heldMessages) due() []*message {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	var due, rest []*message
	for _, m := range h.msgs {
		if m.retryAt.After(now) {
			rest = append(rest, m)
		} else {
			due = append(due, m)
		}
	}
	h.msgs = rest
	return due
}
