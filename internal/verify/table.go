package verify

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/bootstrap"
	"github.com/pgfanout/pgfanout/internal/dml"
	"github.com/pgfanout/pgfanout/internal/source"
)

// table is one table being verified.
type table struct {
	rep    *TableReport
	def    *dml.Table   // the source's definition
	cols   []string     // its non-generated columns, hashed in this order on both sides
	ranges []keyRange   // the chunks it is compared in
	found  []rangeFound // per range, what comparing it found (before re-checks)
	cands  candidates   // what still differs
	// inFlight counts the rows that differed at first and were equal at a re-check.
	inFlight int64
}

func (t *table) name() string { return t.rep.Name() }

// tables lists the tracked tables Match selects and plans each.
func (v *Verifier) tables(ctx context.Context) ([]*table, error) {
	tracked, err := v.src.Tracked(ctx)
	if err != nil {
		return nil, err
	}
	copies, err := v.copies(ctx)
	if err != nil {
		return nil, err
	}
	var out []*table
	for _, tr := range tracked {
		if !v.cfg.Match(tr.Schema, tr.Table) {
			continue
		}
		t, err := v.plan(ctx, tr, copies)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, errors.New("no tracked table of the source matches")
	}
	return out, nil
}

// copies reads the replica's copy state per table (none when the replica has no bookkeeping
// yet: nothing was ever copied into it).
func (v *Verifier) copies(ctx context.Context) (map[string]bootstrap.Progress, error) {
	var present bool
	if err := v.rep.QueryRow(ctx, dml.BookkeepingPresent).Scan(&present); err != nil {
		return nil, fmt.Errorf("replica: check its bookkeeping: %w", err)
	}
	out := map[string]bootstrap.Progress{}
	if !present {
		return out, nil
	}
	progress, err := bootstrap.ReadProgress(ctx, v.rep, v.cfg.Liveness.Timeout)
	if err != nil {
		return nil, fmt.Errorf("replica: %w", err)
	}
	for _, p := range progress {
		out[p.Schema+"."+p.Table] = p
	}
	return out, nil
}

// plan decides whether a table can be compared and cuts it into ranges from the source's
// primary key; a keyless table is one range, compared as a multiset of row images.
func (v *Verifier) plan(ctx context.Context, tr source.Tracked, copies map[string]bootstrap.Progress) (*table, error) {
	t := &table{rep: &TableReport{Schema: tr.Schema, Table: tr.Table}}
	if p, ok := copies[tr.Schema+"."+tr.Table]; ok && p.State != bootstrap.StateDone {
		t.rep.Status = Incomplete
		if p.State == bootstrap.StateFailed {
			t.rep.Reason = "copy failed: " + p.Reason
		} else {
			t.rep.Reason = fmt.Sprintf("copy not finished (%s, %d of %d chunks copied)", p.State, p.ChunksDone, p.Chunks)
		}
		return t, nil
	}
	def, err := v.src.Describe(ctx, tr.Schema, tr.Table)
	if err != nil {
		return nil, err
	}
	t.def, t.cols = def, def.Writable()
	t.rep.Keyless, t.rep.KeyColumns = def.Keyless(), len(def.Key)
	rep, err := v.applier.Describe(ctx, tr.Schema, tr.Table)
	var de *apply.DataError
	if errors.As(err, &de) {
		t.rep.Status, t.rep.Reason = Missing, "missing on the replica"
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	if why := incompatible(def, rep); why != "" {
		t.rep.Status, t.rep.Reason = Incompatible, why
		return t, nil
	}
	t.rep.Status = Compared
	t.ranges = []keyRange{{}}
	if !def.Keyless() {
		bounds, err := v.src.Bounds(ctx, def, v.cfg.ChunkRows)
		if err != nil {
			return nil, err
		}
		t.ranges = ranges(bounds)
	}
	t.rep.Chunks = len(t.ranges)
	t.found = make([]rangeFound, len(t.ranges))
	return t, nil
}

// ranges turns chunk bounds (the lower bounds after the first) into ranges covering every key.
func ranges(bounds [][]byte) []keyRange {
	out := make([]keyRange, 0, len(bounds)+1)
	var lo []byte
	for _, b := range bounds {
		out = append(out, keyRange{lo: lo, hi: b})
		lo = b
	}
	return append(out, keyRange{lo: lo})
}

// incompatible says why the replica table rep cannot be compared with the source table src,
// or "": it must have every column the source writes and the same primary key.
func incompatible(src, rep *dml.Table) string {
	have := map[string]bool{}
	for _, c := range rep.Columns {
		have[c.Name] = true
	}
	for _, c := range src.Writable() {
		if !have[c] {
			return fmt.Sprintf("column %q of the source table does not exist in the replica table", c)
		}
	}
	if !src.Keyless() && fmt.Sprint(src.Key) != fmt.Sprint(rep.Key) {
		return fmt.Sprintf("the replica's primary key %v differs from the source's %v", rep.Key, src.Key)
	}
	return ""
}
