// Command capture measures what pgfanout's capture triggers cost the source database:
// throughput of single-row INSERTs, single-row UPDATEs and 1000-row INSERT statements from
// concurrent clients, untracked versus tracked in each notify mode, with and without a
// consumer draining the change log the way the publisher does (without RabbitMQ).
//
// It creates its own database on the server named by PGFANOUT_TEST_PG_URL and drops it at the
// end, prints a table of rates and ratios, and rewrites the capture section of BENCHMARKS.md.
//
//	go run ./bench/capture [-duration 5s] [-clients 4] [-rounds 1] [-markdown BENCHMARKS.md]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type options struct {
	url       string
	duration  time.Duration
	clients   int
	rounds    int
	bulkRows  int
	preload   int
	batch     int
	poll      time.Duration
	markdown  string
	workloads string
	variants  string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/capture:", err)
		os.Exit(1)
	}
}

func run() error {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	env, err := newEnv(ctx, o)
	if err != nil {
		return err
	}
	defer env.close()

	res, err := runMatrix(ctx, env, o)
	if err != nil {
		return err
	}
	rep := summary{opts: o, results: res, machine: env.machine}
	fmt.Print(rep.text())
	if o.markdown != "" {
		if err := rep.writeMarkdown(o.markdown); err != nil {
			return err
		}
		fmt.Printf("\nupdated the capture section of %s\n", o.markdown)
	}
	return nil
}

func parseFlags(args []string) (options, error) {
	o := options{url: os.Getenv("PGFANOUT_TEST_PG_URL")}
	fs := flag.NewFlagSet("capture", flag.ContinueOnError)
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per workload and variant")
	fs.IntVar(&o.clients, "clients", 4, "concurrent client connections")
	fs.IntVar(&o.rounds, "rounds", 1, "repeat the whole matrix and report medians")
	fs.IntVar(&o.bulkRows, "bulk-rows", 1000, "rows per INSERT statement in the bulk workload")
	fs.IntVar(&o.preload, "preload", 100000, "rows in the table the UPDATE workload updates")
	fs.IntVar(&o.batch, "batch", 10000, "changes the draining consumer fetches per round")
	fs.DurationVar(&o.poll, "poll", time.Second, "draining consumer's poll interval when idle")
	fs.StringVar(&o.markdown, "markdown", "BENCHMARKS.md", "file whose capture section is rewritten (empty: none)")
	fs.StringVar(&o.workloads, "workloads", "", "comma list of workloads to run (default all: "+writeNames()+")")
	fs.StringVar(&o.variants, "variants", "", "comma list of variants to run (default all: "+variantNames()+")")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.url == "":
		return o, errors.New("PGFANOUT_TEST_PG_URL is not set (a PostgreSQL admin URL; the benchmark creates and drops its own database)")
	case o.duration <= 0 || o.clients <= 0 || o.rounds <= 0 || o.bulkRows <= 0 || o.preload <= 0 || o.batch <= 0:
		return o, errors.New("-duration, -clients, -rounds, -bulk-rows, -preload and -batch must be positive")
	}
	return o, nil
}
