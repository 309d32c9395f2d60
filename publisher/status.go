package main

import (
	"context"
	"flag"
	"io"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/pgfanout/pgfanout/internal/cli"
	"github.com/pgfanout/pgfanout/internal/health"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/status"
)

// statusOptions are the flags of `publisher status`.
type statusOptions struct {
	sourceURL string
	amqpURL   string
	replicas  string
	json      bool
	listen    string
	liveness  liveness.Settings
	log       cli.Log
}

func (o *statusOptions) flags(out io.Writer) *flag.FlagSet {
	fs := cli.NewFlagSet("publisher status", out)
	fs.StringVar(&o.sourceURL, "source-url", "", "source PostgreSQL `URL` (a role that may read pgfanout.leader and pgfanout.backlog: the publisher's will do)")
	fs.StringVar(&o.amqpURL, "amqp-url", "", "RabbitMQ `URL`, for each replica's queue and dead letters (empty: not shown)")
	fs.StringVar(&o.replicas, "replicas", "", "comma-separated `name[=URL]` of the replicas to show: the queue pgfanout.<name>, and with the replica's URL its copy progress")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON, for scripts")
	fs.StringVar(&o.listen, "listen", "", "serve the figures as Prometheus gauges (pgfanout_status_*) on `ADDR`/metrics, read at each scrape, until stopped; empty: print once and exit")
	cli.LivenessFlags(fs, &o.liveness)
	o.log.Flags(fs)
	return fs
}

// statusCommand is `publisher status`.
func statusCommand(stdout, stderr io.Writer) *ffcli.Command {
	o := &statusOptions{}
	return cli.Command(&ffcli.Command{
		Name:       "status",
		ShortUsage: "publisher status --source-url URL [--amqp-url URL] [--replicas name[=URL],...] [--json | --listen ADDR]",
		ShortHelp:  "Show the active publisher, the change log, and each replica's queue, dead letters and copy progress, read from the databases and RabbitMQ; exit 1 if a part could not be read.",
		FlagSet:    o.flags(stdout),
		Exec:       func(ctx context.Context, _ []string) error { return runStatus(ctx, o, stdout, stderr) },
	})
}

func (o *statusOptions) config() (status.Config, error) {
	if o.sourceURL == "" {
		return status.Config{}, cli.Required("source-url")
	}
	replicas, err := status.ParseReplicas(o.replicas)
	if err != nil {
		return status.Config{}, cli.UsageError{Msg: "--replicas: " + err.Error()}
	}
	if err := o.liveness.Validate(); err != nil {
		return status.Config{}, cli.UsageError{Msg: err.Error()}
	}
	return status.Config{SourceURL: o.sourceURL, AMQPURL: o.amqpURL, Replicas: replicas, Liveness: o.liveness}, nil
}

func runStatus(ctx context.Context, o *statusOptions, stdout, stderr io.Writer) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	log, err := o.log.Logger("publisher", stderr)
	if err != nil {
		return err
	}
	if o.listen != "" {
		srv := health.NewServer(o.listen, log)
		exp, err := status.NewExporter(cfg, log, srv.Registry())
		if err != nil {
			return err
		}
		log.Info().Int("replicas", len(cfg.Replicas)).Msg("serving status gauges")
		return cli.Serve(ctx, "publisher status", log, srv, exp)
	}
	return status.Print(ctx, cfg, o.json, stdout)
}
