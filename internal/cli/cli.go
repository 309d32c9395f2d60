// Package cli holds what the publisher and replicator programs share around their flags:
// exit codes, the logger the flags ask for, and a --help that names every environment
// variable.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/rs/zerolog"
	"github.com/sourcegraph/conc/pool"

	"github.com/pgfanout/pgfanout/internal/health"
	"github.com/pgfanout/pgfanout/internal/liveness"
)

// EnvPrefix is prepended to every flag's environment variable.
const EnvPrefix = "PGFANOUT"

// EnvOptions makes ff read each flag also from PGFANOUT_<FLAG>.
func EnvOptions() []ff.Option { return []ff.Option{ff.WithEnvVarPrefix(EnvPrefix)} }

// UsageError is a missing or invalid flag value, reported with exit status 2.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// ExitError ends a command with exit status Code, for commands whose statuses mean more than
// success or failure: `replicator verify` exits 1 when the replica differs and 2 on any
// error. Err, when not nil, is printed as a failure is.
type ExitError struct {
	Code int
	Err  error
}

func (e ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e ExitError) Unwrap() error { return e.Err }

// Run parses args and runs root; it returns the exit status: 0, 1 on failure, 2 on bad
// usage, or an ExitError's code.
func Run(ctx context.Context, program string, root *ffcli.Command, args []string, stderr io.Writer) int {
	if err := root.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "%s: %v (see %s --help)\n", program, err, program)
		return 2
	}
	if err := root.Run(ctx); err != nil {
		var usage UsageError
		if errors.As(err, &usage) {
			fmt.Fprintf(stderr, "%s: %v (see %s --help)\n", program, err, program)
			return 2
		}
		var exit ExitError
		if errors.As(err, &exit) {
			if exit.Err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", program, exit.Err)
			}
			return exit.Code
		}
		fmt.Fprintf(stderr, "%s: %v\n", program, err)
		return 1
	}
	return 0
}

// Log holds --log-level and --log-format.
type Log struct{ Level, Format string }

// Flags registers --log-level and --log-format on fs.
func (l *Log) Flags(fs *flag.FlagSet) {
	fs.StringVar(&l.Level, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&l.Format, "log-format", "json", "log `format`: json or console")
}

// Logger builds the zerolog logger the flags ask for.
func (l Log) Logger(program string, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(l.Level)
	if err != nil || l.Level == "" {
		return zerolog.Nop(), UsageError{fmt.Sprintf("--log-level %q: want debug, info, warn or error", l.Level)}
	}
	switch l.Format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	default:
		return zerolog.Nop(), UsageError{fmt.Sprintf("--log-format %q: want json or console", l.Format)}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("program", program).Logger(), nil
}

// Required is the usage error of a required flag left empty.
func Required(flagName string) error {
	return UsageError{fmt.Sprintf("--%s (or %s) is required", flagName, EnvName(flagName))}
}

// NewFlagSet is a flag set that reports errors instead of exiting and prints help to out.
func NewFlagSet(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

// HTTPAddrFlag registers --http-addr, where a program serves /metrics, /healthz and /readyz.
func HTTPAddrFlag(fs *flag.FlagSet, p *string, def string) {
	fs.StringVar(p, "http-addr", def, "`address` of /metrics, /healthz and /readyz (empty: off)")
}

// LivenessFlags registers --io-timeout, --tcp-keepalive and --amqp-heartbeat, which every
// connection of a program follows (internal/liveness).
func LivenessFlags(fs *flag.FlagSet, l *liveness.Settings) {
	d := liveness.Defaults()
	fs.DurationVar(&l.Timeout, "io-timeout", d.Timeout, "longest a round trip to PostgreSQL may take (and TCP data may stay unacknowledged) before the connection counts as dead and is replaced")
	fs.DurationVar(&l.KeepAlive, "tcp-keepalive", d.KeepAlive, "TCP keepalive idle time and probe interval (3 probes); idle PostgreSQL connections are also pinged this often")
	fs.DurationVar(&l.Heartbeat, "amqp-heartbeat", d.Heartbeat, "AMQP heartbeat interval; RabbitMQ silent for 3 intervals counts as gone")
}

// Command completes c with the environment options and the --help every command shares.
func Command(c *ffcli.Command) *ffcli.Command {
	c.Options = EnvOptions()
	c.UsageFunc = Usage
	return c
}

// Healthcheck is the `<program> healthcheck` subcommand, which container healthchecks run
// (distroless images have no curl).
func Healthcheck(program, defaultAddr string, out io.Writer) *ffcli.Command {
	var addr string
	fs := NewFlagSet(program+" healthcheck", out)
	HTTPAddrFlag(fs, &addr, defaultAddr)
	return Command(&ffcli.Command{
		Name:       "healthcheck",
		ShortUsage: program + " healthcheck [--http-addr ADDR]",
		ShortHelp:  "GET /healthz of a running " + program + "; exit 0 when healthy, 1 otherwise.",
		FlagSet:    fs,
		Exec:       func(ctx context.Context, _ []string) error { return health.Check(ctx, addr) },
	})
}

// Service is a program's component: the publisher or the replicator.
type Service interface {
	Run(ctx context.Context) error
	Ready() (ok bool, reason string)
}

// Serve runs a program's component and its HTTP endpoint (srv, on --http-addr, whose /readyz
// asks svc) together in one pool until ctx ends or either fails; the first failure cancels
// the other and is logged. Readiness is also exported as metrics and each change of it
// logged with its cause (health.ExportReadiness, health.WatchReadiness).
func Serve(ctx context.Context, program string, log zerolog.Logger, srv *health.Server, svc Service) error {
	if err := srv.Listen(); err != nil {
		return fmt.Errorf("listen on --http-addr: %w", err)
	}
	srv.SetReadiness(svc.Ready)
	srv.ExportReadiness(program)
	g := pool.New().WithErrors().WithContext(ctx).WithCancelOnError()
	g.Go(srv.Run)
	g.Go(svc.Run)
	g.Go(func(ctx context.Context) error { return srv.WatchReadiness(ctx, time.Second) })
	if err := g.Wait(); err != nil {
		log.Error().Err(err).Msg(program + " failed")
		return err
	}
	return nil
}

// Usage lists a command's subcommands and flags, each flag with its environment variable
// and default.
func Usage(c *ffcli.Command) string {
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
		fmt.Fprintf(tw, "  --%s %s\t%s\t%s%s\n", f.Name, arg, EnvName(f.Name), help, def)
	})
	_ = tw.Flush()
	return b.String()
}

// EnvName is the variable ff reads for a flag.
func EnvName(flagName string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}
