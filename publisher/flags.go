package main

import (
	"flag"
	"io"
	"time"

	"github.com/pgfanout/pgfanout/internal/cli"
)

// envPrefix: every flag --some-name can also be set as PGFANOUT_SOME_NAME.

// options are the values of all commands' flags.
type options struct {
	sourceURL    string
	amqpURL      string
	exchange     string
	httpAddr     string
	batchSize    int
	pollInterval time.Duration
	logLevel     string
	logFormat    string
}

func newFlagSet(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

func (o *options) sourceFlag(fs *flag.FlagSet) {
	fs.StringVar(&o.sourceURL, "source-url", "", "source PostgreSQL `URL` (postgres://user:password@host:5432/db)")
}

func (o *options) httpFlag(fs *flag.FlagSet) {
	fs.StringVar(&o.httpAddr, "http-addr", "127.0.0.1:9187", "`address` of /metrics, /healthz and /readyz (empty: off)")
}

func (o *options) logFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "json", "log `format`: json or console")
}

func (o *options) rootFlags(out io.Writer) *flag.FlagSet {
	fs := newFlagSet("publisher", out)
	o.sourceFlag(fs)
	fs.StringVar(&o.amqpURL, "amqp-url", "", "RabbitMQ `URL` (amqp://user:password@host:5672/vhost)")
	fs.StringVar(&o.exchange, "exchange", "pgfanout", "`name` of the durable topic exchange to publish to (declared if missing)")
	o.httpFlag(fs)
	fs.IntVar(&o.batchSize, "batch-size", 10000, "changes fetched from the change log per round")
	fs.DurationVar(&o.pollInterval, "poll-interval", time.Second, "poll the change log this often even without a notification")
	o.logFlags(fs)
	return fs
}

func (o *options) migrateFlags(out io.Writer) *flag.FlagSet {
	fs := newFlagSet("publisher migrate", out)
	o.sourceFlag(fs)
	o.logFlags(fs)
	return fs
}

func (o *options) healthcheckFlags(out io.Writer) *flag.FlagSet {
	fs := newFlagSet("publisher healthcheck", out)
	o.httpFlag(fs)
	return fs
}

// require checks what the publisher cannot start without.
func (o *options) require() error {
	switch {
	case o.sourceURL == "":
		return cli.UsageError{Msg: "--source-url (or PGFANOUT_SOURCE_URL) is required"}
	case o.amqpURL == "":
		return cli.UsageError{Msg: "--amqp-url (or PGFANOUT_AMQP_URL) is required"}
	case o.batchSize <= 0:
		return cli.UsageError{Msg: "--batch-size must be positive"}
	case o.pollInterval <= 0:
		return cli.UsageError{Msg: "--poll-interval must be positive"}
	}
	return nil
}
