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
)

// envPrefix: every flag --some-name can also be set as PGFANOUT_SOME_NAME.
const envPrefix = "PGFANOUT"

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

func envOptions() []ff.Option { return []ff.Option{ff.WithEnvVarPrefix(envPrefix)} }

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
		return usageError{"--source-url (or PGFANOUT_SOURCE_URL) is required"}
	case o.amqpURL == "":
		return usageError{"--amqp-url (or PGFANOUT_AMQP_URL) is required"}
	case o.batchSize <= 0:
		return usageError{"--batch-size must be positive"}
	case o.pollInterval <= 0:
		return usageError{"--poll-interval must be positive"}
	}
	return nil
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
	return zerolog.New(w).Level(level).With().Timestamp().Str("program", "publisher").Logger(), nil
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
