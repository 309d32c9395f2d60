package main

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/pgfanout/pgfanout/bench/internal/report"
)

// medians folds repeated runs into one result per (system, phase), keeping first-seen order.
func medians(results []result) []result {
	type key struct{ system, phase string }
	byKey := map[key][]time.Duration{}
	var order []result
	for _, r := range results {
		k := key{r.system, r.phase}
		if _, seen := byKey[k]; !seen {
			order = append(order, r)
		}
		byKey[k] = append(byKey[k], r.elapsed)
	}
	for i, r := range order {
		order[i].elapsed = report.Median(byKey[key{r.system, r.phase}])
	}
	return order
}

// printReport prints the results as the Markdown table BENCHMARKS.md carries.
func printReport(w io.Writer, o *options, results []result, logicalNote string) {
	fmt.Fprintf(w, "\n%s, %d CPUs, %d rows of ~%d-byte JSON per phase, %d changes per message, --prefetch %d, median of %d\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), o.rows, o.rowBytes, o.perMessage, o.prefetch, o.repeat)
	t := report.NewTable(report.Left("system"), report.Left("phase"), report.Left("rows"), report.Left("seconds"), report.Left("rows/s"))
	for _, r := range results {
		t.Add(r.system, r.phase, fmt.Sprint(r.rows), fmt.Sprintf("%.2f", r.elapsed.Seconds()), fmt.Sprintf("%.0f", r.rate()))
	}
	fmt.Fprint(w, t)
	if logicalNote != "" {
		fmt.Fprintf(w, "\nnative logical replication: %s\n", logicalNote)
	}
}
