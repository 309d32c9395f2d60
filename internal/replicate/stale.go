package replicate

import (
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/bootstrap"
)

// Outcomes of a stale message (metric stale_messages_total).
const (
	staleResync       = "resync"
	staleDeadLettered = "dead_lettered"
)

// staleMessages handles the messages of msgs holding changes the replica refused as stale
// (docs/bookkeeping.md) and returns the others, to be applied again. A stale message's table
// is copied again when the replicator has --source-url: the copy's snapshots hold the
// message's changes, long committed, so the message is acknowledged once the copy is
// requested. Without a source it is dead-lettered with the reason, which names the resync.
func (s *session) staleMessages(msgs []*message, se *apply.StaleError) ([]*message, error) {
	refused := make(map[int64]bool, len(se.Versions))
	for _, v := range se.Versions {
		refused[v] = true
	}
	var rest []*message
	for _, m := range msgs {
		if !holdsAny(m, refused) {
			rest = append(rest, m)
			continue
		}
		if err := s.stale(m, se); err != nil {
			return nil, err
		}
	}
	return rest, nil
}

func holdsAny(m *message, versions map[int64]bool) bool {
	for i := range m.changes {
		if versions[m.changes[i].Version] {
			return true
		}
	}
	return false
}

func (s *session) stale(m *message, se *apply.StaleError) error {
	c := &m.changes[0] // a message holds changes of one table
	table := pgx.Identifier{c.Schema, c.Table}.Sanitize()
	if s.copier == nil {
		s.metrics.stale.WithLabelValues(staleDeadLettered).Inc()
		return s.deadLetter(m, se)
	}
	err := s.copier.ResyncStale(s.hard, c.Schema, c.Table)
	if errors.Is(err, bootstrap.ErrNotTracked) {
		s.metrics.stale.WithLabelValues(staleDeadLettered).Inc()
		return s.deadLetter(m, err)
	}
	if err != nil {
		return s.fail(m, err) // the source is unreachable: held, tried again
	}
	if err := s.acker.ack([]uint64{m.d.DeliveryTag}); err != nil {
		return err
	}
	s.metrics.stale.WithLabelValues(staleResync).Inc()
	s.log.Warn().Str("message_id", m.d.MessageId).Str("table", table).Int64("cutoff", se.Cutoff).
		Msg("a message older than the bookkeeping horizon could not be placed; its table is copied again")
	return nil
}
