// Command demo runs pgfanout end to end on this machine without Docker: a private source,
// two private replicas (empty databases) and a private RabbitMQ node, the publisher, two
// replicators sharing replica 1, a timed workload with live progress, replica 2 joining the
// live source half-way (its replicator declares its queue, creates the tables and copies
// their rows), then a check that both replicas equal the source. It stops everything it
// started, also on Ctrl-C.
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

func main() {
	duration := flag.Duration("duration", 20*time.Second, "how long the workload runs")
	clients := flag.Int("clients", 4, "concurrent workload connections")
	keep := flag.Bool("keep", false, "keep the temporary directory (logs) after the run")
	schemaFile := flag.String("schema", "deploy/demo/schema.sql", "demo schema, the same file docker compose loads on the source")
	flag.Parse()
	schema, err := os.ReadFile(*schemaFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo: run it from the repository root (make demo):", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = run(ctx, config{duration: *duration, clients: *clients, keep: *keep, schema: string(schema)})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "\ninterrupted: everything started was stopped")
			os.Exit(130)
		}
		fmt.Fprintln(os.Stderr, "\ndemo failed:", err)
		os.Exit(1)
	}
}
