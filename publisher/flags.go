package main

import (
	"flag"
	"io"
	"time"

	"github.com/pgfanout/pgfanout/internal/cli"
	"github.com/pgfanout/pgfanout/internal/liveness"
)

// Every flag --some-name can also be set as PGFANOUT_SOME_NAME (cli.EnvName).

const defaultHTTPAddr = "127.0.0.1:9187"

// options are the values of all commands' flags.
type options struct {
	sourceURL       string
	amqp            cli.AMQP
	amqpURL         string // amqp's URL(), once require checked the flags
	exchange        string
	httpAddr        string
	batchSize       int
	pollInterval    time.Duration
	leaderLease     time.Duration
	progressTimeout time.Duration
	liveness        liveness.Settings
	log             cli.Log
}

func (o *options) sourceFlag(fs *flag.FlagSet) {
	fs.StringVar(&o.sourceURL, "source-url", "", "source PostgreSQL `URL` (postgres://user:password@host:5432/db)")
}

func (o *options) rootFlags(out io.Writer) *flag.FlagSet {
	fs := cli.NewFlagSet("publisher", out)
	o.sourceFlag(fs)
	o.amqp.Flags(fs)
	fs.StringVar(&o.exchange, "exchange", "pgfanout", "`name` of the durable topic exchange to publish to (declared if missing)")
	cli.HTTPAddrFlag(fs, &o.httpAddr, defaultHTTPAddr)
	fs.IntVar(&o.batchSize, "batch-size", 10000, "changes fetched from the change log per round")
	fs.DurationVar(&o.pollInterval, "poll-interval", time.Second, "poll the change log this often even without a notification")
	fs.DurationVar(&o.leaderLease, "leader-lease", 15*time.Second, "how long the leader's lease lasts unrenewed: a standby takes over at most this long after the leader vanished")
	fs.DurationVar(&o.progressTimeout, "progress-timeout", time.Minute, "a leader making no progress this long (RabbitMQ not blocking it) reconnects everything")
	cli.LivenessFlags(fs, &o.liveness)
	o.log.Flags(fs)
	return fs
}

func (o *options) migrateFlags(out io.Writer) *flag.FlagSet {
	fs := cli.NewFlagSet("publisher migrate", out)
	o.sourceFlag(fs)
	o.log.Flags(fs)
	return fs
}

// require checks what the publisher cannot start without, and resolves amqpURL.
func (o *options) require() error {
	var err error
	if o.amqpURL, err = o.amqp.URL(); err != nil {
		return err
	}
	switch {
	case o.sourceURL == "":
		return cli.Required("source-url")
	case o.amqpURL == "":
		return cli.Required("amqp-url")
	case o.batchSize <= 0:
		return cli.UsageError{Msg: "--batch-size must be positive"}
	case o.pollInterval <= 0:
		return cli.UsageError{Msg: "--poll-interval must be positive"}
	case o.progressTimeout <= 0:
		return cli.UsageError{Msg: "--progress-timeout must be positive"}
	case o.leaderLease < time.Second || o.leaderLease < 2*o.liveness.KeepAlive:
		return cli.UsageError{Msg: "--leader-lease must be at least 1s and twice --tcp-keepalive"}
	}
	if err := o.liveness.Validate(); err != nil {
		return cli.UsageError{Msg: err.Error()}
	}
	return nil
}
