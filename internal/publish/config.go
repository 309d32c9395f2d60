// Package publish is the publisher: it moves the source's change log to RabbitMQ. One
// process at a time leads (internal/leader's lease); the leader drains the log in version
// order, publishes each batch as per-table messages with publisher confirms, and deletes
// entries only once every message carrying their changes is confirmed.
package publish

import (
	"errors"
	"time"

	"github.com/pgfanout/pgfanout/internal/liveness"
)

// Config configures a Publisher. Zero durations and sizes take the defaults of withDefaults.
type Config struct {
	SourceURL string
	AMQPURL   string
	Exchange  string

	BatchSize      int           // changes per fetch (default 10000)
	BatchBytes     int           // items JSON bytes per fetch (default 32 MiB)
	MessageChanges int           // changes per message (default 1000)
	MessageBytes   int           // body bytes per message (default 1 MiB); a larger change goes alone
	PollInterval   time.Duration // fetch at least this often when no notification came (default 1 s)
	StandbyPoll    time.Duration // a standby's attempts to take the lease (default 1 s)
	// LeaderLease is how long a leader's lease lasts unrenewed (default 15 s): a standby takes
	// over at most this long (plus StandbyPoll) after the leader vanished. It renews every
	// third of it.
	LeaderLease time.Duration
	// ProgressTimeout: a leader whose drain loop made no progress for this long, while
	// RabbitMQ did not block it, reconnects everything and says so (default 60 s). A backstop
	// behind the liveness deadlines.
	ProgressTimeout time.Duration
	ConfirmTimeout  time.Duration // longest wait for a batch's confirms while RabbitMQ does not block us (default 30 s)
	ShutdownGrace   time.Duration // on shutdown, wait this long for outstanding confirms (default 5 s)
	StatsInterval   time.Duration // backlog and NOTIFY-queue gauges (default 5 s)
	Liveness        liveness.Settings
}

// Names under which the publisher shows in pg_stat_activity and RabbitMQ's connection list.
const (
	AppName        = "pgfanout-publisher"
	leaseAppName   = AppName + "-lease"
	listenAppName  = AppName + "-listen"
	monitorAppName = AppName + "-monitor"
)

// Channel is the NOTIFY channel the capture triggers wake the publisher on.
const Channel = "pgfanout"

// rescanEvery bounds how long a fetch may continue after the batch in flight instead of
// restarting from the lowest version: a transaction that committed late can hold versions
// below ones already published, and this is how soon it is picked up under steady load.
const rescanEvery = time.Second

// idleLinger is how long the log must stay empty before the publisher takes its idle lock.
// While it holds the lock every source commit that captured notifies, which takes a
// cluster-wide lock; under steady load the log is empty only between two commits, and
// without the linger the lock would be taken and released for nearly every statement. During
// the linger the log is fetched again every few milliseconds (lingerFirst).
const idleLinger = 20 * time.Millisecond

// lingerFirst is the first pause of a linger: a commit just after the log was found empty
// waits about this long to be fetched (pauses double up to idleLinger/4).
const lingerFirst = time.Millisecond

func (c Config) withDefaults() Config {
	if c.Exchange == "" {
		c.Exchange = "pgfanout"
	}
	setDefault(&c.BatchSize, 10000)
	setDefault(&c.BatchBytes, 32<<20)
	setDefault(&c.MessageChanges, 1000)
	setDefault(&c.MessageBytes, 1<<20)
	setDefault(&c.PollInterval, time.Second)
	setDefault(&c.StandbyPoll, time.Second)
	setDefault(&c.LeaderLease, 15*time.Second)
	setDefault(&c.ProgressTimeout, time.Minute)
	setDefault(&c.ConfirmTimeout, 30*time.Second)
	setDefault(&c.ShutdownGrace, 5*time.Second)
	setDefault(&c.StatsInterval, 5*time.Second)
	c.Liveness = c.Liveness.WithDefaults()
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.SourceURL == "":
		return errors.New("source URL is required")
	case c.AMQPURL == "":
		return errors.New("AMQP URL is required")
	case c.LeaderLease < time.Second:
		return errors.New("the leader lease must be at least 1s")
	case c.LeaderLease < 2*c.Liveness.KeepAlive:
		return errors.New("the leader lease must be at least twice the TCP keepalive interval")
	}
	return c.Liveness.Validate()
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
