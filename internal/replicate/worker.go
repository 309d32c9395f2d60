package replicate

import (
	"errors"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/retry"
)

var errAbandoned = errors.New("batch abandoned")

// collect turns deliveries into batches, naturally: a batch is handed to the first worker
// free as soon as it holds anything, and grows only while every worker is busy (up to
// BatchSize messages or BatchChanges changes). So a lone commit is applied at once, and a
// burst is applied in batches as large as the replica's pace makes them. With BatchWait set,
// a batch also waits that long after its first message to fill. Decoding here overlaps with
// the workers applying earlier batches.
func (s *session) collect() error {
	defer close(s.batches)
	b := &pending{}
	for {
		if err := s.fill(b); err != nil {
			return err
		}
		var out chan<- []*message
		if len(b.msgs) > 0 && (b.full(&s.cfg) || s.cfg.BatchWait <= 0 || time.Since(b.first) >= s.cfg.BatchWait) {
			out = s.batches
		}
		var in <-chan amqp.Delivery
		if !b.full(&s.cfg) {
			in = s.deliveries
		}
		var wait <-chan time.Time
		var timer *time.Timer
		if out == nil && len(b.msgs) > 0 {
			timer = time.NewTimer(time.Until(b.first.Add(s.cfg.BatchWait)))
			wait = timer.C
		}
		done, err := s.step(b, out, in, wait)
		if timer != nil {
			timer.Stop()
		}
		if err != nil || done {
			return err
		}
	}
}

// step waits for one of: a worker taking the batch (which is then emptied), a delivery, the
// batch's wait passing, or the session's end (done).
func (s *session) step(b *pending, out chan<- []*message, in <-chan amqp.Delivery, wait <-chan time.Time) (done bool, err error) {
	select {
	case out <- b.msgs:
		*b = pending{}
	case d, ok := <-in:
		if !ok {
			return true, errDeliveriesClosed
		}
		s.add(b, d)
	case <-wait:
	case <-s.ctx.Done():
		return true, nil
	}
	return false, nil
}

// pending is the batch being collected.
type pending struct {
	msgs    []*message
	changes int
	first   time.Time // when its first message came
}

func (b *pending) full(cfg *Config) bool {
	return len(b.msgs) >= cfg.BatchSize || b.changes >= cfg.BatchChanges
}

// fill adds the deliveries that are already there, without waiting for any, until the batch
// is full: a worker that becomes free then takes all that arrived meanwhile.
func (s *session) fill(b *pending) error {
	for !b.full(&s.cfg) {
		select {
		case d, ok := <-s.deliveries:
			if !ok {
				return errDeliveriesClosed
			}
			s.add(b, d)
		default:
			return nil
		}
	}
	return nil
}

func (s *session) add(b *pending, d amqp.Delivery) {
	s.acker.delivered(d.DeliveryTag)
	if d.Redelivered {
		s.metrics.redeliveries.Inc()
	}
	m, skipped := newMessage(d, s.cfg.Tables)
	s.metrics.skipped.Add(float64(skipped))
	s.tracker.Observe(m.lowWater)
	if len(b.msgs) == 0 {
		b.first = time.Now()
	}
	b.msgs = append(b.msgs, m)
	b.changes += len(m.changes)
}

// work applies batches and retries held messages when they are due, until the session ends.
func (s *session) work() error {
	for s.ctx.Err() == nil {
		var err error
		select {
		case b, ok := <-s.batches:
			if !ok {
				return nil
			}
			err = s.applyGroup(b)
		case <-s.held.next():
			err = s.applyGroup(s.held.due())
		case <-s.ctx.Done():
		}
		if err != nil {
			if errors.Is(err, errAbandoned) && s.hard.Err() == nil {
				return nil // shutdown during a retry wait
			}
			return err
		}
	}
	return nil
}

// applyGroup applies msgs in one transaction; when the data is at fault it bisects until each
// failing message is on its own, so the good ones go through.
func (s *session) applyGroup(msgs []*message) error {
	var ok []*message
	for _, m := range msgs {
		if m.bad != nil {
			if err := s.deadLetter(m, m.bad); err != nil {
				return err
			}
			continue
		}
		ok = append(ok, m)
	}
	if len(ok) == 0 {
		return nil
	}
	err := s.applyRetrying(ok)
	var stale *apply.StaleError
	switch {
	case err == nil:
		return s.applied(ok)
	case errors.Is(err, errAbandoned):
		return err
	case errors.As(err, &stale):
		rest, err := s.staleMessages(ok, stale)
		if err != nil || len(rest) == 0 {
			return err
		}
		return s.applyGroup(rest)
	case errors.Is(err, errTooSlow):
		// Halves go through within the deadline; no message is blamed for it.
	case len(ok) == 1:
		return s.fail(ok[0], err)
	}
	mid := len(ok) / 2
	if err := s.applyGroup(ok[:mid]); err != nil {
		return err
	}
	return s.applyGroup(ok[mid:])
}

