package replicate

import (
	"sync"
	"time"
)

// status is what readiness is derived from: consuming from RabbitMQ, and the replica taking
// batches (or answering pings while idle). Each "not" keeps its reason, which /readyz shows.
type status struct {
	mu       sync.Mutex
	amqp     string // why not consuming; "" while consuming
	replica  string // why the replica is unusable; "" when it took the last batch or ping
	seen     time.Time
	consumer string
}

func newStatus() *status { return &status{amqp: "connecting to RabbitMQ"} }

func (s *status) ready() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.amqp != "":
		return false, "RabbitMQ: " + s.amqp
	case s.replica != "":
		return false, "replica PostgreSQL: " + s.replica
	}
	return true, "consuming " + s.consumer
}

func (s *status) consuming(queue string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.amqp, s.consumer = "", queue
}

func (s *status) notConsuming(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.amqp = why
}

// setReplica records the outcome of a batch or a ping.
func (s *status) setReplica(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replica = ""
	if err != nil {
		s.replica = err.Error()
		return
	}
	s.seen = time.Now()
}

// replicaSeen is when the replica last proved reachable.
func (s *status) replicaSeen() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen
}
