package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/dml"
	"github.com/pgfanout/pgfanout/internal/retry"
	queries "github.com/pgfanout/pgfanout/sql"
)

// idlePoll is how often an idle copy worker looks for a chunk when nothing woke it.
const idlePoll = 2 * time.Second

// copyLoop copies chunks until ctx ends.
func (c *Copier) copyLoop(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		copied, err := c.copyOne(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			failures++
			delay := retry.Reconnect().Delay(failures)
			c.log.Warn().Err(err).Dur("retry_in", delay).Msg("copying a chunk failed; it stays pending")
			_ = retry.Sleep(ctx, delay)
		case copied:
			failures = 0
		default:
			select {
			case <-ctx.Done():
			case <-c.workc():
			case <-time.After(idlePoll):
			}
		}
	}
	return nil
}

// copyOne copies the next pending chunk, if any, in one replica transaction: claim it, read
// it in a source snapshot, apply it, record it done. A chunk whose table cannot take it (a
// table or column missing on the replica) fails the table.
func (c *Copier) copyOne(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ChunkTimeout)
	defer cancel()
	tx, err := c.rep.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	ch := &apply.Chunk{}
	var plan int
	var lo, hi *string
	err = tx.QueryRow(ctx, queries.CopyClaim, ChunkPending, StateCopying).Scan(&ch.ID, &ch.Schema, &ch.Table, &plan, &lo, &hi)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim a chunk: %w", err)
	}
	ch.Lo, ch.Hi = bytesOf(lo), bytesOf(hi)
	def, err := c.definition(ctx, ch.Schema, ch.Table, plan)
	if err != nil {
		return false, err
	}
	if def.Keyless() {
		return true, c.copyKeyless(ctx, tx, ch, def, plan)
	}
	// Held before the source is read: the chunk's snapshot then sees every change whose
	// bookkeeping a prune could remove meanwhile (docs/bookkeeping.md).
	hold, err := c.applier.HoldHorizon(ctx, tx)
	if err != nil {
		return false, err
	}
	snap, rows, err := c.src.ReadChunk(ctx, def, ch.Lo, ch.Hi)
	if err != nil {
		return false, err
	}
	ch.Snapshot, ch.SeqHigh, ch.Rows = snap.Text, snap.SeqHigh, rows
	applied, err := c.applier.ApplyChunk(ctx, tx, hold, ch)
	var de *apply.DataError
	if errors.As(err, &de) {
		_ = tx.Rollback(ctx)
		if c.healed(ctx, ch.Schema, ch.Table, plan, de) {
			return false, fmt.Errorf("chunk %d of %s: the table changed shape; copying the chunk again: %w", ch.ID, pgx.Identifier{ch.Schema, ch.Table}.Sanitize(), err)
		}
		return true, c.fail(ctx, ch.Schema, ch.Table, de.Error())
	}
	if err != nil {
		return false, err
	}
	state := ChunkDone
	if !applied {
		state = ChunkSkipped
	}
	if _, err := tx.Exec(ctx, queries.CopyChunkDone, ch.ID, state, snap.Text, snap.SeqHigh, len(rows), c.cfg.Name); err != nil {
		return false, fmt.Errorf("record chunk %d: %w", ch.ID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("commit chunk %d: %w", ch.ID, err)
	}
	c.m.copied(ch.Schema+"."+ch.Table, len(rows))
	return true, nil
}

// copyKeyless copies a table without a primary key whole (its one chunk), in tx.
func (c *Copier) copyKeyless(ctx context.Context, tx pgx.Tx, ch *apply.Chunk, def *dml.Table, plan int) error {
	var seqHigh int64
	snap, rows, err := c.applier.CopyKeyless(ctx, tx, ch.Schema, ch.Table, func(ctx context.Context) (string, [][]byte, error) {
		s, rows, err := c.src.ReadChunk(ctx, def, nil, nil)
		seqHigh = s.SeqHigh
		return s.Text, rows, err
	})
	var de *apply.DataError
	if errors.As(err, &de) {
		_ = tx.Rollback(ctx)
		if c.healed(ctx, ch.Schema, ch.Table, plan, de) {
			return fmt.Errorf("%s: the table changed shape; copying it again: %w", pgx.Identifier{ch.Schema, ch.Table}.Sanitize(), err)
		}
		return c.fail(ctx, ch.Schema, ch.Table, de.Error())
	}
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, queries.CopyChunkDone, ch.ID, ChunkDone, snap, seqHigh, rows, c.cfg.Name); err != nil {
		return fmt.Errorf("record chunk %d: %w", ch.ID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit chunk %d: %w", ch.ID, err)
	}
	c.m.copied(ch.Schema+"."+ch.Table, rows)
	return nil
}

// healed lets the follower bring the replica table in line with the source after a chunk of it
// failed (the source table changed shape since the plan), and forgets the plan's definition:
// true when the chunk is worth copying again.
func (c *Copier) healed(ctx context.Context, schema, table string, plan int, cause error) bool {
	if c.follow == nil || !c.follow.Heal(ctx, schema, table, cause) {
		return false
	}
	c.defs.mu.Lock()
	delete(c.defs.m, defKey{schema, table, plan})
	c.defs.mu.Unlock()
	return true
}

func bytesOf(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

// defs caches source table definitions per plan.
type defs struct {
	mu sync.Mutex
	m  map[defKey]*dml.Table
}

type defKey struct {
	schema, table string
	plan          int
}

// definition is the source table's definition, read once per plan.
func (c *Copier) definition(ctx context.Context, schema, table string, plan int) (*dml.Table, error) {
	k := defKey{schema, table, plan}
	c.defs.mu.Lock()
	def, ok := c.defs.m[k]
	c.defs.mu.Unlock()
	if ok {
		return def, nil
	}
	def, err := c.src.Describe(ctx, schema, table)
	if err != nil {
		return nil, err
	}
	c.defs.mu.Lock()
	if c.defs.m == nil {
		c.defs.m = map[defKey]*dml.Table{}
	}
	c.defs.m[k] = def
	c.defs.mu.Unlock()
	return def, nil
}
