// Command publisher forwards pgfanout's change log from the source PostgreSQL database to a
// RabbitMQ topic exchange. See docs/publisher.md.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/pgfanout/pgfanout/internal/cli"
	"github.com/pgfanout/pgfanout/internal/health"
	"github.com/pgfanout/pgfanout/internal/migrate"
	"github.com/pgfanout/pgfanout/internal/publish"
	"github.com/pgfanout/pgfanout/internal/redact"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit status: 0, 1 on failure, 2 on bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Run(ctx, "publisher", newCommand(stdout, stderr), args, stderr)
}

// serve runs the publisher and its HTTP endpoint until ctx ends.
func serve(ctx context.Context, o *options, stderr io.Writer) error {
	if err := o.require(); err != nil {
		return err
	}
	log, err := o.log.Logger("publisher", stderr)
	if err != nil {
		return err
	}
	srv := health.NewServer(o.httpAddr, log)
	pub, err := publish.New(publish.Config{
		SourceURL:       o.sourceURL,
		AMQPURL:         o.amqpURL,
		Exchange:        o.exchange,
		BatchSize:       o.batchSize,
		PollInterval:    o.pollInterval,
		LeaderLease:     o.leaderLease,
		ProgressTimeout: o.progressTimeout,
		Liveness:        o.liveness,
	}, log, srv.Registry())
	if err != nil {
		return err
	}
	return cli.Serve(ctx, "publisher", log, srv, pub)
}

// migrateSource applies the capture migrations to the source database.
func migrateSource(ctx context.Context, o *options, stderr io.Writer) error {
	if o.sourceURL == "" {
		return cli.Required("source-url")
	}
	log, err := o.log.Logger("publisher", stderr)
	if err != nil {
		return err
	}
	log.Info().Str("source", redact.URL(o.sourceURL)).Msg("applying migrations")
	if err := migrate.Up(ctx, o.sourceURL, log); err != nil {
		return err
	}
	log.Info().Msg("migrations applied")
	return nil
}

// newCommand builds the command tree; each command parses its flags, then the environment.
func newCommand(stdout, stderr io.Writer) *ffcli.Command {
	o := &options{}
	// Help goes to stdout, so that `publisher --help | less` works.
	return cli.Command(&ffcli.Command{
		Name:       "publisher",
		ShortUsage: "publisher --source-url URL --amqp-url URL [flags] | publisher <subcommand> [flags]",
		ShortHelp:  "Forward pgfanout's change log from PostgreSQL to a RabbitMQ topic exchange.",
		FlagSet:    o.rootFlags(stdout),
		Exec:       func(ctx context.Context, _ []string) error { return serve(ctx, o, stderr) },
		Subcommands: []*ffcli.Command{
			cli.Command(&ffcli.Command{
				Name:       "migrate",
				ShortUsage: "publisher migrate --source-url URL",
				ShortHelp:  "Install or upgrade the capture schema (pgfanout) in the source database, then exit.",
				FlagSet:    o.migrateFlags(stdout),
				Exec:       func(ctx context.Context, _ []string) error { return migrateSource(ctx, o, stderr) },
			}),
			statusCommand(stdout, stderr),
			cli.Healthcheck("publisher", defaultHTTPAddr, stdout),
		},
	})
}
