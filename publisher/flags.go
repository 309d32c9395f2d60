package main

import (
	"flag"
	"io"
	"time"

	"github.com/pgfanout/pgfanout/internal/cli"
)

// Every flag --some-name can also be set as PGFANOUT_SOME_NAME (cli.EnvName).

const defaultHTTPAddr = "127.0.0.1:9187"

// options are the values of all commands' flags.
type options struct {
	sourceURL    string
	amqpURL      string
	exchange     string
	httpAddr     string
	batchSize    int
	pollInterval time.Duration
	log          cli.Log
}

func (o *options) sourceFlag(fs *flag.FlagSet) {
	fs.StringVar(&o.sourceURL, "source-url", "", "source PostgreSQL `URL` (postgres://user:password@host:5432/db)")
}

func (o *options) rootFlags(out io.Writer) *flag.FlagSet {
	fs := cli.NewFlagSet("publisher", out)
	o.sourceFlag(fs)
	fs.StringVar(&o.amqpURL, "amqp-url", "", "RabbitMQ `URL` (amqp://user:password@host:5672/vhost)")
	fs.StringVar(&o.exchange, "exchange", "pgfanout", "`name` of the durable topic exchange to publish to (declared if missing)")
	cli.HTTPAddrFlag(fs, &o.httpAddr, defaultHTTPAddr)
	fs.IntVar(&o.batchSize, "batch-size", 10000, "changes fetched from the change log per round")
	fs.DurationVar(&o.pollInterval, "poll-interval", time.Second, "poll the change log this often even without a notification")
	o.log.Flags(fs)
	return fs
}

func (o *options) migrateFlags(out io.Writer) *flag.FlagSet {
	fs := cli.NewFlagSet("publisher migrate", out)
	o.sourceFlag(fs)
	o.log.Flags(fs)
	return fs
}

// require checks what the publisher cannot start without.
func (o *options) require() error {
	switch {
	case o.sourceURL == "":
		return cli.Required("source-url")
	case o.amqpURL == "":
		return cli.Required("amqp-url")
	case o.batchSize <= 0:
		return cli.UsageError{Msg: "--batch-size must be positive"}
	case o.pollInterval <= 0:
		return cli.UsageError{Msg: "--poll-interval must be positive"}
	}
	return nil
}
