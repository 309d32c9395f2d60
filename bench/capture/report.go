package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/pgfanout/pgfanout/bench/internal/report"
)

// Targets from the capture issue: tracked throughput as a fraction of untracked.
const (
	targetSingle = 0.50
	targetBulk   = 0.60
)

// section is the generated part of BENCHMARKS.md; the text around it is kept.
func section() report.Section {
	return report.Section{Name: "bench/capture", Heading: "## Capture: source write cost"}
}

// summary is the console and Markdown report of a run.
type summary struct {
	opts    options
	results *results
	machine string
}

// rate is statements/s for single-row workloads and rows/s for multi-row ones.
func (r summary) rate(w sourceWrite, v variant) float64 {
	return r.results.at(w, v).median() * float64(w.rows)
}

// ratio is the median over rounds of the variant's rate divided by the same round's
// untracked rate: pairing within a round cancels most of a shared machine's drift.
func (r summary) ratio(w sourceWrite, v variant) float64 {
	base, c := r.results.at(w, r.results.variants[0]), r.results.at(w, v)
	ratios := make([]float64, len(c.rates))
	for i := range c.rates {
		ratios[i] = c.rates[i] / base.rates[i]
	}
	return report.Median(ratios)
}

func unit(w sourceWrite) string {
	if w.rows == 1 {
		return "tx/s"
	}
	return "rows/s"
}

func (r summary) target(w sourceWrite) float64 {
	if w.rows == 1 {
		return targetSingle
	}
	return targetBulk
}

func (r summary) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d clients, %v per cell, median of %d round(s); %s\n\n", r.opts.clients, r.opts.duration, r.opts.rounds, r.machine)
	fmt.Fprintf(&b, "%-14s", "variant")
	for _, w := range r.results.workloads {
		fmt.Fprintf(&b, " %24s", w.title+" "+unit(w))
	}
	b.WriteString("\n")
	for _, v := range r.results.variants {
		fmt.Fprintf(&b, "%-14s", v.name)
		for _, w := range r.results.workloads {
			fmt.Fprintf(&b, " %15.0f (%5.2fx)", r.rate(w, v), r.ratio(w, v))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, v := range r.results.variants[1:] {
		fmt.Fprintf(&b, "%-14s %s\n", v.name, r.verdict(v))
	}
	return b.String()
}

// verdict compares a variant with the targets and tells what its consumer saw.
func (r summary) verdict(v variant) string {
	var parts []string
	for _, w := range r.results.workloads {
		mark := "meets"
		if r.ratio(w, v) < r.target(w) {
			mark = "MISSES"
		}
		s := fmt.Sprintf("%s %.2fx %s %.2f", w.title, r.ratio(w, v), mark, r.target(w))
		if c := r.results.at(w, v); v.drain {
			s += fmt.Sprintf(" [consumer: %d notifications, %d changes left]", c.notifies, c.left)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func (r summary) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s with `go run ./bench/capture -duration %v -clients %d -rounds %d`: %s. "+
		"Rates are medians over the rounds of one %v run each; a ratio is the median over the rounds of the "+
		"variant's rate divided by the same round's untracked rate (the untracked run opens and closes each "+
		"round, averaged), in rows/s for the %d-row statement and transactions/s otherwise. "+
		"Targets: tracked single-row ≥ %.2f, %d-row statement ≥ %.2f.\n\n",
		time.Now().UTC().Format("2006-01-02"), r.opts.duration, r.opts.clients, r.opts.rounds, r.machine,
		r.opts.duration, r.opts.bulkRows, targetSingle, r.opts.bulkRows, targetBulk)
	cols := []report.Column{report.Left("variant")}
	for _, w := range r.results.workloads {
		cols = append(cols, report.Right(w.title+" "+unit(w)), report.Right("ratio"))
	}
	t := report.NewTable(cols...)
	for _, v := range r.results.variants {
		cells := []string{v.title}
		for _, w := range r.results.workloads {
			cells = append(cells, fmt.Sprintf("%.0f", r.rate(w, v)), r.ratioCell(w, v))
		}
		t.Add(cells...)
	}
	b.WriteString(t.String())
	return b.String()
}

func (r summary) ratioCell(w sourceWrite, v variant) string {
	s := fmt.Sprintf("%.2f", r.ratio(w, v))
	if v.tracked && r.ratio(w, v) < r.target(w) {
		s += " ✗"
	}
	return s
}

// writeMarkdown replaces the generated block of path, creating the file or the capture
// section when missing.
func (r summary) writeMarkdown(path string) error {
	return section().ReplaceFile(path, r.markdown())
}
