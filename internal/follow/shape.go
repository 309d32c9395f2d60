// Package follow keeps a replica table's shape in step with its source table (docs/schema.md):
// it creates a tracked table the replica lacks, and follows ADD, DROP and RENAME COLUMN, a
// column's type change, a dropped NOT NULL and new enum labels, all without superuser on the
// source: nothing is captured, the source catalog is read when a table's shape hash changes
// or when a batch of the table fails. What cannot be followed stops that table alone.
package follow

import (
	"fmt"
	"slices"

	"github.com/pgfanout/pgfanout/internal/schema"
)

// Shape is what the replica last knew of a source table, by column number: numbers survive a
// RENAME, which is how one is told from a DROP and an ADD.
type Shape struct {
	Columns []Column `json:"columns"`
	Key     []string `json:"key"`
}

// Column is a source column as a Shape records it.
type Column struct {
	Attnum  int    `json:"attnum"`
	Name    string `json:"name"`
	Type    string `json:"type"` // schema.TypeText: equal texts, equal types
	NotNull bool   `json:"not_null"`
}

// ShapeOf is the shape of a described source table.
func ShapeOf(t *schema.Table) Shape {
	s := Shape{Key: append([]string(nil), t.PrimaryKey...)}
	for _, c := range t.Columns {
		s.Columns = append(s.Columns, Column{Attnum: c.Attnum, Name: c.Name, Type: schema.TypeText(c), NotNull: c.NotNull})
	}
	return s
}

// Names is what the apply path needs to read row images captured under older shapes: old names
// of renamed columns (old → current) and names of dropped columns, which it ignores.
type Names struct {
	Aliases map[string]string `json:"aliases,omitempty"`
	Ignored []string          `json:"ignored,omitempty"`
}

// Plan is what following the source's current shape takes on the replica.
type Plan struct {
	Statements  []string // DDL, in order (after the types the table needs exist)
	Names       Names    // to record, for images of older shapes
	Shape       Shape    // to record
	Resync      bool     // the DDL cannot reproduce the source's values: copy the table again
	Unsupported string   // why the replica cannot follow; nothing is run
}

// Diff plans the replica's DDL from the shape it last recorded (nil: none yet), the names it
// recorded, the source table now, and the replica's column names.
func Diff(prev *Shape, names Names, src *schema.Table, replica []string) Plan {
	p := Plan{Shape: ShapeOf(src), Names: Names{Aliases: map[string]string{}}}
	for k, v := range names.Aliases {
		p.Names.Aliases[k] = v
	}
	have := map[string]bool{}
	for _, c := range replica {
		have[c] = true
	}
	if prev == nil {
		// First sight of the table: a replica made by hand, or one just created. Add what it
		// lacks; its other columns are its own business.
		for _, c := range src.Columns {
			if !have[c.Name] {
				p.add(src, c)
			}
		}
		p.Names.Ignored = keep(names.Ignored, src)
		return p
	}
	if !slices.Equal(prev.Key, src.PrimaryKey) {
		return Plan{Unsupported: fmt.Sprintf("the source's primary key changed from %v to %v", prev.Key, src.PrimaryKey)}
	}
	d := &differ{p: &p, src: src, have: have, ignored: names.Ignored}
	d.prev = map[int]Column{}
	for _, c := range prev.Columns {
		d.prev[c.Attnum] = c
	}
	d.cur = map[int]bool{}
	for _, c := range src.Columns {
		d.cur[c.Attnum] = true
	}
	d.renames()
	d.drops(prev)
	d.addsAndTypes()
	p.Names.Ignored = keep(d.ignored, src)
	return p
}

type differ struct {
	p       *Plan
	src     *schema.Table
	have    map[string]bool // replica columns, as the plan leaves them
	prev    map[int]Column  // by attnum
	cur     map[int]bool
	ignored []string
}

func (p *Plan) add(src *schema.Table, c schema.Column) {
	p.Statements = append(p.Statements, schema.AddColumn(src.Name, c))
	// A default that is not a constant gave the source's existing rows values of their own
	// (clock_timestamp(), a sequence): only a copy brings them.
	if c.OmittedDefault != "" {
		p.Resync = true
	}
}

// renames follows columns whose number stayed and whose name changed.
func (d *differ) renames() {
	for _, c := range d.src.Columns {
		old, ok := d.prev[c.Attnum]
		if !ok || old.Name == c.Name {
			continue
		}
		switch {
		case d.have[old.Name] && !d.have[c.Name]:
			d.p.Statements = append(d.p.Statements, schema.RenameColumn(d.src.Name, old.Name, c.Name))
			d.have[c.Name], d.have[old.Name] = true, false
		case !d.have[c.Name]:
			d.p.add(d.src, c) // the replica had dropped it: it comes back without its values
			d.have[c.Name] = true
			d.p.Resync = true
		}
		for from, to := range d.p.Names.Aliases { // a column renamed twice
			if to == old.Name {
				d.p.Names.Aliases[from] = c.Name
			}
		}
		d.p.Names.Aliases[old.Name] = c.Name
	}
}

// drops follows columns whose number is gone. A column of the same name may have come back
// with another number: its old values are then not the source's, and a copy brings them.
func (d *differ) drops(prev *Shape) {
	names := map[string]bool{}
	for _, c := range d.src.Columns {
		names[c.Name] = true
	}
	for _, old := range prev.Columns {
		if d.cur[old.Attnum] {
			continue
		}
		if names[old.Name] {
			d.p.Resync = true
			continue
		}
		if d.have[old.Name] {
			d.p.Statements = append(d.p.Statements, schema.DropColumn(d.src.Name, old.Name))
			d.have[old.Name] = false
		}
		d.ignored = append(d.ignored, old.Name)
		delete(d.p.Names.Aliases, old.Name)
		for from, to := range d.p.Names.Aliases {
			if to == old.Name {
				d.ignored = append(d.ignored, from)
				delete(d.p.Names.Aliases, from)
			}
		}
	}
}

// addsAndTypes follows new columns, type changes and dropped NOT NULLs.
func (d *differ) addsAndTypes() {
	for _, c := range d.src.Columns {
		old, known := d.prev[c.Attnum]
		switch {
		case !known && !d.have[c.Name]:
			d.p.add(d.src, c)
			d.have[c.Name] = true
		case !known:
			// The replica has a column of that name already (its own, or one of the source's
			// that was dropped and added again): give it the source's type.
			d.p.Statements = append(d.p.Statements, schema.AlterColumnType(d.src.Name, c))
		case old.Type != schema.TypeText(c):
			d.p.Statements = append(d.p.Statements, schema.AlterColumnType(d.src.Name, c))
		case old.NotNull && !c.NotNull:
			d.p.Statements = append(d.p.Statements, schema.DropNotNull(d.src.Name, c.Name))
		}
	}
}

// keep drops from ignored the names that are source columns again.
func keep(ignored []string, src *schema.Table) []string {
	var out []string
	for _, n := range ignored {
		live := false
		for _, c := range src.Columns {
			live = live || c.Name == n
		}
		if !live && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// Changed reports whether the plan alters the replica.
func (p *Plan) Changed() bool { return len(p.Statements) > 0 }
