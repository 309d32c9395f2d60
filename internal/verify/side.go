package verify

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfanout/pgfanout/internal/dml"
	"github.com/pgfanout/pgfanout/internal/liveness"
)

// side runs verify's statements (internal/dml/verify.go) on one database. On the source
// (snapshot) each statement reads in a REPEATABLE READ READ ONLY transaction of its own: no
// lock a writer waits for, and one consistent view per range.
type side struct {
	name     string
	pool     *pgxpool.Pool
	snapshot bool
	live     liveness.Settings
}

// keyRange is a primary-key range [lo, hi) of a table (nil: unbounded), as chunk bounds are.
type keyRange struct{ lo, hi []byte }

func (r keyRange) bounds() dml.Bounds { return dml.Bounds{Lo: r.lo != nil, Hi: r.hi != nil} }

func (r keyRange) args() []any {
	var args []any
	for _, b := range [][]byte{r.lo, r.hi} {
		if b != nil {
			args = append(args, string(b))
		}
	}
	return args
}

// query runs sql and hands each row to scan. bounded: the statement's work is bounded (a
// range, a batch of keys), so it gets the liveness round-trip deadline; a whole keyless table
// does not.
func (s *side) query(ctx context.Context, bounded bool, sql string, args []any, scan func(pgx.Rows) error) error {
	if bounded {
		var cancel context.CancelFunc
		ctx, cancel = s.live.Call(ctx)
		defer cancel()
	}
	run := func(q interface {
		Query(context.Context, string, ...any) (pgx.Rows, error)
	}) error {
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	if !s.snapshot {
		return run(s.pool)
	}
	return s.inSnapshot(ctx, sql, args, scan)
}

// inSnapshot runs sql in a REPEATABLE READ READ ONLY transaction of its own, sent as one
// pipeline (BEGIN, the statement, COMMIT): one round trip per range, not three. If the
// statement fails, the server skips the COMMIT and the pool discards the connection, whose
// transaction it left open (pgxpool keeps only idle connections).
func (s *side) inSnapshot(ctx context.Context, sql string, args []any, scan func(pgx.Rows) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	b := &pgx.Batch{}
	b.Queue(beginSnapshot)
	b.Queue(sql, args...)
	b.Queue("COMMIT")
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return err
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	for rows.Next() {
		if err := scan(rows); err != nil {
			rows.Close()
			return err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if _, err := br.Exec(); err != nil {
		return err
	}
	return br.Close()
}

// beginSnapshot starts the transaction a source statement reads in: one snapshot, no locks.
const beginSnapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

// rangeHash counts a range's rows and sums their hashes.
func (s *side) rangeHash(ctx context.Context, t *table, r keyRange) (rows int64, sum string, err error) {
	err = s.query(ctx, !t.def.Keyless(), dml.RangeHash(t.def, t.cols, r.bounds()), r.args(), func(row pgx.Rows) error {
		return row.Scan(&rows, &sum)
	})
	if err != nil {
		return 0, "", fmt.Errorf("%s: hash %s: %w", s.name, t.name(), err)
	}
	return rows, sum, nil
}

// rowHashes is key (or image hash) → row hash (or copies), with the keys in the order read.
type rowHashes struct {
	m     map[string]int64
	order []string
}

func (h *rowHashes) add(k string, v int64) {
	if h.m == nil {
		h.m = map[string]int64{}
	}
	if _, dup := h.m[k]; !dup {
		h.order = append(h.order, k)
	}
	h.m[k] = v
}

func (s *side) collect(ctx context.Context, bounded bool, what, sql string, args ...any) (rowHashes, error) {
	var out rowHashes
	err := s.query(ctx, bounded, sql, args, func(row pgx.Rows) error {
		var k string
		var v int64
		if err := row.Scan(&k, &v); err != nil {
			return err
		}
		out.add(k, v)
		return nil
	})
	if err != nil {
		return rowHashes{}, fmt.Errorf("%s: %s: %w", s.name, what, err)
	}
	return out, nil
}

// rangeRows reads key and hash of every row of a range.
func (s *side) rangeRows(ctx context.Context, t *table, r keyRange) (rowHashes, error) {
	return s.collect(ctx, true, "read the rows of a range of "+t.name(), dml.RangeRows(t.def, t.cols, r.bounds()), r.args()...)
}

// keyRows reads key and hash of the rows of keys (JSON objects of the key columns).
func (s *side) keyRows(ctx context.Context, t *table, keys []string) (rowHashes, error) {
	return s.collect(ctx, true, "re-check keys of "+t.name(), dml.KeyRows(t.def, t.cols), "["+strings.Join(keys, ",")+"]")
}

// imageCounts counts the rows of a keyless table per row hash (as decimal text, the way
// candidates hold it): all, or only those of hashes.
func (s *side) imageCounts(ctx context.Context, t *table, hashes []int64) (rowHashes, error) {
	var args []any
	if hashes != nil {
		args = append(args, hashes)
	}
	var out rowHashes
	err := s.query(ctx, false, dml.ImageCounts(t.def, t.cols, hashes != nil), args, func(row pgx.Rows) error {
		var h, n int64
		if err := row.Scan(&h, &n); err != nil {
			return err
		}
		out.add(strconv.FormatInt(h, 10), n)
		return nil
	})
	if err != nil {
		return rowHashes{}, fmt.Errorf("%s: count the row images of %s: %w", s.name, t.name(), err)
	}
	return out, nil
}

// imageTexts reads one row's text per hash.
func (s *side) imageTexts(ctx context.Context, t *table, hashes []int64) (map[int64]string, error) {
	out := map[int64]string{}
	err := s.query(ctx, false, dml.ImageTexts(t.def, t.cols), []any{hashes}, func(row pgx.Rows) error {
		var h int64
		var text string
		if err := row.Scan(&h, &text); err != nil {
			return err
		}
		out[h] = text
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: read row images of %s: %w", s.name, t.name(), err)
	}
	return out, nil
}
