package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func testSummary() summary {
	o := options{duration: 5 * time.Second, clients: 4, rounds: 3, bulkRows: 1000}
	ws, vs := allWrites(o), allVariants()[:3]
	res := &results{workloads: []sourceWrite{ws[0], ws[2]}, variants: vs, cells: map[string]*cell{}}
	rates := map[string][]float64{
		"insert/untracked": {25000, 26000, 24000}, "insert/off": {14000, 14500, 13000}, "insert/wakeup": {9000, 9500, 9100},
		"bulk/untracked": {540, 550, 560}, "bulk/off": {400, 390, 410}, "bulk/wakeup": {300, 320, 310},
	}
	for k, r := range rates {
		res.cells[k] = &cell{rates: r}
	}
	return summary{opts: o, results: res, machine: "2 CPUs"}
}

// The generated section of BENCHMARKS.md keeps its shape: a paragraph, then the table.
func TestMarkdownShape(t *testing.T) {
	md := testSummary().markdown()
	intro, table, ok := strings.Cut(md, "\n\n")
	require.True(t, ok)
	require.Regexp(t, "^Measured [0-9]{4}-[0-9]{2}-[0-9]{2} with `go run ./bench/capture -duration 5s -clients 4 -rounds 3`: 2 CPUs\\. ", intro)
	require.Equal(t, ""+
		"| variant | single-row INSERT tx/s | ratio | 1000-row INSERT rows/s | ratio |\n"+
		"|---|---:|---:|---:|---:|\n"+
		"| no capture | 25000 | 1.00 | 550000 | 1.00 |\n"+
		"| tracked, notify=off, no consumer | 14000 | 0.56 | 400000 | 0.73 |\n"+
		"| tracked, notify=wakeup, no consumer (idle lock held: every commit notifies) | 9100 | 0.37 ✗ | 310000 | 0.56 ✗ |\n",
		table)
}

func TestTextShape(t *testing.T) {
	require.Equal(t, ""+
		"\n4 clients, 5s per cell, median of 3 round(s); 2 CPUs\n\n"+
		"variant          single-row INSERT tx/s   1000-row INSERT rows/s\n"+
		"untracked                25000 ( 1.00x)          550000 ( 1.00x)\n"+
		"off                      14000 ( 0.56x)          400000 ( 0.73x)\n"+
		"wakeup                    9100 ( 0.37x)          310000 ( 0.56x)\n\n"+
		"off            single-row INSERT 0.56x meets 0.50; 1000-row INSERT 0.73x meets 0.60\n"+
		"wakeup         single-row INSERT 0.37x MISSES 0.50; 1000-row INSERT 0.56x MISSES 0.60\n",
		testSummary().text())
}
