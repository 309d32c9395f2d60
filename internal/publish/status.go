package publish

import (
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/internal/change"
)

// status is what readiness is derived from. A standby is ready while it reaches the source;
// a leader while it also has RabbitMQ, RabbitMQ does not block it, and its drain makes
// progress. Each "not" keeps its reason, which /readyz shows.
type status struct {
	mu      sync.Mutex
	pg      string // why the source is unreachable; "" when reached
	leader  bool
	broker  string // why RabbitMQ is unreachable; "" when connected
	blocked string // the resource alarm RabbitMQ blocks us for; ""
	m       *metrics
}

func newStatus(m *metrics) *status {
	return &status{pg: "connecting to the source", broker: "not connected to RabbitMQ", m: m}
}

func (s *status) update(f func(s *status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
	s.m.isLeader.Set(gauge(s.leader))
	s.m.blocked.Set(gauge(s.leader && s.blocked != ""))
}

func gauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ready reports readiness and, when not ready, why.
func (s *status) ready() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.pg != "":
		return false, "source PostgreSQL: " + s.pg
	case !s.leader:
		return true, "standby: another publisher leads"
	case s.broker != "":
		return false, "RabbitMQ: " + s.broker
	case s.blocked != "":
		return false, "RabbitMQ blocks publishing (resource alarm: " + s.blocked + "); changes wait in the change log"
	}
	return true, "leading"
}

func (s *status) setPG(up bool, err error) {
	s.update(func(s *status) {
		s.pg = ""
		if !up {
			s.pg = "unreachable"
			if err != nil {
				s.pg = err.Error()
			}
		}
	})
}

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
