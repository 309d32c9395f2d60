package verify

import (
	"context"

	"github.com/sourcegraph/conc/pool"
)

// rangeFound is what comparing one range found.
type rangeFound struct {
	rows  int64 // the source's rows in it
	diffs []found
}

// found is a key (or, in a keyless table, a row hash) that differed.
type found struct {
	key  string
	kind Kind
	rows int64 // 1, or the copies of an image
	rng  int   // the range it is in
}

// rangeJob is one range of one table to compare.
type rangeJob struct {
	t *table
	i int
}

// compare compares the ranges of jobs; each range's finding lands in its table's found. Twice
// Workers ranges are under way and each side's pool has Workers connections: a range whose
// source hash is done waits for its replica hash while the source hashes the next one.
func (v *Verifier) compare(ctx context.Context, jobs []rangeJob) error {
	left := map[*table]int{}
	for _, j := range jobs {
		left[j.t]++
	}
	g := pool.New().WithMaxGoroutines(2 * v.cfg.Workers).WithContext(ctx).WithCancelOnError().WithFirstError()
	for _, j := range jobs {
		g.Go(func(ctx context.Context) error {
			f, err := v.compareRange(ctx, j.t, j.t.ranges[j.i])
			if err != nil {
				return err
			}
			j.t.found[j.i] = f
			v.progress.update(func(p *Progress) {
				p.ChunksDone++
				p.Rows += f.rows
				if left[j.t]--; left[j.t] == 0 {
					p.TablesDone++
				}
			})
			return nil
		})
	}
	return g.Wait()
}

// compareRange hashes a range on both sides at once and, only if the hashes differ, reads it
// key by key (a keyless table: image by image) on both.
func (v *Verifier) compareRange(ctx context.Context, t *table, r keyRange) (rangeFound, error) {
	var srcRows, repRows int64
	var srcSum, repSum string
	err := both(ctx, func(ctx context.Context) (err error) {
		srcRows, srcSum, err = v.srcSide.rangeHash(ctx, t, r)
		return err
	}, func(ctx context.Context) (err error) {
		repRows, repSum, err = v.repSide.rangeHash(ctx, t, r)
		return err
	})
	if err != nil {
		return rangeFound{}, err
	}
	out := rangeFound{rows: srcRows}
	if srcRows == repRows && srcSum == repSum {
		return out, nil
	}
	var src, rep rowHashes
	err = both(ctx, func(ctx context.Context) (err error) {
		src, err = v.read(ctx, v.srcSide, t, r)
		return err
	}, func(ctx context.Context) (err error) {
		rep, err = v.read(ctx, v.repSide, t, r)
		return err
	})
	if err != nil {
		return rangeFound{}, err
	}
	if t.def.Keyless() {
		out.diffs = diffImages(src, rep)
	} else {
		out.diffs = diffKeys(src, rep)
	}
	return out, nil
}

// read reads a range key by key, or a keyless table's image counts.
func (v *Verifier) read(ctx context.Context, s *side, t *table, r keyRange) (rowHashes, error) {
	if t.def.Keyless() {
		return s.imageCounts(ctx, t, nil)
	}
	return s.rangeRows(ctx, t, r)
}

// diffKeys compares key → row hash of both sides: keys only the source has are missing on
// the replica, keys only the replica has extra, keys with different hashes changed.
func diffKeys(src, rep rowHashes) []found {
	var out []found
	for _, k := range src.order {
		h, ok := rep.m[k]
		switch {
		case !ok:
			out = append(out, found{key: k, kind: KindMissing, rows: 1})
		case h != src.m[k]:
			out = append(out, found{key: k, kind: KindChanged, rows: 1})
		}
	}
	for _, k := range rep.order {
		if _, ok := src.m[k]; !ok {
			out = append(out, found{key: k, kind: KindExtra, rows: 1})
		}
	}
	return out
}

// diffImages compares row hash → copies of both sides of a keyless table.
func diffImages(src, rep rowHashes) []found {
	var out []found
	add := func(h string) {
		switch d := src.m[h] - rep.m[h]; {
		case d > 0:
			out = append(out, found{key: h, kind: KindMissing, rows: d})
		case d < 0:
			out = append(out, found{key: h, kind: KindExtra, rows: -d})
		}
	}
	for _, h := range src.order {
		add(h)
	}
	for _, h := range rep.order {
		if _, ok := src.m[h]; !ok {
			add(h)
		}
	}
	return out
}

// both runs a and b at once; the first failure cancels the other.
func both(ctx context.Context, a, b func(context.Context) error) error {
	g := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
	g.Go(a)
	g.Go(b)
	return g.Wait()
}

// candidates are the keys (or row hashes) that still differ, in the order found.
type candidates struct {
	m     map[string]*found
	order []string
}

func (c *candidates) add(f found) {
	if c.m == nil {
		c.m = map[string]*found{}
	}
	if _, dup := c.m[f.key]; !dup {
		c.order = append(c.order, f.key)
	}
	c.m[f.key] = &f
}

func (c *candidates) len() int { return len(c.m) }

// keys lists the candidates still differing, in order.
func (c *candidates) keys() []string {
	out := make([]string, 0, len(c.m))
	for _, k := range c.order {
		if _, ok := c.m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// collect makes the findings of ranges (indexes into t.ranges) t's candidates, each with the
// range it is in.
func (t *table) collect(ranges []int) {
	t.cands = candidates{}
	for _, i := range ranges {
		for _, f := range t.found[i].diffs {
			f.rng = i
			t.cands.add(f)
		}
	}
}
