package testenv

import (
	"context"
	"testing"

	"github.com/pgfanout/pgfanout/internal/localserver"
)

// RabbitMQServerEnv names the rabbitmq-server script to use (scripts/test-services.sh sets
// it); without it the one on PATH is used.
const RabbitMQServerEnv = localserver.RabbitMQServerEnv

// RabbitMQ is a private broker node for tests that stop and restart the broker (the shared
// one at PGFANOUT_TEST_AMQP_URL must never be stopped); see localserver.RabbitMQ. Stop keeps
// the data, so durable queues and persistent messages survive a Stop/Start.
type RabbitMQ struct {
	t      testing.TB // Start and Stop take none: they fail the test that started the node
	server *localserver.RabbitMQ
}

// StartRabbitMQ starts a private node and stops it and its epmd, by PID, when the test ends.
func StartRabbitMQ(t testing.TB) *RabbitMQ {
	t.Helper()
	s, err := localserver.StartRabbitMQ(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &RabbitMQ{t: t, server: s}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Logf("stop private RabbitMQ: %v", err)
		}
	})
	return r
}

// URL is the node's AMQP URL.
func (r *RabbitMQ) URL() string { return r.server.URL() }

// Start starts the node (again) and waits until it accepts connections.
func (r *RabbitMQ) Start() {
	r.t.Helper()
	if err := r.server.Start(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// Stop stops the node gracefully, keeping its data. A failed graceful stop is only logged:
// the node has been terminated either way.
func (r *RabbitMQ) Stop() {
	r.t.Helper()
	if err := r.server.Stop(context.Background()); err != nil {
		r.t.Logf("rabbitmqctl stop: %v; the node was terminated", err)
	}
}

// Ctl runs rabbitmqctl against the node; a failure fails the test.
func (r *RabbitMQ) Ctl(args ...string) {
	r.t.Helper()
	if err := r.server.Ctl(context.Background(), args...); err != nil {
		r.t.Fatal(err)
	}
}
