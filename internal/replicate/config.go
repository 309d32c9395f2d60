package replicate

import (
	"errors"
	"time"

	"github.com/pgfanout/pgfanout/internal/broker"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/retry"
)

// Config is what a Replicator needs; flags map onto it one to one (see docs/replicator.md).
// Zero fields take the defaults of withDefaults.
type Config struct {
	ReplicaURL string // the replica database; unused when Applier is set
	// SourceURL, when set, makes the replicator copy the source's tracked tables that the
	// replica has not copied (internal/bootstrap), with a read-only role.
	SourceURL   string
	CopyWorkers int // chunks copied at once (default 2)
	// CreateTables and FollowDDL (with SourceURL): create tracked tables the replica lacks, and
	// follow the source tables' shape changes (docs/schema.md). The flags default both on.
	CreateTables bool
	FollowDDL    bool
	// Applier, when set, applies batches instead of an apply.Applier on ReplicaURL (tests).
	Applier Applier

	AMQPURL      string
	Exchange     string // durable topic exchange the publisher writes to
	ReplicaName  string // names the queue: pgfanout.<ReplicaName>
	Tables       []Pattern
	BatchSize    int           // messages per batch at most
	BatchChanges int           // changes per batch at most (a message is never split)
	BatchWait    time.Duration // how long a batch waits to fill after its first message (0: batch naturally)
	Prefetch     int           // unacknowledged messages the broker may hand out
	MaxAttempts  int           // failures of a message on its own before it is dead-lettered
	// Workers apply batches concurrently, each in its own transaction on its own connection:
	// one batch keeps one replica backend busy, so a process with one worker uses one core of
	// the replica. Concurrent batches are as safe as concurrent processes.
	Workers int
	// RetryDelay spaces the attempts of a failing message, giving a missing table or a
	// conflicting row time to be fixed before the message is dead-lettered.
	RetryDelay retry.Policy
	// Reconnect spaces AMQP reconnects and retries of batches the replica refused transiently.
	Reconnect retry.Policy
	// ShutdownGrace bounds how long a batch in flight may finish after shutdown begins.
	ShutdownGrace time.Duration
	Liveness      liveness.Settings
	// BookkeepingHorizon is how long after a replicator saw the source's low-water mark the
	// replica's bookkeeping below it is pruned, and changes below it count as stale
	// (docs/bookkeeping.md). 0 keeps every entry; the flag's default is 1m.
	BookkeepingHorizon time.Duration
}

func (c Config) withDefaults() Config {
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	set(&c.BatchSize, 100)
	set(&c.BatchChanges, 20000)
	set(&c.Prefetch, 200)
	set(&c.MaxAttempts, 5)
	set(&c.Workers, 2)
	set(&c.CopyWorkers, 2)
	if c.Exchange == "" {
		c.Exchange = "pgfanout"
	}
	if c.RetryDelay == (retry.Policy{}) {
		c.RetryDelay = retry.Policy{Min: time.Second, Max: 30 * time.Second}
	}
	if c.Reconnect == (retry.Policy{}) {
		c.Reconnect = retry.Reconnect()
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 5 * time.Second
	}
	if len(c.Tables) == 0 {
		c.Tables = []Pattern{{}}
	}
	c.Liveness = c.Liveness.WithDefaults()
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.AMQPURL == "":
		return errors.New("an AMQP URL is required")
	case c.ReplicaURL == "" && c.Applier == nil:
		return errors.New("a replica URL is required")
	case c.ReplicaName == "":
		return errors.New("a replica name is required")
	case c.BookkeepingHorizon < 0:
		return errors.New("the bookkeeping horizon cannot be negative")
	case c.BatchSize < 1 || c.BatchChanges < 1 || c.Prefetch < 1 || c.MaxAttempts < 1 || c.Workers < 1:
		return errors.New("batch size, batch changes, prefetch, max attempts and workers must be positive")
	}
	return c.Liveness.Validate()
}

// Queue is the replica's durable quorum queue.
func (c Config) Queue() string { return "pgfanout." + c.ReplicaName }

// Topology is what the replica needs on the broker.
func (c Config) Topology() broker.Topology {
	keys := make([]string, len(c.Tables))
	for i, p := range c.Tables {
		keys[i] = p.BindingKey()
	}
	return broker.Topology{Exchange: c.Exchange, Queue: c.Queue(), Bindings: keys}
}

// DeadQueue holds the messages this replica could not apply.
func (c Config) DeadQueue() string { return c.Topology().DeadQueue() }

// DeadExchange routes dead letters to DeadQueue by queue name; shared by all replicas.
func (c Config) DeadExchange() string { return c.Topology().DeadExchange() }
