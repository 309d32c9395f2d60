package verify

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/bootstrap"
	"github.com/pgfanout/pgfanout/internal/dml"
	queries "github.com/pgfanout/pgfanout/sql"
)

// repair copies every range that still differs again, through the copy path a bootstrap
// takes, then compares those ranges again (re-checks included).
func (v *Verifier) repair(ctx context.Context, tables []*table) error {
	var todo []*table
	for _, t := range tables {
		switch {
		case t.rep.Found.Rows() == 0:
		case t.def.Keyless():
			t.rep.Repair = &Repair{Skipped: "--repair does not support tables without a primary key yet"}
		default:
			todo = append(todo, t)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if err := v.applier.Prepare(ctx); err != nil {
		return err
	}
	var jobs []rangeJob
	repaired := map[*table][]int{}
	for _, t := range todo {
		repaired[t] = t.differingRanges()
		for _, i := range repaired[t] {
			jobs = append(jobs, rangeJob{t: t, i: i})
		}
	}
	v.progress.update(func(p *Progress) {
		p.Phase, p.Chunks, p.ChunksDone, p.Rows, p.TablesDone = PhaseRepairing, len(jobs), 0, 0, p.Tables-len(todo)
	})
	for _, j := range jobs {
		rows, err := v.repairRange(ctx, j.t, j.t.ranges[j.i])
		if err != nil {
			return err
		}
		if j.t.rep.Repair == nil {
			j.t.rep.Repair = &Repair{}
		}
		j.t.rep.Repair.Chunks++
		j.t.rep.Repair.Rows += int64(rows)
		v.progress.update(func(p *Progress) { p.ChunksDone++; p.Rows += int64(rows) })
	}
	// Verify the repaired ranges again; the rows in flight now are the stream's since.
	v.progress.update(func(p *Progress) {
		p.Phase, p.ChunksDone, p.Rows, p.TablesDone = PhaseComparing, 0, 0, p.Tables-len(todo)
	})
	if err := v.compare(ctx, jobs); err != nil {
		return err
	}
	for _, t := range todo {
		t.collect(repaired[t])
	}
	v.progress.update(func(p *Progress) { p.Phase = PhaseRechecking })
	if err := v.recheck(ctx, todo); err != nil {
		return err
	}
	for _, t := range todo {
		left, err := v.differences(ctx, t)
		if err != nil {
			return err
		}
		t.rep.Repair.Left, t.rep.Repair.InFlight, t.inFlight = left, t.inFlight, 0
	}
	return nil
}

// differingRanges lists the ranges that hold a candidate, in key order.
func (t *table) differingRanges() []int {
	seen := map[int]bool{}
	var out []int
	for _, c := range t.cands.m {
		if !seen[c.rng] {
			seen[c.rng] = true
			out = append(out, c.rng)
		}
	}
	sort.Ints(out)
	return out
}

// repairRange copies a range again in one replica transaction, as a bootstrap copies a chunk:
// it records a chunk of the table's current plan (copy_chunks; plan 0 when the table was never
// copied), reads the range from the source in a snapshot of its own (source.ReadChunk),
// applies it (apply.ApplyChunk: each key takes the snapshot's state unless a change the
// snapshot did not see already reached it) and records the chunk copied. The table's copy
// row stays locked meanwhile, so two repairs of one table number their chunks in turn.
func (v *Verifier) repairRange(ctx context.Context, t *table, r keyRange) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.ChunkTimeout)
	defer cancel()
	tx, err := v.rep.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("repair %s: begin: %w", t.name(), err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var plan int
	var state string
	err = tx.QueryRow(ctx, queries.CopyLockTable, t.rep.Schema, t.rep.Table).Scan(&plan, &state)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("repair %s: lock its copy: %w", t.name(), err)
	}
	var id int64
	if err := tx.QueryRow(ctx, dml.RepairChunk, t.rep.Schema, t.rep.Table, plan, text(r.lo), text(r.hi), bootstrap.ChunkPending).Scan(&id); err != nil {
		return 0, fmt.Errorf("repair %s: record the chunk: %w", t.name(), err)
	}
	// Held before the source is read: the copy's snapshot then sees every change whose
	// bookkeeping a prune could remove meanwhile (docs/bookkeeping.md).
	hold, err := v.applier.HoldHorizon(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("repair %s: %w", t.name(), err)
	}
	snap, rows, err := v.src.ReadChunk(ctx, t.def, r.lo, r.hi)
	if err != nil {
		return 0, fmt.Errorf("repair %s: %w", t.name(), err)
	}
	ch := &apply.Chunk{ID: id, Schema: t.rep.Schema, Table: t.rep.Table, Lo: r.lo, Hi: r.hi,
		Snapshot: snap.Text, SeqHigh: snap.SeqHigh, Rows: rows}
	applied, err := v.applier.ApplyChunk(ctx, tx, hold, ch)
	if err != nil {
		return 0, fmt.Errorf("repair %s: %w", t.name(), err)
	}
	done := bootstrap.ChunkDone
	if !applied {
		done = bootstrap.ChunkSkipped
	}
	if _, err := tx.Exec(ctx, queries.CopyChunkDone, id, done, snap.Text, snap.SeqHigh, len(rows), v.cfg.Name); err != nil {
		return 0, fmt.Errorf("repair %s: record chunk %d: %w", t.name(), id, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("repair %s: commit chunk %d: %w", t.name(), id, err)
	}
	v.log.Info().Str("table", t.rep.Schema+"."+t.rep.Table).Int64("chunk", id).Int("plan", plan).
		Str("lo", string(r.lo)).Str("hi", string(r.hi)).Int("rows", len(rows)).Str("state", done).Msg("range copied again")
	return len(rows), nil
}

// text is a bound as the jsonb parameter of dml.RepairChunk (nil: NULL, unbounded).
func text(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}
