// Command bootstrap measures how fast an empty replica gets a copy of a live table: pgfanout's
// copy (a replicator started with --source-url) beside `pg_dump --data-only | psql` and the
// initial copy of native logical replication (CREATE SUBSCRIPTION … copy_data = true), on the
// same table of ~300-byte rows, each on an idle source and while 4 writers insert, update and
// delete. It also times `replicator verify` on the copied table.
//
// Everything runs on private servers it starts itself (a wal_level=logical source cluster, a
// target cluster, a RabbitMQ node) with the publisher and replicator built from this
// checkout; the programs it runs stay in its process group, so ^C ends them with it.
// BENCH_SCALE (default 1: 1M rows) scales the table.
//
//	go run ./bench/bootstrap [-methods pgfanout,pg_dump,native] [-markdown BENCHMARKS.md]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var allMethods = []string{methodPgfanout, methodDump, methodNative}

const (
	methodPgfanout = "pgfanout"
	methodDump     = "pg_dump"
	methodNative   = "native"
)

// rows1 is the table's size at scale 1, from the issue; minRows the smallest scaled size.
const (
	rows1   = 1_000_000
	minRows = 10_000
)

type options struct {
	scale       float64
	methods     []string
	markdown    string
	writerRate  float64       // statements/s of the 4 writers together
	timeout     time.Duration // longest copy (or catch-up) of one run
	copyWorkers int           // the replicator's --copy-workers (0: its default)
	idleOnly    bool
	extraArgs   []string // more replicator flags
}

func (o options) rows() int { return max(minRows, int(math.Round(rows1*o.scale))) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/bootstrap:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	o := options{scale: 1}
	if s := os.Getenv("BENCH_SCALE"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 {
			return o, fmt.Errorf("BENCH_SCALE=%q: want a positive number", s)
		}
		o.scale = v
	}
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	fs.Float64Var(&o.scale, "scale", o.scale, "scale of the table (1: 1M rows; default $BENCH_SCALE, else 1)")
	methods := fs.String("methods", strings.Join(allMethods, ","), "comma list of methods to run, of "+strings.Join(allMethods, ","))
	fs.StringVar(&o.markdown, "markdown", "BENCHMARKS.md", "file whose bench/bootstrap section is rewritten (empty: none; only a run of every method writes it)")
	fs.Float64Var(&o.writerRate, "writer-rate", 400, "statements per second of the 4 writers together (inserts, updates, deletes)")
	fs.DurationVar(&o.timeout, "timeout", 0, "longest wait for one copy or catch-up (0: 2 min + 1 min per 100k rows)")
	fs.IntVar(&o.copyWorkers, "copy-workers", 0, "the replicator's --copy-workers (0: its default)")
	fs.BoolVar(&o.idleOnly, "idle-only", false, "skip the runs with writers")
	extra := fs.String("replicator-args", "", "more replicator flags, space-separated")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.scale <= 0 || o.writerRate <= 0 {
		return o, errors.New("-scale and -writer-rate must be positive")
	}
	if o.timeout == 0 {
		o.timeout = 2*time.Minute + time.Duration(o.rows()/100_000)*time.Minute
	}
	o.extraArgs = strings.Fields(*extra)
	for _, m := range strings.Split(*methods, ",") {
		m = strings.TrimSpace(m)
		if !slices.Contains(allMethods, m) {
			return o, fmt.Errorf("-methods: unknown method %q (have %s)", m, strings.Join(allMethods, ","))
		}
		if !slices.Contains(o.methods, m) {
			o.methods = append(o.methods, m)
		}
	}
	slices.SortFunc(o.methods, func(a, b string) int { return slices.Index(allMethods, a) - slices.Index(allMethods, b) })
	return o, nil
}

func run(ctx context.Context) error {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		return err
	}
	b := &bench{o: o, began: time.Now()}
	fmt.Printf("bench/bootstrap: scale %g (%d rows), methods %s; starting private servers\n", o.scale, o.rows(), strings.Join(o.methods, ","))
	if b.srv, err = startServers(ctx); err != nil {
		return err
	}
	defer b.srv.close()
	if b.env, err = describe(ctx, b.srv); err != nil {
		return err
	}
	runErr := b.runAll(ctx)
	b.elapsed = time.Since(b.began)
	rep := b.report()
	fmt.Print("\n" + rep)
	if runErr != nil {
		return runErr // a failed run leaves BENCHMARKS.md alone
	}
	full := len(o.methods) == len(allMethods) && !o.idleOnly && len(o.extraArgs) == 0 && o.copyWorkers == 0
	if o.markdown != "" && full {
		if err := section().ReplaceFile(o.markdown, rep); err != nil {
			return err
		}
		fmt.Printf("\nupdated the bench/bootstrap section of %s\n", o.markdown)
	}
	return nil
}
