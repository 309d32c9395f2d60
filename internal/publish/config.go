// Package publish is the publisher: it moves the source's change log to RabbitMQ. One
// process at a time leads (PostgreSQL advisory lock); the leader drains the log in version
// order, publishes each batch as per-table messages with publisher confirms, and deletes
// entries only once every message carrying their changes is confirmed.
package publish

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Config configures a Publisher. Zero durations and sizes take the defaults below.
type Config struct {
	SourceURL string
	AMQPURL   string
	Exchange  string

	BatchSize      int           // changes per fetch (default 10000)
	BatchBytes     int           // items JSON bytes per fetch (default 32 MiB)
	MessageChanges int           // changes per message (default 1000)
	MessageBytes   int           // body bytes per message (default 1 MiB); a larger change goes alone
	PollInterval   time.Duration // fetch at least this often when no notification came (default 1 s)
	LockInterval   time.Duration // a standby's lock attempts (default 1 s)
	ConfirmTimeout time.Duration // longest wait for RabbitMQ's confirms of a batch (default 30 s)
	ShutdownGrace  time.Duration // on shutdown, wait this long for outstanding confirms (default 5 s)
	StatsInterval  time.Duration // backlog and NOTIFY-queue gauges (default 5 s)

	Log        zerolog.Logger
	Registerer prometheus.Registerer // metrics; none when nil
	SetReady   func(bool)            // readiness; ignored when nil
}

// Names under which the publisher shows in pg_stat_activity and RabbitMQ's connection list.
const (
	AppName        = "pgfanout-publisher"
	listenAppName  = AppName + "-listen"
	monitorAppName = AppName + "-monitor"
)

// Channel is the NOTIFY channel the capture triggers wake the publisher on.
const Channel = "pgfanout"

// lockKey is the advisory lock key of the leader lock: "pgfanout" in ASCII.
const lockKey int64 = 0x706766616e6f7574

// rescanEvery bounds how long a fetch may continue after the batch in flight instead of
// restarting from the lowest version: a transaction that committed late can hold versions
// below ones already published, and this is how soon it is picked up under steady load.
const rescanEvery = time.Second

// idleLinger is how long the log must stay empty before the publisher takes its idle lock.
// While it holds the lock every source commit that captured notifies, which takes a
// cluster-wide lock; under steady load the log is empty only between two commits, and
// without the linger the lock would be taken and released for nearly every statement. A
// change committed during the linger waits for it, at most this long.
const idleLinger = 20 * time.Millisecond

func (c *Config) withDefaults() (Config, error) {
	d := *c
	if d.SourceURL == "" {
		return d, errors.New("source URL is required")
	}
	if d.AMQPURL == "" {
		return d, errors.New("AMQP URL is required")
	}
	if d.Exchange == "" {
		d.Exchange = "pgfanout"
	}
	setDefault(&d.BatchSize, 10000)
	setDefault(&d.BatchBytes, 32<<20)
	setDefault(&d.MessageChanges, 1000)
	setDefault(&d.MessageBytes, 1<<20)
	setDefault(&d.PollInterval, time.Second)
	setDefault(&d.LockInterval, time.Second)
	setDefault(&d.ConfirmTimeout, 30*time.Second)
	setDefault(&d.ShutdownGrace, 5*time.Second)
	setDefault(&d.StatsInterval, 5*time.Second)
	if d.SetReady == nil {
		d.SetReady = func(bool) {}
	}
	return d, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
