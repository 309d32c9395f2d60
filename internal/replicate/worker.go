package replicate

import (
	"errors"
	"time"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/retry"
)

var errAbandoned = errors.New("batch abandoned")

// collect turns deliveries into batches: it waits for a first message, then gathers more until
// BatchSize messages or BatchChanges changes, or until BatchWait has passed. Decoding here
// overlaps with the worker applying the previous batch.
func (s *session) collect() error {
	defer close(s.batches)
	for {
		b, err := s.gather()
		if len(b) > 0 {
			select {
			case s.batches <- b:
			case <-s.ctx.Done():
				return nil
			}
		}
		if err != nil || s.ctx.Err() != nil {
			return err
		}
	}
}

func (s *session) gather() ([]*message, error) {
	var (
		batch   []*message
		changes int
		timeout <-chan time.Time
	)
	for len(batch) < s.cfg.BatchSize && changes < s.cfg.BatchChanges {
		select {
		case d, ok := <-s.deliveries:
			if !ok {
				return batch, errDeliveriesClosed
			}
			s.acker.delivered(d.DeliveryTag)
			if d.Redelivered {
				s.metrics.redeliveries.Inc()
			}
			m, skipped := newMessage(d, s.cfg.Tables)
			s.metrics.skipped.Add(float64(skipped))
			batch = append(batch, m)
			changes += len(m.changes)
			if timeout == nil {
				t := time.NewTimer(s.cfg.BatchWait)
				defer t.Stop()
				timeout = t.C
			}
		case <-timeout:
			return batch, nil
		case <-s.ctx.Done():
			return batch, nil
		}
	}
	return batch, nil
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
	switch {
	case err == nil:
		return s.applied(ok)
	case errors.Is(err, errAbandoned):
		return err
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
