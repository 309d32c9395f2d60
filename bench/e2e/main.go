// Command e2e measures pgfanout end to end beside PostgreSQL's native logical replication,
// phase by phase in one run (pgfanout first, then native, for each phase), on private
// servers it starts itself: for each system a source and a replica cluster, and for
// pgfanout a RabbitMQ node, with the publisher and replicators built from this checkout.
//
// Phases (-phases): changes (load, updates, key moves, deletes), latency, fanout (1 vs 3
// replicas, 1 vs 3 replicator processes), backlog (drain after a pause), tpcb (pgbench's
// TPC-B-like script against an untracked baseline). CPU per process and the footprint are
// reported for whatever ran. BENCH_SCALE (default 1) scales row counts and durations.
//
//	go run ./bench/e2e [-phases changes,latency] [-markdown BENCHMARKS.md]
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

var allPhases = []string{"changes", "latency", "fanout", "backlog", "tpcb"}

type options struct {
	scale    float64
	phases   []string
	markdown string
	timeout  time.Duration // 0: 3 min + 5 × the run's writes
}

func (o options) has(phase string) bool { return slices.Contains(o.phases, phase) }

// n scales a count, never below min.
func (o options) n(base, min int) int { return max(min, int(math.Round(float64(base)*o.scale))) }

func (o options) d(base time.Duration) time.Duration {
	return time.Duration(float64(base) * o.scale).Round(time.Millisecond)
}

func (o options) convergeTimeout(writes time.Duration) time.Duration {
	if o.timeout > 0 {
		return o.timeout
	}
	// Generous: a replica's first minute can be slow (BENCHMARKS.md says why), and a
	// failure here throws away the whole run.
	return 3*time.Minute + 5*writes
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/e2e:", err)
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
	fs := flag.NewFlagSet("e2e", flag.ContinueOnError)
	fs.Float64Var(&o.scale, "scale", o.scale, "scale of row counts and durations (default $BENCH_SCALE, else 1)")
	phases := fs.String("phases", strings.Join(allPhases, ","), "comma list of phases to run, of "+strings.Join(allPhases, ","))
	fs.StringVar(&o.markdown, "markdown", "BENCHMARKS.md", "file whose bench/e2e section is rewritten (empty: none)")
	fs.DurationVar(&o.timeout, "converge-timeout", 0, "longest wait for a replica to equal the source (0: 3 min + 5 × the run's writes)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.scale <= 0 {
		return o, errors.New("-scale must be positive")
	}
	for _, p := range strings.Split(*phases, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(allPhases, p) {
			return o, fmt.Errorf("-phases: unknown phase %q (have %s)", p, strings.Join(allPhases, ","))
		}
		if !slices.Contains(o.phases, p) {
			o.phases = append(o.phases, p)
		}
	}
	// Always in the documented order, whatever the flag's.
	slices.SortFunc(o.phases, func(a, b string) int { return slices.Index(allPhases, a) - slices.Index(allPhases, b) })
	return o, nil
}

func run(ctx context.Context) error {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		return err
	}
	b := &bench{o: o, began: time.Now()}
	fmt.Printf("bench/e2e: scale %g, phases %s; starting private servers\n", o.scale, strings.Join(o.phases, ","))
	if b.srv, err = startServers(ctx); err != nil {
		return err
	}
	defer b.srv.close()
	if b.env, err = describe(ctx, b.srv); err != nil {
		return err
	}
	runErr := b.runPhases(ctx)
	b.elapsed = time.Since(b.began)
	rep := b.report()
	fmt.Print("\n" + rep)
	if runErr != nil {
		return runErr // a failed run leaves BENCHMARKS.md alone
	}
	if o.markdown != "" {
		if err := section().ReplaceFile(o.markdown, rep); err != nil {
			return err
		}
		fmt.Printf("\nupdated the bench/e2e section of %s\n", o.markdown)
	}
	return nil
}
