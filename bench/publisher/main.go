// Command publisher-bench measures the publisher's throughput: how fast it drains a change
// log of N captured changes (rows of about --row-bytes) into RabbitMQ quorum queues, next to
// the broker's own ceiling when every change travels as a message of its own.
//
// It uses the servers named by PGFANOUT_TEST_PG_URL and PGFANOUT_TEST_AMQP_URL (`make
// bench-publisher` starts private ones when they are unset) and removes what it creates.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pgfanout/pgfanout/bench/internal/report"
)

type options struct {
	pgURL, amqpURL string
	changes        int
	rowBytes       int
	stmtRows       int
	queues         []int
	ceiling        int
	batch          int
}

func main() {
	o, err := parseOptions(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "publisher-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	fmt.Printf("publisher benchmark: %d changes of ~%d-byte rows, captured %d rows per INSERT, batch %d; %s\n\n",
		o.changes, o.rowBytes, o.stmtRows, o.batch, time.Now().UTC().Format(time.RFC3339))
	var results []result
	for _, q := range o.queues {
		r, err := runScenario(ctx, o, q)
		if err != nil {
			fmt.Fprintf(os.Stderr, "publisher-bench: %d queue(s): %v\n", q, err)
			os.Exit(1)
		}
		results = append(results, r)
	}
	printResults(os.Stdout, results)
}

func parseOptions(args []string) (options, error) {
	o := options{pgURL: os.Getenv("PGFANOUT_TEST_PG_URL"), amqpURL: os.Getenv("PGFANOUT_TEST_AMQP_URL")}
	fs := flag.NewFlagSet("publisher-bench", flag.ContinueOnError)
	fs.IntVar(&o.changes, "changes", 500000, "changes in the change log to drain")
	fs.IntVar(&o.rowBytes, "row-bytes", 300, "approximate JSON size of a row")
	fs.IntVar(&o.stmtRows, "statement-rows", 1000, "rows per captured INSERT statement")
	fs.IntVar(&o.ceiling, "ceiling-messages", 200000, "messages of one change each for the broker ceiling (0: skip)")
	fs.IntVar(&o.batch, "batch-size", 10000, "publisher --batch-size")
	queues := fs.String("queues", "1,3", "comma list: number of quorum queues bound, one scenario each")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, s := range strings.Split(*queues, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return o, fmt.Errorf("--queues: %q is not a positive number", s)
		}
		o.queues = append(o.queues, n)
	}
	if o.pgURL == "" || o.amqpURL == "" {
		return o, fmt.Errorf("set PGFANOUT_TEST_PG_URL and PGFANOUT_TEST_AMQP_URL (or run `make bench-publisher`)")
	}
	return o, nil
}

func printResults(w io.Writer, results []result) {
	t := report.NewTable(report.Left("quorum queues"), report.Left("changes"), report.Left("capture (rows/s)"),
		report.Left("publisher drain (changes/s)"), report.Left("messages"), report.Left("row JSON MB/s"),
		report.Left("broker ceiling, 1 msg/change (msgs/s)"), report.Left("publisher / ceiling"))
	for _, r := range results {
		ratio, ceiling := "—", "—"
		if r.ceiling > 0 {
			ratio = fmt.Sprintf("%.1f×", r.drainRate()/r.ceiling)
			ceiling = fmt.Sprintf("%.0f", r.ceiling)
		}
		t.Add(fmt.Sprint(r.queues), fmt.Sprint(r.changes), fmt.Sprintf("%.0f", float64(r.changes)/r.capture.Seconds()),
			fmt.Sprintf("**%.0f**", r.drainRate()), fmt.Sprint(r.messages),
			fmt.Sprintf("%.1f", float64(r.bytes)/r.drain.Seconds()/1e6), ceiling, ratio)
	}
	fmt.Fprint(w, t)
}
