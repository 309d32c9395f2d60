package verify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Status says whether a table was compared, or why not.
type Status string

const (
	Compared     Status = "compared"     // rows compared: see Found (and Repair)
	Missing      Status = "missing"      // the replica has no such table
	Incompatible Status = "incompatible" // a source column or the primary key is not the replica's
	Incomplete   Status = "incomplete"   // the replica's copy of it failed or is not finished
)

// Kind is how a row differs.
type Kind string

const (
	KindChanged Kind = "changed" // both have the key, with different values
	KindMissing Kind = "missing" // only the source has it
	KindExtra   Kind = "extra"   // only the replica has it
)

// Diff is one differing key: a JSON object of the key columns; in a table without a primary
// key, a row image (the text of its row) with the copies by which the counts differ.
type Diff struct {
	Kind Kind
	Key  string
	Rows int64
}

// Differences are the rows that differ, by kind, and the first of them.
type Differences struct {
	Changed, Missing, Extra int64
	Diffs                   []Diff // the first MaxKeys
}

// Rows is how many rows differ.
func (d Differences) Rows() int64 { return d.Changed + d.Missing + d.Extra }

// Repair is what --repair did to a table.
type Repair struct {
	Skipped  string // why it was not repaired; then nothing else is set
	Chunks   int    // ranges copied again
	Rows     int64  // rows they held on the source
	Left     Differences
	InFlight int64 // rows in flight when the repaired ranges were verified again
}

// TableReport is one table's result.
type TableReport struct {
	Schema, Table string
	Status        Status
	Reason        string // why it was not compared
	Keyless       bool
	KeyColumns    int
	Rows          int64 // the source's rows compared
	Chunks        int
	Found         Differences
	InFlight      int64   // rows that differed at first and were equal at a re-check
	Repair        *Repair // nil without --repair, or with nothing to repair
}

// Name is the table's quoted, schema-qualified name.
func (t TableReport) Name() string { return pgx.Identifier{t.Schema, t.Table}.Sanitize() }

// Equal reports whether the table was compared and is equal (after a repair, if any).
func (t TableReport) Equal() bool {
	if t.Status != Compared {
		return false
	}
	if t.Repair != nil && t.Repair.Skipped == "" {
		return t.Repair.Left.Rows() == 0
	}
	return t.Found.Rows() == 0
}

// Line is the table's line of `replicator verify`'s output.
func (t TableReport) Line() string {
	name := t.Schema + "." + t.Table
	if t.Status != Compared {
		return name + ": " + t.Reason
	}
	var b strings.Builder
	if t.Keyless {
		fmt.Fprintf(&b, "%s: %d rows (no primary key: compared as a whole): ", name, t.Rows)
	} else {
		fmt.Fprintf(&b, "%s: %d rows in %d %s: ", name, t.Rows, t.Chunks, plural(int64(t.Chunks), "chunk", "chunks"))
	}
	b.WriteString(t.describe(t.Found, t.InFlight))
	if r := t.Repair; r != nil {
		if r.Skipped != "" {
			b.WriteString("; not repaired: " + r.Skipped)
		} else {
			fmt.Fprintf(&b, "; repaired %d %s (%d rows copied again): %s", r.Chunks, plural(int64(r.Chunks), "chunk", "chunks"),
				r.Rows, t.describe(r.Left, r.InFlight))
		}
	}
	return b.String()
}

// describe says "equal" or what differs.
func (t TableReport) describe(d Differences, inFlight int64) string {
	if d.Rows() == 0 {
		if inFlight > 0 {
			return fmt.Sprintf("equal (%d %s in flight)", inFlight, plural(inFlight, "row was", "rows were"))
		}
		return "equal"
	}
	what := "rows differ"
	if d.Rows() == 1 {
		what = "row differs"
	}
	if t.Keyless {
		what = strings.Replace(what, "row", "row image", 1)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", d.Rows(), what)
	var listed int64
	for _, x := range d.Diffs {
		listed += x.Rows
	}
	if listed < d.Rows() {
		var kinds []string
		for _, k := range []struct {
			n    int64
			kind Kind
		}{{d.Changed, KindChanged}, {d.Missing, KindMissing}, {d.Extra, KindExtra}} {
			if k.n > 0 {
				kinds = append(kinds, fmt.Sprintf("%d %s", k.n, k.kind))
			}
		}
		b.WriteString(": " + strings.Join(kinds, ", "))
	}
	if len(d.Diffs) > 0 {
		items := make([]string, 0, len(d.Diffs)+1)
		for _, x := range d.Diffs {
			items = append(items, t.item(x))
		}
		if listed < d.Rows() {
			items = append(items, fmt.Sprintf("and %d more", d.Rows()-listed))
		}
		b.WriteString(" (" + strings.Join(items, ", ") + ")")
	}
	if inFlight > 0 {
		fmt.Fprintf(&b, "; %d more %s in flight", inFlight, plural(inFlight, "was", "were"))
	}
	return b.String()
}

// item shows one differing key: its value for a one-column key, else the JSON object; a row
// image with its copies when more than one.
func (t TableReport) item(d Diff) string {
	key := d.Key
	if t.Keyless {
		if d.Rows > 1 {
			return fmt.Sprintf("%s %d × %s", d.Kind, d.Rows, key)
		}
		return fmt.Sprintf("%s %s", d.Kind, key)
	}
	if t.KeyColumns == 1 {
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(key), &m) == nil && len(m) == 1 {
			for _, v := range m {
				key = string(v)
			}
		}
	}
	return fmt.Sprintf("%s %s", d.Kind, key)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Report is the result of a run.
type Report struct {
	Tables []TableReport
	// Comparing is the time the ranges took to compare (hashes, and rows where they differ);
	// Elapsed the whole run's, re-checks and repairs included.
	Comparing, Elapsed time.Duration
}

// Equal reports whether every table was compared and is equal.
func (r *Report) Equal() bool {
	for i := range r.Tables {
		if !r.Tables[i].Equal() {
			return false
		}
	}
	return true
}

// Summary is the last line of `replicator verify`'s output.
func (r *Report) Summary() string {
	var rows int64
	chunks, equal, repaired := 0, 0, 0
	for i := range r.Tables {
		t := &r.Tables[i]
		rows += t.Rows
		chunks += t.Chunks
		if t.Equal() {
			equal++
		}
		if t.Repair != nil && t.Repair.Chunks > 0 {
			repaired++
		}
	}
	s := fmt.Sprintf("verify: %d %s, %d rows in %d chunks: %d equal, %d not", len(r.Tables), plural(int64(len(r.Tables)), "table", "tables"),
		rows, chunks, equal, len(r.Tables)-equal)
	if repaired > 0 {
		s += fmt.Sprintf(", %d repaired", repaired)
	}
	return s + fmt.Sprintf("; compared in %s (%.0f rows/s), %s in all", r.Comparing.Round(time.Millisecond),
		float64(rows)/max(r.Comparing.Seconds(), 1e-3), r.Elapsed.Round(time.Millisecond))
}
