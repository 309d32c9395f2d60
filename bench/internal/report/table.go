// Package report writes what the benchmarks print: Markdown tables, the generated sections
// of BENCHMARKS.md, and medians of repeated runs.
package report

import (
	"cmp"
	"slices"
	"strings"
)

// Column is a table column: its title and whether its cells are right-aligned (numbers).
type Column struct {
	Title string
	Right bool
}

// Left is a left-aligned column (the Markdown default).
func Left(title string) Column { return Column{Title: title} }

// Right is a right-aligned column, for figures.
func Right(title string) Column { return Column{Title: title, Right: true} }

// Table is a Markdown table built row by row. Cells are written as given: formatting, bold
// and units are the caller's.
type Table struct {
	cols []Column
	rows [][]string
}

// NewTable starts a table with these columns.
func NewTable(cols ...Column) *Table { return &Table{cols: cols} }

// Add appends a row; a short row is padded with empty cells, a long one is kept whole.
func (t *Table) Add(cells ...string) {
	for len(cells) < len(t.cols) {
		cells = append(cells, "")
	}
	t.rows = append(t.rows, cells)
}

// String is the table in Markdown, one line per row, each line ending in a newline:
//
//	| a | b |
//	|---|---:|
//	| x | 1 |
func (t *Table) String() string {
	var b strings.Builder
	titles := make([]string, len(t.cols))
	for i, c := range t.cols {
		titles[i] = c.Title
	}
	line(&b, titles)
	b.WriteString("|")
	for _, c := range t.cols {
		if c.Right {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		line(&b, r)
	}
	return b.String()
}

func line(b *strings.Builder, cells []string) {
	b.WriteString("| ")
	b.WriteString(strings.Join(cells, " | "))
	b.WriteString(" |\n")
}

// Median is the middle of xs, the upper one of the two for an even count (as every benchmark
// has reported it); xs is not modified. It panics on an empty xs.
func Median[T cmp.Ordered](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
