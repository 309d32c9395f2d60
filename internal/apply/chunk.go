package apply

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/internal/dml"
)

// Chunk is a primary-key range [Lo, Hi) of a source table as one source snapshot saw it
// (docs/bootstrap.md).
type Chunk struct {
	ID       int64  // the chunk's row in pgfanout.copy_chunks
	Schema   string // the table, by the names the source tracks it under
	Table    string
	Lo, Hi   []byte   // JSON objects of the key columns; nil: unbounded
	Snapshot string   // pg_snapshot, as text: later changes are measured against it
	SeqHigh  int64    // the version sequence when the snapshot was taken
	Rows     [][]byte // the rows' images, row_to_json output as the capture writes it
}

// ErrKeyless: a table without a primary key is copied whole, with CopyKeyless.
var ErrKeyless = errors.New("the replica table has no primary key")

// ErrKeyed: CopyKeyless copies tables without a primary key only.
var ErrKeyed = errors.New("the replica table has a primary key")

// CopyKeyless copies a table without a primary key whole, in tx: it takes the table's SHARE
// ROW EXCLUSIVE lock (applies of the table wait for the copy), then read reads the source
// in a snapshot, and the copy replaces the table's rows (dml.KeylessReplace says why that
// is exact). It returns the snapshot and the rows copied.
func (a *Applier) CopyKeyless(ctx context.Context, tx pgx.Tx, schema, table string,
	read func(ctx context.Context) (snapshot string, rows [][]byte, err error)) (string, int, error) {
	if err := a.ensureSchema(ctx); err != nil {
		return "", 0, err
	}
	n := tableName{schema, table}
	t, err := a.cat.lookup(ctx, n)
	if err != nil {
		return "", 0, err
	}
	if !t.Keyless() {
		return "", 0, &DataError{Err: fmt.Errorf("%s: %w", n, ErrKeyed)}
	}
	if _, err := tx.Exec(ctx, dml.Lock(&t.Table, dml.ShareRowExclusive)); err != nil {
		return "", 0, fmt.Errorf("copy into %s: %w", n, err)
	}
	if _, err := a.HoldHorizon(ctx, tx); err != nil {
		return "", 0, fmt.Errorf("copy into %s: %w", n, err)
	}
	snap, rows, err := read(ctx)
	if err != nil {
		return "", 0, err
	}
	if _, err := chunkColumns(t, &Chunk{Rows: rows}); err != nil && len(rows) > 0 {
		return "", 0, &DataError{Err: fmt.Errorf("%s copy: %w", n, err)}
	}
	if _, err := tx.Exec(ctx, dml.KeylessReplace(&t.Table), t.relid, rows, snap); err != nil {
		return "", 0, fmt.Errorf("copy into %s: %w", n, err)
	}
	return snap, len(rows), nil
}

// ApplyChunk applies c in tx, the caller's replica transaction (which also records the chunk
// as copied, so that both commit or neither), which held the horizon before c was read. It returns false, having written nothing, when
// the copy predates the newest truncate the replica applied to the table: then every row it
// holds is gone on the source, and every row since arrives as a change. A table or a column
// the replica lacks is a *DataError.
func (a *Applier) ApplyChunk(ctx context.Context, tx pgx.Tx, _ Hold, c *Chunk) (bool, error) {
	if err := a.ensureSchema(ctx); err != nil {
		return false, err
	}
	n := tableName{c.Schema, c.Table}
	t, err := a.cat.lookup(ctx, n)
	if err != nil {
		return false, err
	}
	if t.Keyless() {
		return false, &DataError{Err: fmt.Errorf("%s: %w", n, ErrKeyless)}
	}
	cols, err := chunkColumns(t, c)
	if err != nil {
		return false, &DataError{Err: fmt.Errorf("%s chunk %d: %w", n, c.ID, err)}
	}
	if _, err := tx.Exec(ctx, dml.Lock(&t.Table, dml.RowExclusive)); err != nil {
		return false, fmt.Errorf("copy into %s: %w", n, err)
	}
	var stale bool
	if err := tx.QueryRow(ctx, dml.CopyStale, t.relid, c.Snapshot).Scan(&stale); err != nil {
		return false, fmt.Errorf("copy into %s: %w", n, err)
	}
	if stale {
		return false, nil
	}
	r := dml.Bounds{Lo: c.Lo != nil, Hi: c.Hi != nil}
	args := []any{t.relid, c.Rows, c.SeqHigh, c.Snapshot}
	for _, b := range [][]byte{c.Lo, c.Hi} {
		if b != nil {
			args = append(args, string(b))
		}
	}
	if _, err := tx.Exec(ctx, t.copy(cols, r), args...); err != nil {
		return false, fmt.Errorf("copy chunk %d into %s: %w", c.ID, n, err)
	}
	return true, nil
}

// chunkColumns checks that every image carries the same replica columns, primary key
// included, and returns them in table order (the key alone for an empty chunk).
func chunkColumns(t *table, c *Chunk) ([]string, error) {
	if len(c.Rows) == 0 {
		return t.Key, nil
	}
	tp := &tablePlan{t: t}
	needKey := !t.Keyless()
	first, err := tp.columns(c.Rows[0], needKey)
	if err != nil {
		return nil, err
	}
	sig := string(first)
	for _, row := range c.Rows[1:] {
		set, err := tp.columns(row, needKey)
		if err != nil {
			return nil, err
		}
		if string(set) != sig {
			return nil, errors.New("rows of one chunk carry different columns")
		}
	}
	return t.groupColumns(sig), nil
}
