package replicate

import (
	"math"
	"sync"
)

// ackChannel is the part of *amqp.Channel the acker uses.
type ackChannel interface {
	Ack(tag uint64, multiple bool) error
}

// acker acknowledges deliveries of one channel. It acks with one multiple=true frame whenever
// no older delivery is still pending; a message held back for a later retry would otherwise be
// acknowledged by accident, so around it the acker acks one by one.
type acker struct {
	ch  ackChannel
	mu  sync.Mutex
	out map[uint64]struct{} // delivered, not yet acknowledged
}

func newAcker(ch ackChannel) *acker {
	return &acker{ch: ch, out: make(map[uint64]struct{})}
}

// delivered records a delivery before anything can ack it.
func (a *acker) delivered(tag uint64) {
	a.mu.Lock()
	a.out[tag] = struct{}{}
	a.mu.Unlock()
}

// ack acknowledges tags (any order, all previously delivered).
func (a *acker) ack(tags []uint64) error {
	if len(tags) == 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var top uint64
	for _, t := range tags {
		delete(a.out, t)
		top = max(top, t)
	}
	oldest := uint64(math.MaxUint64)
	for t := range a.out {
		oldest = min(oldest, t)
	}
	if oldest > top {
		return a.ch.Ack(top, true)
	}
	var below uint64
	for _, t := range tags {
		if t < oldest {
			below = max(below, t)
			continue
		}
		if err := a.ch.Ack(t, false); err != nil {
			return err
		}
	}
	if below > 0 {
		return a.ch.Ack(below, true)
	}
	return nil
}
