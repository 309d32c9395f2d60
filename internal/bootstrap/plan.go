package bootstrap

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/dml"
	queries "github.com/pgfanout/pgfanout/sql"
)

// discover records the tracked tables the replica must copy, plans those to be planned, and
// marks the copied ones done.
func (c *Copier) discover(ctx context.Context) error {
	tracked, err := c.src.Tracked(ctx)
	if err != nil {
		return err
	}
	for _, t := range tracked {
		if !c.cfg.Match(t.Schema, t.Table) {
			continue
		}
		if err := c.exec(ctx, queries.CopyDiscover, t.Schema, t.Table, t.Epoch, StatePlanning); err != nil {
			return fmt.Errorf("record the copy of %s: %w", pgx.Identifier{t.Schema, t.Table}.Sanitize(), err)
		}
	}
	todo, err := c.tables(ctx, StatePlanning)
	if err != nil {
		return err
	}
	for _, t := range todo {
		if err := c.plan(ctx, t[0], t[1]); err != nil {
			return err
		}
	}
	if err := c.finish(ctx); err != nil {
		return err
	}
	return c.refreshStops(ctx)
}

// tables lists the tables in a copy state.
func (c *Copier) tables(ctx context.Context, state string) ([][2]string, error) {
	progress, err := c.Progress(ctx)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, p := range progress {
		if p.State == state {
			out = append(out, [2]string{p.Schema, p.Table})
		}
	}
	return out, nil
}

