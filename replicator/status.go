package main

import (
	"context"
	"flag"
	"io"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/pgfanout/pgfanout/internal/cli"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/status"
)

// statusOptions are the flags of `replicator status`, named as the replicator's own, so that
// it runs with the environment a replicator runs with.
type statusOptions struct {
	replicaURL  string
	amqpURL     string
	replicaName string
	sourceURL   string
	json        bool
	liveness    liveness.Settings
}

func (o *statusOptions) flags(out io.Writer) *flag.FlagSet {
	fs := cli.NewFlagSet("replicator status", out)
	fs.StringVar(&o.replicaURL, "replica-url", "", "replica PostgreSQL `URL`, for its copy progress")
	fs.StringVar(&o.amqpURL, "amqp-url", "", "RabbitMQ `URL`, for the replica's queue and dead letters (empty: not shown)")
	fs.StringVar(&o.replicaName, "replica-name", "", "`name` of the replica; its queue is pgfanout.<name> (default: from the replica URL's host, port and database)")
	fs.StringVar(&o.sourceURL, "source-url", "", "source PostgreSQL `URL`, for the active publisher and the change log (a role that may read pgfanout.leader and pgfanout.backlog; empty: not shown)")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON, for scripts")
	cli.LivenessFlags(fs, &o.liveness)
	return fs
}

// statusCommand is `replicator status`.
func statusCommand(stdout io.Writer) *ffcli.Command {
	o := &statusOptions{}
	return cli.Command(&ffcli.Command{
		Name:       "status",
		ShortUsage: "replicator status --replica-url URL [--amqp-url URL] [--replica-name NAME] [--source-url URL] [--json]",
		ShortHelp:  "Show the replica's queue, dead letters and copy progress, and the active publisher and change log, read from the databases and RabbitMQ; exit 1 if a part could not be read.",
		FlagSet:    o.flags(stdout),
		Exec:       func(ctx context.Context, _ []string) error { return runStatus(ctx, o, stdout) },
	})
}

func (o *statusOptions) config() (status.Config, error) {
	if o.replicaURL == "" {
		return status.Config{}, cli.Required("replica-url")
	}
	name := o.replicaName
	if name == "" {
		var err error
		if name, err = defaultReplicaName(o.replicaURL); err != nil {
			return status.Config{}, cli.UsageError{Msg: err.Error()}
		}
	}
	if err := o.liveness.Validate(); err != nil {
		return status.Config{}, cli.UsageError{Msg: err.Error()}
	}
	return status.Config{SourceURL: o.sourceURL, AMQPURL: o.amqpURL,
		Replicas: []status.Replica{{Name: name, URL: o.replicaURL}}, Liveness: o.liveness}, nil
}

func runStatus(ctx context.Context, o *statusOptions, stdout io.Writer) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	return status.Print(ctx, cfg, o.json, stdout)
}
