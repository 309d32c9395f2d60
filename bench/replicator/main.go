// Command replicator benchmarks how fast replicator processes drain a pre-filled queue into one
// replica (rows/s for inserts, updates and deletes; 1 and 3 processes), and compares with
// PostgreSQL's native logical replication draining the same backlog on the same box.
//
// It reads PGFANOUT_TEST_PG_URL and PGFANOUT_TEST_AMQP_URL (make bench-replicator sets them).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	pgURL, amqpURL string
	rows           int
	rowBytes       int
	perMessage     int
	prefetch       int
	processes      []int
	workers        []int
	logical        bool
	replicator     bool
	repeat         int
	replicatorArgs []string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/replicator:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	o, err := parseFlags()
	if err != nil {
		return err
	}
	bin, cleanup, err := buildReplicator()
	if err != nil {
		return err
	}
	defer cleanup()
	var (
		results []result
		logical string
	)
	for i := 0; i < o.repeat; i++ {
		rs, note, err := runOnce(ctx, o, bin)
		if err != nil {
			return err
		}
		results, logical = append(results, rs...), note
	}
	printReport(os.Stdout, o, medians(results), logical)
	return nil
}

// runOnce runs every configuration once; the note says why logical replication has no figures.
func runOnce(ctx context.Context, o *options, bin string) ([]result, string, error) {
	var results []result
	workers := o.workers
	if !o.replicator {
		workers = nil
	}
	for _, w := range workers {
		for _, n := range o.processes {
			rs, err := benchReplicator(ctx, o, bin, n, w)
			if err != nil {
				return nil, "", fmt.Errorf("%d process(es) × %d workers: %w", n, w, err)
			}
			results = append(results, rs...)
		}
	}
	if !o.logical {
		return results, "skipped (--logical=false)", nil
	}
	rs, err := benchLogical(ctx, o)
	if err != nil {
		return results, "N/A: " + err.Error(), nil
	}
	return append(results, rs...), "", nil
}

func parseFlags() (*options, error) {
	o := &options{pgURL: os.Getenv("PGFANOUT_TEST_PG_URL"), amqpURL: os.Getenv("PGFANOUT_TEST_AMQP_URL")}
	procs := flag.String("processes", "1,3", "comma-separated replicator process counts to run")
	workers := flag.String("workers", "2,1", "comma-separated --workers values to run each process count with")
	extra := flag.String("replicator-args", "", "extra flags for every replicator process, space-separated")
	flag.IntVar(&o.rows, "rows", 200000, "rows inserted, then updated, then deleted per run")
	flag.IntVar(&o.rowBytes, "row-bytes", 300, "approximate size of a row's JSON image")
	flag.IntVar(&o.perMessage, "changes-per-message", 1000, "changes per message, as the publisher batches them")
	// With the default prefetch (200 messages) the first process to connect takes most of a
	// pre-filled backlog of a few hundred messages and the others idle; 50 messages is two
	// batches of 20,000 changes each.
	flag.IntVar(&o.prefetch, "prefetch", 50, "--prefetch of every replicator process")
	flag.BoolVar(&o.replicator, "replicator", true, "measure the replicator (false: native logical replication only)")
	flag.IntVar(&o.repeat, "repeat", 1, "run everything this many times and report the median of each figure")
	flag.BoolVar(&o.logical, "logical", true, "also measure native logical replication (starts a private PostgreSQL with wal_level=logical)")
	flag.Parse()
	if o.pgURL == "" || o.amqpURL == "" {
		return nil, fmt.Errorf("PGFANOUT_TEST_PG_URL and PGFANOUT_TEST_AMQP_URL must be set (make bench-replicator sets them)")
	}
	var err error
	if o.processes, err = counts("--processes", *procs); err != nil {
		return nil, err
	}
	if o.workers, err = counts("--workers", *workers); err != nil {
		return nil, err
	}
	o.replicatorArgs = strings.Fields(*extra)
	return o, nil
}

func counts(flagName, list string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s %q: want positive integers", flagName, list)
		}
		out = append(out, n)
	}
	return out, nil
}

// result is one timed drain.
type result struct {
	system  string // "replicator: N processes × W workers" or "logical replication"
	phase   string // insert, update, delete
	rows    int
	elapsed time.Duration
}

func (r result) rate() float64 { return float64(r.rows) / r.elapsed.Seconds() }