// plan cuts a table into chunks, unless another copier planned it meanwhile: under the lock
// of its copy row, it drops the chunks of an earlier plan that were not copied yet, inserts
// the new plan's, and sets the table copying.
func (c *Copier) plan(ctx context.Context, schema, table string) error {
	name := pgx.Identifier{schema, table}.Sanitize()
	tx, err := c.rep.Begin(ctx)
	if err != nil {
		return fmt.Errorf("plan the copy of %s: %w", name, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var plan int
	var state string
	if err := tx.QueryRow(ctx, queries.CopyLockTable, schema, table).Scan(&plan, &state); err != nil {
		return fmt.Errorf("plan the copy of %s: %w", name, err)
	}
	if state != StatePlanning {
		return nil // another copier planned it
	}
	def, reason, err := c.check(ctx, schema, table)
	if err != nil {
		return err
	}
	if reason != "" {
		if _, err := tx.Exec(ctx, queries.CopySetState, schema, table, StateFailed, reason); err != nil {
			return fmt.Errorf("plan the copy of %s: %w", name, err)
		}
		c.log.Error().Str("table", schema+"."+table).Str("reason", reason).Msg("table not copied")
		return tx.Commit(ctx)
	}
	rows, los, his, err := c.chunks(ctx, def)
	if err != nil {
		return err
	}
	for _, step := range []struct {
		sql  string
		args []any
	}{
		{queries.CopySupersede, []any{schema, table, ChunkPending}},
		{queries.CopyPlanChunks, []any{schema, table, plan + 1, ChunkPending, los, his}},
		{queries.CopyPlanned, []any{schema, table, plan + 1, StateCopying, len(los), rows}},
	} {
		if _, err := tx.Exec(ctx, step.sql, step.args...); err != nil {
			return fmt.Errorf("plan the copy of %s: %w", name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("plan the copy of %s: %w", name, err)
	}
	c.log.Info().Str("table", schema+"."+table).Int("plan", plan+1).Int("chunks", len(los)).Int64("rows_estimate", rows).
		Msg("copy planned")
	c.notify()
	return nil
}

// check compares the source table with the replica's; a reason not to copy it comes back as
// reason, other failures (the source or the replica unreachable) as err.
func (c *Copier) check(ctx context.Context, schema, table string) (*dml.Table, string, error) {
	// The source may change shape again between the follower's reconcile and the describes
	// below (an ALTER per second is normal during a migration): a mismatch is then retried
	// a few times, each time reconciling again, before it counts as a reason not to copy.
	const attempts = 5
	for i := 1; ; i++ {
		def, reason, err := c.checkOnce(ctx, schema, table)
		if err != nil || reason == "" || c.follow == nil || i == attempts {
			return def, reason, err
		}
		c.log.Info().Str("table", schema+"."+table).Str("reason", reason).Int("attempt", i).
			Msg("the source table changed shape while it was compared; comparing again")
	}
}

func (c *Copier) checkOnce(ctx context.Context, schema, table string) (*dml.Table, string, error) {
	if c.follow != nil {
		out, err := c.follow.Reconcile(ctx, schema, table, "")
		if err != nil {
			return nil, "", err
		}
		if out.Stopped != "" {
			return nil, out.Stopped, nil
		}
	}
	def, err := c.src.Describe(ctx, schema, table)
	if err != nil {
		return nil, "", err
	}
	rep, err := c.applier.Describe(ctx, schema, table)
	var de *apply.DataError
	if errors.As(err, &de) {
		return nil, de.Error(), nil
	}
	if err != nil {
		return nil, "", err
	}
	return def, compatible(def, rep), nil
}

// compatible says why rows of the source table src cannot be copied into the replica table
// rep, or "": the replica must have every source column and the same primary key.
func compatible(src, rep *dml.Table) string {
	if src.Keyless() != rep.Keyless() {
		if src.Keyless() {
			return "the replica table has a primary key and the source table has none"
		}
		return "the source table has a primary key and the replica table has none"
	}
	have := map[string]bool{}
	for _, col := range rep.Columns {
		have[col.Name] = true
	}
	for _, col := range src.Columns {
		if !have[col.Name] {
			return fmt.Sprintf("column %q of the source table does not exist in the replica table", col.Name)
		}
	}
	if fmt.Sprint(src.Key) != fmt.Sprint(rep.Key) {
		return fmt.Sprintf("the replica's primary key %v differs from the source's %v", rep.Key, src.Key)
	}
	return ""
}

// chunks cuts the table into key ranges of about ChunkRows rows and at most about ChunkBytes:
// lower bounds los and upper bounds his (nil where unbounded), and the estimated rows.
func (c *Copier) chunks(ctx context.Context, def *dml.Table) (int64, []*string, []*string, error) {
	rows, bytes, err := c.src.Size(ctx, def.Schema, def.Name)
	if err != nil {
		return 0, nil, nil, err
	}
	if def.Keyless() {
		return rows, []*string{nil}, []*string{nil}, nil // no key to cut by: one chunk, the whole table
	}
	per := int64(c.cfg.ChunkRows)
	if rows > 0 && bytes > 0 {
		per = min(per, max(1, c.cfg.ChunkBytes/max(1, bytes/rows)))
	}
	bounds, err := c.src.Bounds(ctx, def, int(per))
	if err != nil {
		return 0, nil, nil, err
	}
	los := []*string{nil}
	var his []*string
	for _, b := range bounds {
		s := string(b)
		los = append(los, &s)
		his = append(his, &s)
	}
	his = append(his, nil)
	return rows, los, his, nil
}

// finish marks done the tables whose every chunk is copied.
func (c *Copier) finish(ctx context.Context) error {
	rows, err := c.rep.Query(ctx, queries.CopyFinish, StateDone, StateCopying, ChunkPending)
	if err != nil {
		return fmt.Errorf("finish copies: %w", err)
	}
	done, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var s, t string
		err := r.Scan(&s, &t)
		return s + "." + t, err
	})
	if err != nil {
		return fmt.Errorf("finish copies: %w", err)
	}
	for _, t := range done {
		c.log.Info().Str("table", t).Msg("table copied")
	}
	return nil
}

// Stop stops a table's stream (internal/follow cannot follow its shape): its copy fails with
// reason, and applies drop its changes until a resync copies it again.
func (c *Copier) Stop(ctx context.Context, schema, table, reason string) error {
	if err := c.fail(ctx, schema, table, reason); err != nil {
		return err
	}
	return c.refreshStops(ctx)
}

// refreshStops tells the applier which tables are stopped (their copy failed), and keeps the
// list for readiness.
func (c *Copier) refreshStops(ctx context.Context) error {
	progress, err := c.Progress(ctx)
	if err != nil {
		return err
	}
	var failed []Progress
	var names [][2]string
	for _, p := range progress {
		if p.State == StateFailed {
			failed = append(failed, p)
			names = append(names, [2]string{p.Schema, p.Table})
		}
	}
	c.applier.SetStopped(names)
	c.stopped.Store(&failed)
	return nil
}

// Stopped lists the tables whose stream is stopped, with why, as last read.
func (c *Copier) Stopped() []Progress {
	if p := c.stopped.Load(); p != nil {
		return *p
	}
	return nil
}

// fail records why a table cannot be copied.
func (c *Copier) fail(ctx context.Context, schema, table, reason string) error {
	c.log.Error().Str("table", schema+"."+table).Str("reason", reason).Msg("table copy failed; it stays incomplete until the cause is fixed and it is resynced")
	return c.exec(ctx, queries.CopySetState, schema, table, StateFailed, reason)
}

func (c *Copier) exec(ctx context.Context, sql string, args ...any) error {
	ctx, cancel := c.cfg.Liveness.Call(ctx)
	defer cancel()
	_, err := c.rep.Exec(ctx, sql, args...)
	return err
}
