package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The table BENCHMARKS.md quotes keeps its columns.
func TestPrintResults(t *testing.T) {
	var b strings.Builder
	printResults(&b, []result{
		{queues: 1, changes: 500000, capture: 5 * time.Second, drain: 2 * time.Second, messages: 500, bytes: 200e6, ceiling: 25000},
		{queues: 3, changes: 1000, capture: time.Second, drain: time.Second, messages: 1, bytes: 1e6},
	})
	require.Equal(t, ""+
		"| quorum queues | changes | capture (rows/s) | publisher drain (changes/s) | messages | row JSON MB/s | broker ceiling, 1 msg/change (msgs/s) | publisher / ceiling |\n"+
		"|---|---|---|---|---|---|---|---|\n"+
		"| 1 | 500000 | 100000 | **250000** | 500 | 100.0 | 25000 | 10.0× |\n"+
		"| 3 | 1000 | 1000 | **1000** | 1 | 1.0 | — | — |\n", b.String())
}
