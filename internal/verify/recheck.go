package verify

import (
	"context"
	"strconv"
	"time"
)

// recheckBatch is how many keys one re-check statement reads.
const recheckBatch = 5000

// recheck tells rows in flight from differences. A change committed on the source reaches the
// replica a moment later, so a range hashed on both sides at once can differ only because the
// stream has not passed one of its keys yet. Each candidate is therefore read again, on its
// own, at once and then every RecheckEvery until Recheck has passed: the source first, then
// the replica, which has had that much longer to catch up with what the source showed. A
// candidate equal at any re-check was in flight, not a difference. A key the stream keeps
// changing faster than the replica's lag could stay unequal; the longer Recheck, the less
// likely that is.
func (v *Verifier) recheck(ctx context.Context, tables []*table) error {
	if v.cfg.Recheck <= 0 {
		return nil
	}
	deadline := time.Now().Add(v.cfg.Recheck)
	total := 0
	for _, t := range tables {
		total += t.cands.len()
	}
	v.progress.update(func(p *Progress) { p.Candidates, p.Rechecks = total, 0 })
	for {
		pending := 0
		for _, t := range tables {
			if t.cands.len() == 0 {
				continue
			}
			if err := v.recheckTable(ctx, t); err != nil {
				return err
			}
			pending += t.cands.len()
		}
		v.progress.update(func(p *Progress) { p.Candidates, p.Rechecks = pending, p.Rechecks+1 })
		if pending == 0 || !time.Now().Before(deadline) {
			return nil
		}
		timer := time.NewTimer(min(v.cfg.RecheckEvery, time.Until(deadline)))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// recheckTable reads t's candidates again on both sides and drops those now equal.
func (v *Verifier) recheckTable(ctx context.Context, t *table) error {
	keys := t.cands.keys()
	if t.def.Keyless() {
		return v.recheckImages(ctx, t, keys)
	}
	for len(keys) > 0 {
		batch := keys[:min(len(keys), recheckBatch)]
		keys = keys[len(batch):]
		src, err := v.srcSide.keyRows(ctx, t, batch)
		if err != nil {
			return err
		}
		rep, err := v.repSide.keyRows(ctx, t, batch)
		if err != nil {
			return err
		}
		for _, k := range batch {
			sh, inSrc := src.m[k]
			rh, inRep := rep.m[k]
			c := t.cands.m[k]
			switch {
			case inSrc == inRep && (!inSrc || sh == rh):
				delete(t.cands.m, k)
				t.inFlight++
			case !inRep:
				c.kind = KindMissing
			case !inSrc:
				c.kind = KindExtra
			default:
				c.kind = KindChanged
			}
		}
	}
	return nil
}

// recheckImages counts a keyless table's candidate images again on both sides.
func (v *Verifier) recheckImages(ctx context.Context, t *table, keys []string) error {
	hashes := make([]int64, 0, len(keys))
	for _, k := range keys {
		h, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return err // keys are hashes printed by imageCounts
		}
		hashes = append(hashes, h)
	}
	src, err := v.srcSide.imageCounts(ctx, t, hashes)
	if err != nil {
		return err
	}
	rep, err := v.repSide.imageCounts(ctx, t, hashes)
	if err != nil {
		return err
	}
	for _, k := range keys {
		c := t.cands.m[k]
		switch d := src.m[k] - rep.m[k]; {
		case d == 0:
			delete(t.cands.m, k)
			t.inFlight += c.rows
		case d > 0:
			c.kind, c.rows = KindMissing, d
		default:
			c.kind, c.rows = KindExtra, -d
		}
	}
	return nil
}
