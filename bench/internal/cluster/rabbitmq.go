package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pgfanout/pgfanout/internal/localserver"
)

// RabbitMQ is a private broker node in a temporary directory of its own, which Close
// removes. Benchmarks use it where the node's CPU and memory must be told apart from other
// users of the shared broker.
type RabbitMQ struct {
	node *localserver.RabbitMQ
	dir  string
}

// StartRabbitMQ starts a node and waits until it accepts connections.
func StartRabbitMQ(ctx context.Context) (*RabbitMQ, error) {
	dir, err := os.MkdirTemp("", "bench-rabbitmq-")
	if err != nil {
		return nil, fmt.Errorf("private RabbitMQ: %w", err)
	}
	n, err := localserver.StartRabbitMQ(ctx, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("private RabbitMQ: %w", err)
	}
	return &RabbitMQ{node: n, dir: dir}, nil
}

// URL is the node's AMQP URL.
func (r *RabbitMQ) URL() string { return r.node.URL() }

// PID is the Erlang VM's process (beam.smp), the root of the node's process tree. The node
// writes it to the PID file localserver points it at once it has booted.
func (r *RabbitMQ) PID() (int, error) {
	b, err := os.ReadFile(filepath.Join(r.node.Dir, "rabbitmq.pid"))
	if err != nil {
		return 0, fmt.Errorf("RabbitMQ PID: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("RabbitMQ PID: %q: %w", b, err)
	}
	return pid, nil
}

// Close stops the node and its epmd and removes its directory.
func (r *RabbitMQ) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = r.node.Close(ctx)
	_ = os.RemoveAll(r.dir)
}
