package main

import (
	"flag"
	"io"
	"time"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/cli"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/replicate"
)

// Every flag --some-name can also be set as PGFANOUT_SOME_NAME (cli.EnvName).

const defaultHTTPAddr = "127.0.0.1:9188"

// options are the values of all commands' flags.
type options struct {
	replicaURL   string
	sourceURL    string
	copyWorkers  int
	createTables bool
	followDDL    bool
	amqp         cli.AMQP
	amqpURL      string // amqp's URL(), once config checked the flags
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
	horizon      time.Duration
	liveness     liveness.Settings
	log          cli.Log
}

// replicatorFlags are the flags of the replicator and of `replicator declare`.
func (o *options) replicatorFlags(name string, out io.Writer) *flag.FlagSet {
	fs := cli.NewFlagSet(name, out)
	fs.StringVar(&o.replicaURL, "replica-url", "", "replica PostgreSQL `URL` (postgres://user:password@host:5432/db)")
	o.amqp.Flags(fs)
	fs.StringVar(&o.sourceURL, "source-url", "", "source PostgreSQL `URL` (a read-only role): copy the tracked tables this replica has not copied; empty: no copy")
	fs.IntVar(&o.copyWorkers, "copy-workers", 2, "chunks copied at once (with --source-url)")
	fs.BoolVar(&o.createTables, "create-tables", true, "create tracked tables the replica lacks from the source's definition (with --source-url; docs/schema.md)")
	fs.BoolVar(&o.followDDL, "follow-ddl", true, "follow the source tables' shape changes: ADD/DROP/RENAME COLUMN, type changes, enum labels (with --source-url; docs/schema.md)")
	fs.StringVar(&o.replicaName, "replica-name", "", "`name` of this replica; its queue is pgfanout.<name> (default: from the replica URL's host, port and database)")
	fs.StringVar(&o.exchange, "exchange", "pgfanout", "`name` of the durable topic exchange the publisher writes to")
	fs.StringVar(&o.tables, "tables", "*.*", "comma-separated schema.table `patterns` to replicate; * matches a whole name, \"quote\" names with dots")
	cli.HTTPAddrFlag(fs, &o.httpAddr, defaultHTTPAddr)
	fs.IntVar(&o.batchSize, "batch-size", 100, "messages applied per transaction at most")
	fs.IntVar(&o.batchChanges, "batch-changes", 20000, "changes applied per transaction at most (a message is never split)")
	fs.DurationVar(&o.batchWait, "batch-wait", 0, "how long a batch waits to fill after its first message (0: batch naturally, applied as soon as a worker is free)")
	fs.IntVar(&o.prefetch, "prefetch", 200, "unacknowledged messages RabbitMQ may deliver ahead")
	fs.IntVar(&o.maxAttempts, "max-attempts", 5, "failures of a message on its own before it goes to the dead-letter queue")
	fs.IntVar(&o.workers, "workers", 2, "batches applied concurrently, each on its own replica connection")
	fs.DurationVar(&o.horizon, "bookkeeping-horizon", time.Minute, "prune the replica's bookkeeping below the source's low-water mark this long after it was seen; a change arriving later below it is stale and its table copied again (0: never prune)")
	cli.LivenessFlags(fs, &o.liveness)
	o.log.Flags(fs)
	return fs
}

// config checks the flags and turns them into the replicator's configuration.
func (o *options) config() (replicate.Config, error) {
	var err error
	if o.amqpURL, err = o.amqp.URL(); err != nil {
		return replicate.Config{}, err
	}
	switch {
	case o.replicaURL == "":
		return replicate.Config{}, cli.Required("replica-url")
	case o.amqpURL == "":
		return replicate.Config{}, cli.Required("amqp-url")
	case o.batchSize <= 0 || o.batchChanges <= 0 || o.prefetch <= 0 || o.maxAttempts <= 0 || o.batchWait < 0 || o.workers <= 0 || o.copyWorkers <= 0 || o.horizon < 0:
		return replicate.Config{}, cli.UsageError{Msg: "--batch-size, --batch-changes, --prefetch, --max-attempts, --workers and --copy-workers must be positive, --batch-wait and --bookkeeping-horizon not negative"}
	}
	tables, err := replicate.ParsePatterns(o.tables)
	if err != nil {
		return replicate.Config{}, cli.UsageError{Msg: "--tables: " + err.Error()}
	}
	name := o.replicaName
	if name == "" {
		if name, err = defaultReplicaName(o.replicaURL); err != nil {
			return replicate.Config{}, cli.UsageError{Msg: err.Error()}
		}
	}
	if err := o.liveness.Validate(); err != nil {
		return replicate.Config{}, cli.UsageError{Msg: err.Error()}
	}
	if _, err := apply.PoolConfig(o.replicaURL, o.liveness); err != nil {
		return replicate.Config{}, cli.UsageError{Msg: "--replica-url: " + err.Error()}
	}
	return replicate.Config{
		ReplicaURL: o.replicaURL, SourceURL: o.sourceURL, CopyWorkers: o.copyWorkers, AMQPURL: o.amqpURL, Exchange: o.exchange, ReplicaName: name, Tables: tables,
		BatchSize: o.batchSize, BatchChanges: o.batchChanges, BatchWait: o.batchWait,
		Prefetch: o.prefetch, MaxAttempts: o.maxAttempts, Workers: o.workers, Liveness: o.liveness,
		BookkeepingHorizon: o.horizon, CreateTables: o.createTables, FollowDDL: o.followDDL,
	}, nil
}
