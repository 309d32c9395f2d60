package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/internal/replicate"
)

// envPrefix: every flag --some-name can also be set as PGFANOUT_SOME_NAME.
const envPrefix = "PGFANOUT"

// options are the values of all commands' flags.
type options struct {
	replicaURL   string
	amqpURL      string
	replicaName  string
	exchange     string
	tables       string
	httpAddr     string
	batchSize    int
	batchChanges int
	batchWait    time.Duration
	prefetch     int
	maxAttempts  int
	workers      int
	logLevel     string
	logFormat    string
}

func envOptions() []ff.Option { return []ff.Option{ff.WithEnvVarPrefix(envPrefix)} }

// replicatorFlags are the flags of the replicator and of `replicator declare`.
func (o *options) replicatorFlags(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.replicaURL, "replica-url", "", "replica PostgreSQL `URL` (postgres://user:password@host:5432/db)")
	fs.StringVar(&o.amqpURL, "amqp-url", "", "RabbitMQ `URL` (amqp://user:password@host:5672/vhost)")
	fs.StringVar(&o.replicaName, "replica-name", "", "`name` of this replica; its queue is pgfanout.<name> (default: from the replica URL's host, port and database)")
	fs.StringVar(&o.exchange, "exchange", "pgfanout", "`name` of the durable topic exchange the publisher writes to")
	fs.StringVar(&o.tables, "tables", "*.*", "comma-separated schema.table `patterns` to replicate; * matches a whole name, \"quote\" names with dots")
	o.httpFlag(fs)
	fs.IntVar(&o.batchSize, "batch-size", 100, "messages applied per transaction at most")
	fs.IntVar(&o.batchChanges, "batch-changes", 20000, "changes applied per transaction at most (a message is never split)")
	fs.DurationVar(&o.batchWait, "batch-wait", 20*time.Millisecond, "how long a batch waits to fill after its first message")
	fs.IntVar(&o.prefetch, "prefetch", 200, "unacknowledged messages RabbitMQ may deliver ahead")
	fs.IntVar(&o.maxAttempts, "max-attempts", 5, "failures of a message on its own before it goes to the dead-letter queue")
	fs.IntVar(&o.workers, "workers", 2, "batches applied concurrently, each on its own replica connection")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "json", "log `format`: json or console")
	return fs
}

func (o *options) httpFlag(fs *flag.FlagSet) {
	fs.StringVar(&o.httpAddr, "http-addr", "127.0.0.1:9188", "`address` of /metrics, /healthz and /readyz (empty: off)")
}

func (o *options) healthcheckFlags(out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("replicator healthcheck", flag.ContinueOnError)
	fs.SetOutput(out)
	o.httpFlag(fs)
	return fs
}

// usageError is a missing or invalid flag value, reported with exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// config checks the flags and turns them into the replicator's configuration.
func (o *options) config() (replicate.Config, error) {
	switch {
	case o.replicaURL == "":
		return replicate.Config{}, usageError{"--replica-url (or PGFANOUT_REPLICA_URL) is required"}
	case o.amqpURL == "":
		return replicate.Config{}, usageError{"--amqp-url (or PGFANOUT_AMQP_URL) is required"}
	case o.batchSize <= 0 || o.batchChanges <= 0 || o.prefetch <= 0 || o.maxAttempts <= 0 || o.batchWait <= 0 || o.workers <= 0:
		return replicate.Config{}, usageError{"--batch-size, --batch-changes, --batch-wait, --prefetch, --max-attempts and --workers must be positive"}
	}
	tables, err := replicate.ParsePatterns(o.tables)
	if err != nil {
		return replicate.Config{}, usageError{"--tables: " + err.Error()}
	}
	name := o.replicaName
	if name == "" {
		if name, err = defaultReplicaName(o.replicaURL); err != nil {
			return replicate.Config{}, usageError{err.Error()}
		}
	}
	cfg := replicate.Config{
		AMQPURL: o.amqpURL, Exchange: o.exchange, ReplicaName: name, Tables: tables,
		BatchSize: o.batchSize, BatchChanges: o.batchChanges, BatchWait: o.batchWait,
		Prefetch: o.prefetch, MaxAttempts: o.maxAttempts, Workers: o.workers,
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return replicate.Config{}, usageError{err.Error()}
	}
	return cfg, nil
}

// logger builds the zerolog logger the flags ask for.
func (o *options) logger(w io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(o.logLevel)
	if err != nil || o.logLevel == "" {
		return zerolog.Nop(), usageError{fmt.Sprintf("--log-level %q: want debug, info, warn or error", o.logLevel)}
	}
	switch o.logFormat {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	default:
		return zerolog.Nop(), usageError{fmt.Sprintf("--log-format %q: want json or console", o.logFormat)}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Str("program", "replicator").Logger(), nil
}

// usage lists a command's subcommands and flags, each flag with its environment variable
// and default.
func usage(c *ffcli.Command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nUSAGE\n  %s\n", c.ShortHelp, c.ShortUsage)
	if len(c.Subcommands) > 0 {
		b.WriteString("\nSUBCOMMANDS\n")
		tw := tabwriter.NewWriter(&b, 0, 2, 2, ' ', 0)
		for _, sub := range c.Subcommands {
			fmt.Fprintf(tw, "  %s\t%s\n", sub.Name, sub.ShortHelp)
		}
		_ = tw.Flush()
	}
	b.WriteString("\nFLAGS (each also read from the environment variable shown)\n")
	tw := tabwriter.NewWriter(&b, 0, 2, 2, ' ', 0)
	c.FlagSet.VisitAll(func(f *flag.Flag) {
		arg, help := flag.UnquoteUsage(f)
		def := ""
		if f.DefValue != "" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  --%s %s\t%s\t%s%s\n", f.Name, arg, envName(f.Name), help, def)
	})
	_ = tw.Flush()
	return b.String()
}

// envName is the variable ff reads for a flag.
func envName(flagName string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}
