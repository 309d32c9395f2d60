// Package source reads a source database for the replicator's copies (docs/bootstrap.md) and
// verifications: the tables it tracks, their definitions, the bounds of their chunks, and each
// chunk's rows in a snapshot of its own. It needs only a read-only role (docs/bootstrap.md,
// "GRANTs").
package source

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/dml"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/redact"
	"github.com/pgfanout/pgfanout/internal/schema"
	queries "github.com/pgfanout/pgfanout/sql"
)

// AppName is how copy connections show in the source's pg_stat_activity.
const AppName = "pgfanout-replicator-copy"

// Source is a pool of read-only connections to the source.
type Source struct {
	pool *pgxpool.Pool
	live liveness.Settings
}

// Open prepares a pool of at most conns connections to url (it connects lazily). Sessions
// print values as the capture does (change.ValueSettings), so copied rows are the images the
// capture would have written.
func Open(ctx context.Context, url string, live liveness.Settings, conns int) (*Source, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse source URL %s: %w", redact.URL(url), err)
	}
	live = live.WithDefaults()
	live.PG(&cfg.ConnConfig.Config)
	cfg.PingTimeout = live.Timeout
	cfg.MaxConns = int32(max(1, conns))
	params := cfg.ConnConfig.RuntimeParams
	if _, set := params["application_name"]; !set {
		params["application_name"] = AppName
	}
	for k, v := range change.ValueSettings() {
		params[k] = v
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("source pool: %w", err)
	}
	return &Source{pool: pool, live: live}, nil
}

// Close closes the pool.
func (s *Source) Close() { s.pool.Close() }

// Tracked is a table the source tracks.
type Tracked struct {
	Schema, Table string
	Key           []string // the capture's key columns; none for a keyless table
	Epoch         string   // when it was tracked: a new epoch means a new copy
}

// Tracked lists the tables the source tracks.
func (s *Source) Tracked(ctx context.Context) ([]Tracked, error) {
	ctx, cancel := s.live.Call(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, queries.TrackedTables)
	if err != nil {
		return nil, explain(err, "list the tracked tables")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tracked, error) {
		var t Tracked
		err := r.Scan(&t.Schema, &t.Table, &t.Key, &t.Epoch)
		return t, err
	})
	if err != nil {
		return nil, explain(err, "list the tracked tables")
	}
	return out, nil
}

// Describe reads a source table's definition, as the replica's is read (dml.Catalog).
func (s *Source) Describe(ctx context.Context, schema, table string) (*dml.Table, error) {
	ctx, cancel := s.live.Call(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, dml.Catalog, schema, table)
	if err != nil {
		return nil, explain(err, "describe "+pgx.Identifier{schema, table}.Sanitize())
	}
	_, t, err := dml.ScanCatalog(rows, schema, table)
	if err != nil {
		return nil, explain(err, "describe "+pgx.Identifier{schema, table}.Sanitize())
	}
	if t == nil {
		return nil, fmt.Errorf("table %s does not exist on the source", pgx.Identifier{schema, table}.Sanitize())
	}
	return t, nil
}

// Bounds returns the key of every every-th row of t in key order (JSON objects of the key
// columns): the lower bounds of its chunks after the first. It reads the primary key's index,
// not the rows.
func (s *Source) Bounds(ctx context.Context, t *dml.Table, every int) ([][]byte, error) {
	rows, err := s.pool.Query(ctx, dml.ChunkBounds(t), every)
	if err != nil {
		return nil, explain(err, "plan the chunks of "+t.Ident())
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, explain(err, "plan the chunks of "+t.Ident())
	}
	return out, nil
}

// Size estimates a table's rows (the planner's estimate) and bytes on disk.
func (s *Source) Size(ctx context.Context, schema, table string) (rows, bytes int64, err error) {
	ctx, cancel := s.live.Call(ctx)
	defer cancel()
	if err := s.pool.QueryRow(ctx, queries.TableSize, schema, table).Scan(&rows, &bytes); err != nil {
		return 0, 0, explain(err, "size "+pgx.Identifier{schema, table}.Sanitize())
	}
	return rows, bytes, nil
}

// Snapshot is a chunk's source snapshot.
type Snapshot struct {
	Text    string // pg_snapshot
	SeqHigh int64  // the version sequence then: every change the snapshot sees has a lower version
}

// ReadChunk reads the rows of t in [lo, hi) (nil: unbounded) in a REPEATABLE READ READ ONLY
// transaction of their own and returns them with its snapshot. Nothing it takes blocks a
// writer.
func (s *Source) ReadChunk(ctx context.Context, t *dml.Table, lo, hi []byte) (Snapshot, [][]byte, error) {
	var snap Snapshot
	var images [][]byte
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, queries.CopySnapshot).Scan(&snap.Text, &snap.SeqHigh); err != nil {
			return err
		}
		var args []any
		for _, b := range [][]byte{lo, hi} {
			if b != nil {
				args = append(args, string(b))
			}
		}
		rows, err := tx.Query(ctx, dml.ReadRange(t, dml.Bounds{Lo: lo != nil, Hi: hi != nil}), args...)
		if err != nil {
			return err
		}
		images, err = pgx.CollectRows(rows, pgx.RowTo[[]byte])
		return err
	})
	if err != nil {
		return Snapshot{}, nil, explain(err, "read a chunk of "+t.Ident())
	}
	return snap, images, nil
}

// explain wraps err with what was being done and, for errors a retry will not mend, what to
// do about them: a missing grant names it, a source without the capture says so.
func explain(err error, doing string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "42501":
			return fmt.Errorf("%s: %w (the source role lacks a grant; it needs: %s)", doing, err, Grants)
		case "3F000", "42P01":
			return fmt.Errorf("%s: %w (the source has no pgfanout capture, or a table is gone: run `publisher migrate` against the source, and check --source-url)", doing, err)
		}
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// Grants is what the source role the replicator copies with needs (docs/bootstrap.md).
const Grants = "GRANT USAGE ON SCHEMA pgfanout; GRANT SELECT ON pgfanout.tracked, pgfanout.version_seq; " +
	"USAGE on each tracked table's schema and SELECT on the table (or the role pg_read_all_data)"

// DescribeTable reads the full definition of a source table and the types it needs
// (schema.Describe), on one connection of the pool, for creating and following it on a replica.
func (s *Source) DescribeTable(ctx context.Context, name, table string) (*schema.Table, error) {
	ctx, cancel := s.live.Call(ctx)
	defer cancel()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, explain(err, "describe "+pgx.Identifier{name, table}.Sanitize())
	}
	defer conn.Release()
	t, err := schema.Describe(ctx, conn.Conn(), name, table)
	if err != nil {
		return nil, explain(err, "describe "+pgx.Identifier{name, table}.Sanitize())
	}
	return t, nil
}

// ShapeHashes returns a hash of each tracked table's shape (sql/shape_hashes.sql), keyed by
// schema and table: it changes when a column is added, dropped, renamed or retyped, or an enum
// column's type gains a label.
func (s *Source) ShapeHashes(ctx context.Context) (map[[2]string]string, error) {
	ctx, cancel := s.live.Call(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, queries.ShapeHashes)
	if err != nil {
		return nil, explain(err, "read the tracked tables' shapes")
	}
	out := map[[2]string]string{}
	var k [2]string
	var h string
	_, err = pgx.ForEachRow(rows, []any{&k[0], &k[1], &h}, func() error {
		out[k] = h
		return nil
	})
	if err != nil {
		return nil, explain(err, "read the tracked tables' shapes")
	}
	return out, nil
}
