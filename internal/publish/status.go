package publish

import (
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/internal/change"
)

// status derives readiness: a standby is ready while its lock connection is up, a leader
// while it also has RabbitMQ.
type status struct {
	mu       sync.Mutex
	postgres bool
	broker   bool
	leader   bool
	setReady func(bool)
	m        *metrics
}

func (s *status) update(f func(s *status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
	s.setReady(s.postgres && (!s.leader || s.broker))
	if s.leader {
		s.m.isLeader.Set(1)
	} else {
		s.m.isLeader.Set(0)
	}
}

func (s *status) setPostgres(up bool) { s.update(func(s *status) { s.postgres = up }) }
func (s *status) setBroker(up bool)   { s.update(func(s *status) { s.broker = up }) }
func (s *status) setLeader(up bool)   { s.update(func(s *status) { s.leader = up }) }

// unroutable counts messages RabbitMQ returned and logs them without flooding: the first
// one, then a summary at most every logEvery.
type unroutable struct {
	log      zerolog.Logger
	m        *metrics
	mu       sync.Mutex
	logged   time.Time
	unlogged int
}

const logEvery = 10 * time.Second

// returned is called on amqp091's reader goroutine, so it only counts and logs.
func (u *unroutable) returned(r amqp.Return) {
	u.m.unroutable.Inc()
	u.mu.Lock()
	defer u.mu.Unlock()
	u.unlogged++
	if time.Since(u.logged) < logEvery {
		return
	}
	u.log.Warn().Str("routing_key", r.RoutingKey).Any("first_version", r.Headers[change.HeaderFirstVersion]).
		Int("messages", u.unlogged).Str("reply", r.ReplyText).
		Msg("RabbitMQ returned unroutable messages: no queue is bound for them, their changes are dropped")
	u.logged = time.Now()
	u.unlogged = 0
}
