package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/pgfanout/pgfanout/internal/cli"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/replicate"
)

// replayOptions are the flags of `replicator replay-dead`, named as the replicator's own, so
// that it runs with the environment a replicator runs with.
type replayOptions struct {
	amqpURL     string
	replicaURL  string
	replicaName string
	tables      string
	limit       int
	liveness    liveness.Settings
	log         cli.Log
}

func (o *replayOptions) flags(out io.Writer) *flag.FlagSet {
	fs := cli.NewFlagSet("replicator replay-dead", out)
	fs.StringVar(&o.amqpURL, "amqp-url", "", "RabbitMQ `URL` (amqp://user:password@host:5672/vhost)")
	fs.StringVar(&o.replicaName, "replica-name", "", "`name` of the replica; its queues are pgfanout.<name> and pgfanout.<name>.dead (default: from --replica-url)")
	fs.StringVar(&o.replicaURL, "replica-url", "", "replica PostgreSQL `URL`, only to derive the default --replica-name (never connected to)")
	fs.StringVar(&o.tables, "table", "", "comma-separated schema.table `patterns`: move only dead letters of these tables (empty: all)")
	fs.IntVar(&o.limit, "limit", 0, "move at most this many dead letters (0: all)")
	cli.LivenessFlags(fs, &o.liveness)
	o.log.Flags(fs)
	return fs
}

// replayCommand is `replicator replay-dead`.
func replayCommand(stdout, stderr io.Writer) *ffcli.Command {
	o := &replayOptions{}
	return cli.Command(&ffcli.Command{
		Name:       "replay-dead",
		ShortUsage: "replicator replay-dead --amqp-url URL --replica-name NAME [--table patterns] [--limit N]",
		ShortHelp:  "Move the replica's dead letters back to its queue (each removed only after its copy is confirmed), once their cause is fixed; exit when done.",
		FlagSet:    o.flags(stdout),
		Exec:       func(ctx context.Context, _ []string) error { return replay(ctx, o, stdout, stderr) },
	})
}

func (o *replayOptions) config() (replicate.ReplayConfig, error) {
	if o.amqpURL == "" {
		return replicate.ReplayConfig{}, cli.Required("amqp-url")
	}
	name := o.replicaName
	if name == "" {
		if o.replicaURL == "" {
			return replicate.ReplayConfig{}, cli.UsageError{Msg: "--replica-name or --replica-url is required"}
		}
		var err error
		if name, err = defaultReplicaName(o.replicaURL); err != nil {
			return replicate.ReplayConfig{}, cli.UsageError{Msg: err.Error()}
		}
	}
	if o.limit < 0 {
		return replicate.ReplayConfig{}, cli.UsageError{Msg: "--limit must not be negative"}
	}
	var tables []replicate.Pattern
	if o.tables != "" {
		var err error
		if tables, err = replicate.ParsePatterns(o.tables); err != nil {
			return replicate.ReplayConfig{}, cli.UsageError{Msg: "--table: " + err.Error()}
		}
	}
	if err := o.liveness.Validate(); err != nil {
		return replicate.ReplayConfig{}, cli.UsageError{Msg: err.Error()}
	}
	return replicate.ReplayConfig{AMQPURL: o.amqpURL, ReplicaName: name, Tables: tables, Limit: o.limit,
		Liveness: o.liveness}, nil
}

func replay(ctx context.Context, o *replayOptions, stdout, stderr io.Writer) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	log, err := o.log.Logger("replicator", stderr)
	if err != nil {
		return err
	}
	res, err := replicate.Replay(ctx, cfg, log)
	fmt.Fprintf(stdout, "moved %d dead letters from pgfanout.%s.dead to pgfanout.%s", res.Moved, cfg.ReplicaName, cfg.ReplicaName)
	if res.Skipped > 0 {
		fmt.Fprintf(stdout, "; left %d of other tables", res.Skipped)
	}
	if res.Again > 0 {
		fmt.Fprintf(stdout, "; left %d that failed again during this replay", res.Again)
	}
	fmt.Fprintln(stdout)
	return err
}
