package publish

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/changelog"
	"github.com/pgfanout/pgfanout/internal/retry"
)

// flight is a published batch waiting for its confirms.
type flight struct {
	versions []int64 // entries to delete once confirmed
	last     int64   // version of the last entry
	changes  int
	confirms []*amqp.DeferredConfirmation
	fetched  time.Time
	sent     time.Time
}

// drain publishes the change log until ctx ends or something fails. It keeps one batch in
// flight: while RabbitMQ confirms batch N, batch N+1 is fetched (after N's last version)
// and published; then N is deleted. Every rescanEvery, and whenever a fetch after the
// flight finds nothing, the next fetch restarts from the lowest version so that late
// commits below the flight are not left behind.
func (t *term) drain(ctx context.Context) error {
	var inflight *flight
	var rescanAt time.Time
	for ctx.Err() == nil {
		if err := t.trackNewTables(); err != nil {
			return err
		}
		after := int64(0)
		if inflight != nil && time.Now().Before(rescanAt) {
			after = inflight.last
		} else if err := t.land(&inflight); err != nil {
			return err
		}
		if after == 0 {
			rescanAt = time.Now().Add(rescanEvery)
		}
		fetched := time.Now()
		b, err := t.store.Fetch(t.work, after, changelog.Limits{Changes: t.p.cfg.BatchSize, Bytes: t.p.cfg.BatchBytes})
		if err != nil {
			return err
		}
		t.stepped()
		if b.Empty() {
			if err := t.quiet(ctx, &inflight); err != nil {
				return err
			}
			continue
		}
		t.lingerSince = time.Time{}
		t.idleWait.Reset()
		if err := t.busy(); err != nil {
			return err
		}
		if err := t.advanceLowWater(); err != nil {
			return err
		}
		next, err := t.publish(b, fetched)
		if err != nil {
			return err
		}
		if err := t.land(&inflight); err != nil {
			return err
		}
		inflight = next
	}
	// Shutdown: no new batch; give the one in flight its chance to be confirmed and deleted,
	// which spares the next leader publishing it again.
	if err := t.land(&inflight); err != nil {
		t.p.log.Warn().Err(err).Msg("shutdown: batch in flight not confirmed; it will be published again")
	}
	return nil
}

// quiet handles an empty fetch. With a batch in flight it lands it (the caller then fetches
// from the lowest version). Otherwise it lingers: for idleLinger it lets the caller fetch
// again after pauses doubling from lingerFirst, so that a commit during the linger is
// published within a few milliseconds; if the log stayed empty it takes the idle lock and
// lets the caller fetch once more (a change committed before the lock was held sent no
// notification); after that it waits for a notification or the poll.
func (t *term) quiet(ctx context.Context, inflight **flight) error {
	switch {
	case *inflight != nil:
		return t.land(inflight)
	case !t.idle && (t.lingerSince.IsZero() || time.Since(t.lingerSince) < idleLinger):
		if t.lingerSince.IsZero() {
			t.lingerSince = time.Now()
			t.lingerWait.Reset()
		}
		_ = retry.Sleep(ctx, t.lingerWait.Next()) // ended early by shutdown: the caller's loop checks ctx
		return nil
	case !t.idle:
		return t.takeIdle(ctx)
	default:
		return t.wait(ctx)
	}
}

// takeIdle takes the idle lock, with the idle flag (idle.go). A writer's transaction that captured changes without
// notifying holds the lock shared until it ends, so the lock can fail; the caller then
// fetches again after a pause that doubles up to the poll interval (a transaction open for
// long, such as a batch job, costs a fetch per poll interval rather than a busy loop).
func (t *term) takeIdle(ctx context.Context) error {
	ok, err := t.takeIdleSignal(t.work)
	if err != nil {
		return err
	}
	if ok {
		t.idle = true
		t.idleWait.Reset()
		return nil
	}
	_ = retry.Sleep(ctx, t.idleWait.Next()) // ended early by shutdown: the caller's loop checks ctx
	return nil
}

// busy releases the idle lock once there is work: commits stop notifying.
func (t *term) busy() error {
	if !t.idle {
		return nil
	}
	if err := t.releaseIdleSignal(t.work); err != nil {
		return err
	}
	t.idle = false
	return nil
}

// publish sends batch b as per-table messages without waiting for their confirms.
func (t *term) publish(b *changelog.Batch, fetched time.Time) (*flight, error) {
	f := &flight{versions: b.Versions, last: b.Last(), changes: len(b.Changes), fetched: fetched}
	lim := messageLimits{Changes: t.p.cfg.MessageChanges, Bytes: t.p.cfg.MessageBytes}
	err := eachMessage(b.Changes, lim, func(m change.Message) error {
		m.LowWater = t.lowWater.mark
		dc, err := t.pub.Publish(t.work, t.p.cfg.Exchange, m.RoutingKey, m.Publishing())
		if err != nil {
			return brokerError{fmt.Errorf("publish changes %d..%d: %w", m.Headers.FirstVersion, m.Headers.LastVersion, err)}
		}
		f.confirms = append(f.confirms, dc)
		return nil
	})
	f.sent = time.Now()
	return f, err
}

// land waits for the confirms of the batch in flight, if any, and deletes its entries.
func (t *term) land(inflight **flight) error {
	f := *inflight
	if f == nil {
		return nil
	}
	*inflight = nil
	if err := t.confirmed(f); err != nil {
		return err
	}
	confirmed := time.Now()
	if err := t.store.Delete(t.work, f.versions); err != nil {
		return err
	}
	t.stepped()
	t.failures = 0
	m := t.p.m
	m.confirmSeconds.Observe(confirmed.Sub(f.sent).Seconds())
	m.batchSeconds.Observe(time.Since(f.fetched).Seconds())
	m.batchChanges.Observe(float64(f.changes))
	m.changes.Add(float64(f.changes))
	m.messages.Add(float64(len(f.confirms)))
	return nil
}

// confirmed waits until RabbitMQ acknowledged every message of f. ConfirmTimeout counts only
// time in which RabbitMQ does not block us: confirms stalled by a resource alarm are waited
// for, however long the alarm lasts.
func (t *term) confirmed(f *flight) error {
	span := fmt.Sprintf("entries %d..%d", f.versions[0], f.last)
	tick := time.NewTicker(min(time.Second, t.p.cfg.ConfirmTimeout/4))
	defer tick.Stop()
	deadline := time.Now().Add(t.p.cfg.ConfirmTimeout)
	for _, dc := range f.confirms {
		for waiting := true; waiting; {
			select {
			case <-dc.Done():
				waiting = false
			case <-t.work.Done():
				return brokerError{fmt.Errorf("confirms of %s: %w", span, t.work.Err())}
			case <-tick.C:
				if t.bconn.Blocked() != "" {
					deadline = time.Now().Add(t.p.cfg.ConfirmTimeout)
					t.stepped()
				} else if time.Now().After(deadline) {
					return brokerError{fmt.Errorf("confirms of %s: none within %s", span, t.p.cfg.ConfirmTimeout)}
				}
			}
		}
		if dc.Acked() {
			continue
		}
		if err := t.pub.Err(); err != nil {
			return brokerError{fmt.Errorf("confirms of %s: channel closed: %w", span, err)}
		}
		return brokerError{fmt.Errorf("confirms of %s: RabbitMQ refused (nack) message %d", span, dc.DeliveryTag)}
	}
	return nil
}
