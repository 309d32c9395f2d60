package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMedians(t *testing.T) {
	r := func(system, phase string, s int) result {
		return result{system: system, phase: phase, rows: 1000, elapsed: time.Duration(s) * time.Second}
	}
	got := medians([]result{r("a", "insert", 3), r("a", "update", 1), r("a", "insert", 1), r("b", "insert", 9), r("a", "insert", 2)})
	require.Equal(t, []result{r("a", "insert", 2), r("a", "update", 1), r("b", "insert", 9)}, got)
}

// The table BENCHMARKS.md is built from keeps its columns.
func TestPrintReport(t *testing.T) {
	var b strings.Builder
	o := &options{rows: 1000, rowBytes: 300, perMessage: 100, prefetch: 50, repeat: 1}
	printReport(&b, o, []result{{system: "logical replication", phase: "insert", rows: 1000, elapsed: 2 * time.Second}}, "skipped (--logical=false)")
	_, table, ok := strings.Cut(b.String(), "median of 1\n\n")
	require.True(t, ok, b.String())
	require.Equal(t, ""+
		"| system | phase | rows | seconds | rows/s |\n"+
		"|---|---|---|---|---|\n"+
		"| logical replication | insert | 1000 | 2.00 | 500 |\n"+
		"\nnative logical replication: skipped (--logical=false)\n", table)
}
