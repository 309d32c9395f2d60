// Package shutdown holds the one rule both programs follow when they stop: new work stops at
// once, work in flight gets a grace period to finish (a batch's confirms, a replica commit),
// and a unit that fails stops its work in flight at once.
package shutdown

import (
	"context"
	"time"
)

// WorkContext returns the context for the work in flight of a unit (a publisher's term, a
// replicator's AMQP session) whose own context unit derives from the process's context
// parent. It ends grace after parent ends (shutdown: the work may finish), and at once when
// unit ends while parent is still live (the unit failed: its work is void). cancel releases
// it.
func WorkContext(parent, unit context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	work, cancel := context.WithCancel(context.WithoutCancel(parent))
	stopGrace := context.AfterFunc(parent, func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-work.Done(): // the work finished within the grace
		}
	})
	stopFail := context.AfterFunc(unit, func() {
		if parent.Err() == nil {
			cancel()
		}
	})
	return work, func() { stopGrace(); stopFail(); cancel() }
}
