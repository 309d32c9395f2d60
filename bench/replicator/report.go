package main

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"time"
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
		ds := byKey[key{r.system, r.phase}]
		sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
		order[i].elapsed = ds[len(ds)/2]
	}
	return order
}

// report prints the results as the Markdown table BENCHMARKS.md carries.
func report(w io.Writer, o *options, results []result, logicalNote string) {
	fmt.Fprintf(w, "\n%s, %d CPUs, %d rows of ~%d-byte JSON per phase, %d changes per message, --prefetch %d, median of %d\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), o.rows, o.rowBytes, o.perMessage, o.prefetch, o.repeat)
	fmt.Fprintln(w, "| system | phase | rows | seconds | rows/s |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range results {
		fmt.Fprintf(w, "| %s | %s | %d | %.2f | %.0f |\n", r.system, r.phase, r.rows, r.elapsed.Seconds(), r.rate())
	}
	if logicalNote != "" {
		fmt.Fprintf(w, "\nnative logical replication: %s\n", logicalNote)
	}
}
