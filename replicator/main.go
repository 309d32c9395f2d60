// Command replicator applies pgfanout's change messages from a RabbitMQ queue to a replica
// PostgreSQL database. See docs/replicator.md.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/internal/cli"
	"github.com/pgfanout/pgfanout/internal/health"
	"github.com/pgfanout/pgfanout/internal/redact"
	"github.com/pgfanout/pgfanout/internal/replicate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit status: 0, 1 on failure, 2 on bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Run(ctx, "replicator", newCommand(stdout, stderr), args, stderr)
}

// serve runs the replicator and its HTTP endpoint until ctx ends.
func serve(ctx context.Context, o *options, stderr io.Writer) error {
	cfg, log, err := o.setup(stderr)
	if err != nil {
		return err
	}
	srv := health.NewServer(o.httpAddr, log)
	rep, err := replicate.New(cfg, log, srv.Registry())
	if err != nil {
		return err
	}
	ev := log.Info().Str("replica", redact.URL(o.replicaURL)).Str("amqp", redact.URL(o.amqpURL)).
		Str("replica_name", cfg.ReplicaName)
	if o.sourceURL != "" {
		ev = ev.Str("source", redact.URL(o.sourceURL))
	}
	ev.Msg("starting")
	return cli.Serve(ctx, "replicator", log, srv, rep)
}

// setup validates the flags into a Config and builds the logger they ask for.
func (o *options) setup(stderr io.Writer) (replicate.Config, zerolog.Logger, error) {
	cfg, err := o.config()
	if err != nil {
		return replicate.Config{}, zerolog.Nop(), err
	}
	log, err := o.log.Logger("replicator", stderr)
	return cfg, log, err
}

// declare creates the exchange, queues and bindings, then exits.
func declare(ctx context.Context, o *options, stderr io.Writer) error {
	cfg, log, err := o.setup(stderr)
	if err != nil {
		return err
	}
	if err := replicate.Declare(ctx, cfg, log); err != nil {
		return err
	}
	log.Info().Str("queue", cfg.Queue()).Str("dead_queue", cfg.DeadQueue()).Str("exchange", cfg.Exchange).
		Str("tables", o.tables).Msg("declared")
	return nil
}

// newCommand builds the command tree; each command parses its flags, then the environment.
func newCommand(stdout, stderr io.Writer) *ffcli.Command {
	o := &options{}
	// Help goes to stdout, so that `replicator --help | less` works.
	return cli.Command(&ffcli.Command{
		Name:       "replicator",
		ShortUsage: "replicator --replica-url URL --amqp-url URL [flags] | replicator <subcommand> [flags]",
		ShortHelp:  "Apply pgfanout change messages from a RabbitMQ queue to a replica PostgreSQL database.",
		FlagSet:    o.replicatorFlags("replicator", stdout),
		Exec:       func(ctx context.Context, _ []string) error { return serve(ctx, o, stderr) },
		Subcommands: []*ffcli.Command{
			cli.Command(&ffcli.Command{
				Name:       "declare",
				ShortUsage: "replicator declare --replica-url URL --amqp-url URL [flags]",
				ShortHelp:  "Declare the exchange, the replica's queue, its bindings and dead-letter queue, then exit.",
				FlagSet:    o.replicatorFlags("replicator declare", stdout),
				Exec:       func(ctx context.Context, _ []string) error { return declare(ctx, o, stderr) },
			}),
			cli.Command(&ffcli.Command{
				Name:       "resync",
				ShortUsage: "replicator resync --replica-url URL --amqp-url URL --source-url URL [--tables patterns] [flags]",
				ShortHelp:  "Copy the selected tables into the replica again, exactly, while the stream goes on; exit when done.",
				FlagSet:    o.replicatorFlags("replicator resync", stdout),
				Exec:       func(ctx context.Context, _ []string) error { return resync(ctx, o, stderr) },
			}),
			verifyCommand(stdout, stderr),
			replayCommand(stdout, stderr),
			statusCommand(stdout),
			cli.Healthcheck("replicator", defaultHTTPAddr, stdout),
		},
	})
}
