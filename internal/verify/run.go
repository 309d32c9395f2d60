package verify

import (
	"context"
	"strconv"
	"time"
)

// Run compares every selected table and returns the report; an error means the comparison
// could not be made (a database unreachable, a grant missing), not that tables differ.
func (v *Verifier) Run(ctx context.Context) (*Report, error) {
	started := time.Now()
	v.progress.update(func(p *Progress) { *p = Progress{Phase: PhasePlanning, Started: started} })
	tables, err := v.tables(ctx)
	if err != nil {
		return nil, err
	}
	var jobs []rangeJob
	var compared []*table
	for _, t := range tables {
		if t.rep.Status != Compared {
			continue
		}
		compared = append(compared, t)
		for i := range t.ranges {
			jobs = append(jobs, rangeJob{t: t, i: i})
		}
	}
	v.progress.update(func(p *Progress) {
		p.Phase, p.Tables, p.Chunks, p.TablesDone = PhaseComparing, len(tables), len(jobs), len(tables)-len(compared)
	})
	comparing := time.Now()
	if err := v.compare(ctx, jobs); err != nil {
		return nil, err
	}
	r := &Report{Comparing: time.Since(comparing)}
	for _, t := range compared {
		all := make([]int, len(t.ranges))
		for i := range all {
			all[i] = i
			t.rep.Rows += t.found[i].rows
		}
		t.collect(all)
	}
	v.progress.update(func(p *Progress) { p.Phase = PhaseRechecking })
	if err := v.recheck(ctx, compared); err != nil {
		return nil, err
	}
	for _, t := range compared {
		if t.rep.Found, err = v.differences(ctx, t); err != nil {
			return nil, err
		}
		t.rep.InFlight, t.inFlight = t.inFlight, 0
	}
	if v.cfg.Repair {
		if err := v.repair(ctx, compared); err != nil {
			return nil, err
		}
	}
	v.progress.update(func(p *Progress) { p.Phase = PhaseDone })
	r.Elapsed = time.Since(started)
	for _, t := range tables {
		r.Tables = append(r.Tables, *t.rep)
	}
	return r, nil
}

// differences counts t's remaining candidates by kind and lists the first MaxKeys; a keyless
// table's images are shown by their text, read from the side that has them.
func (v *Verifier) differences(ctx context.Context, t *table) (Differences, error) {
	var d Differences
	for _, k := range t.cands.keys() {
		c := t.cands.m[k]
		switch c.kind {
		case KindChanged:
			d.Changed += c.rows
		case KindMissing:
			d.Missing += c.rows
		case KindExtra:
			d.Extra += c.rows
		}
		if len(d.Diffs) < v.cfg.MaxKeys {
			d.Diffs = append(d.Diffs, Diff{Kind: c.kind, Key: k, Rows: c.rows})
		}
	}
	if !t.def.Keyless() || len(d.Diffs) == 0 {
		return d, nil
	}
	var missing, extra []int64
	for _, x := range d.Diffs {
		h, err := strconv.ParseInt(x.Key, 10, 64)
		if err != nil {
			return Differences{}, err // keys are hashes printed by imageCounts
		}
		if x.Kind == KindMissing {
			missing = append(missing, h)
		} else {
			extra = append(extra, h)
		}
	}
	texts := map[int64]string{}
	for _, s := range []struct {
		side   *side
		hashes []int64
	}{{v.srcSide, missing}, {v.repSide, extra}} {
		if len(s.hashes) == 0 {
			continue
		}
		m, err := s.side.imageTexts(ctx, t, s.hashes)
		if err != nil {
			return Differences{}, err
		}
		for h, text := range m {
			texts[h] = text
		}
	}
	for i := range d.Diffs {
		h, _ := strconv.ParseInt(d.Diffs[i].Key, 10, 64)
		if text, ok := texts[h]; ok {
			d.Diffs[i].Key = text
		} else {
			d.Diffs[i].Key = "row hash " + d.Diffs[i].Key // changed since it was counted
		}
	}
	return d, nil
}