// errTooSlow is a batch of several messages that exceeded the round-trip deadline: applied in
// halves it may fit, where retrying it whole could time out forever.
var errTooSlow = errors.New("batch exceeded the round-trip deadline")

// applyRetrying retries transient failures (replica down, deadlock) with backoff for as long as
// the session lasts; it returns a data error, errTooSlow, or errAbandoned when the session
// ends. Each attempt is one round trip to the replica, bounded by the liveness timeout, so a
// replica gone silent (a partition) fails the attempt instead of hanging it.
func (s *session) applyRetrying(msgs []*message) error {
	changes := flatten(msgs)
	for attempt := 1; ; attempt++ {
		start := time.Now()
		ctx, cancel := s.cfg.Liveness.Call(s.hard)
		err := s.applier.Apply(ctx, changes)
		cancel()
		if err == nil {
			s.metrics.applySeconds.Observe(time.Since(start).Seconds())
			s.status.setReplica(nil)
			return nil
		}
		if s.hard.Err() != nil {
			return errAbandoned
		}
		timedOut := liveness.TimedOut(s.hard, err)
		if !timedOut && !apply.IsTransient(err) {
			return err
		}
		s.metrics.retries.Inc()
		if apply.IsDeadlock(err) {
			s.metrics.deadlocks.Inc() // apply takes its locks in one order: this should stay 0
		}
		s.status.setReplica(err)
		if timedOut && len(msgs) > 1 {
			s.log.Warn().Err(err).Int("messages", len(msgs)).Msg("batch timed out; applying it in halves")
			return errTooSlow
		}
		delay := s.cfg.Reconnect.Delay(attempt)
		s.log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", delay).Msg("batch failed transiently (replica unreachable, deadlock…); kept for retry")
		if retry.Sleep(s.ctx, delay) != nil {
			return errAbandoned
		}
	}
}

// fail records a failure of m on its own: it is held for another attempt later, or
// dead-lettered once it has failed MaxAttempts times.
func (s *session) fail(m *message, err error) error {
	m.failures++
	if m.failures >= s.cfg.MaxAttempts {
		return s.deadLetter(m, err)
	}
	delay := s.cfg.RetryDelay.Delay(m.failures)
	s.held.add(m, time.Now().Add(delay))
	s.log.Warn().Err(err).Str("message_id", m.d.MessageId).Int("attempt", m.failures).
		Int("max_attempts", s.cfg.MaxAttempts).Dur("retry_in", delay).Msg("message failed; held for retry")
	return nil
}

func (s *session) deadLetter(m *message, reason error) error {
	if err := s.publishDead(m, reason); err != nil {
		return err // the session ends; the message returns to the queue
	}
	if err := s.acker.ack([]uint64{m.d.DeliveryTag}); err != nil {
		return err
	}
	s.metrics.deadLettered.Inc()
	s.log.Error().Str("message_id", m.d.MessageId).Str("routing_key", m.d.RoutingKey).
		Int("attempts", m.failures).Str("reason", reason.Error()).Str("dead_queue", s.cfg.DeadQueue()).
		Msg("message dead-lettered")
	return nil
}

// applied acknowledges committed messages and records their metrics.
func (s *session) applied(msgs []*message) error {
	if err := s.acker.ack(tags(msgs)); err != nil {
		return err
	}
	now := time.Now()
	type table struct{ schema, name string }
	perTable := map[table]int{}
	total := 0
	for _, m := range msgs {
		for i := range m.changes {
			c := &m.changes[i]
			perTable[table{c.Schema, c.Table}]++
			if !c.CommittedAt.IsZero() {
				s.metrics.lag.Observe(now.Sub(c.CommittedAt).Seconds())
			}
		}
		total += len(m.changes)
	}
	for t, n := range perTable {
		s.metrics.applied.WithLabelValues(t.schema + "." + t.name).Add(float64(n))
	}
	s.metrics.batchChanges.Observe(float64(total))
	return nil
}
