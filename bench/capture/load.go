package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/bench/internal/workload"
)

// The benchmark's tables: inserts go to bench_rows, updates to bench_upd (preloaded with
// o.preload rows).
func insertTable() workload.Rows { return workload.Rows{Name: pgx.Identifier{"bench_rows"}} }
func updateTable() workload.Rows { return workload.Rows{Name: pgx.Identifier{"bench_upd"}} }

// sourceWrite is one kind of source write, issued in autocommit by every client.
type sourceWrite struct {
	name  string
	title string
	rows  int // rows changed per statement
	sql   string
	args  func(r *rand.Rand) []any
}

func allWrites(o options) []sourceWrite {
	return []sourceWrite{
		{
			name: "insert", title: "single-row INSERT", rows: 1, sql: insertTable().Insert(),
			args: func(r *rand.Rand) []any {
				return []any{r.IntN(1000), "12.34", "single-row insert from the capture benchmark"}
			},
		},
		{
			name: "update", title: "single-row UPDATE", rows: 1, sql: updateTable().Update(),
			args: func(r *rand.Rand) []any {
				return []any{1 + r.IntN(o.preload), "updated by the capture benchmark"}
			},
		},
		{
			name: "bulk", title: fmt.Sprintf("%d-row INSERT", o.bulkRows), rows: o.bulkRows, sql: insertTable().InsertSeries(),
			args: func(*rand.Rand) []any { return []any{1, o.bulkRows, "bulk row number "} },
		},
	}
}

func writeNames() string { return "insert,update,bulk" }

// selectWrites keeps the workloads named in the comma list (all when empty).
func selectWrites(o options) ([]sourceWrite, error) {
	all := allWrites(o)
	if o.workloads == "" {
		return all, nil
	}
	var out []sourceWrite
	for _, name := range strings.Split(o.workloads, ",") {
		found := false
		for _, w := range all {
			if w.name == strings.TrimSpace(name) {
				out, found = append(out, w), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown workload %q (want %s)", name, writeNames())
		}
	}
	return out, nil
}

// drive runs w from o.clients connections for o.duration and returns statements per second.
// Connections are opened before the clock starts.
func drive(ctx context.Context, dbURL string, w sourceWrite, o options) (float64, error) {
	r, err := workload.Clients{URL: dbURL, N: o.clients, Duration: o.duration}.Run(ctx,
		workload.Statement{Title: w.title, SQL: w.sql, Args: w.args})
	if err != nil {
		return 0, err
	}
	return r.PerSecond(), nil
}
