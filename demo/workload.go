package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sourcegraph/conc/pool"
)

type workloadStats struct {
	changes atomic.Int64
}

// workload writes a steady mix of inserts, updates and deletes (also multi-row statements
// and primary-key changes) until ctx ends.
func workload(ctx context.Context, url string, clients int, stats *workloadStats) error {
	db, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer db.Close()
	p := pool.New().WithErrors()
	for c := 0; c < clients; c++ {
		p.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			for ctx.Err() == nil {
				n, err := step(ctx, db, rng)
				if err != nil && ctx.Err() == nil && !isConflict(err) {
					return err
				}
				stats.changes.Add(n)
			}
			return nil
		})
	}
	return p.Wait()
}

func step(ctx context.Context, db *pgxpool.Pool, rng *rand.Rand) (int64, error) {
	id := rng.Int64N(5000)
	var sql string
	var args []any
	switch r := rng.IntN(100); {
	case r < 30:
		sql = `INSERT INTO demo.customers (id, name, email) VALUES ($1, $2, $3)
		       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, updated_at = now()`
		args = []any{id, "customer " + randomWord(rng), randomWord(rng) + "@example.com"}
	case r < 55:
		sql = `INSERT INTO demo.orders (id, customer_id, amount, status)
		       SELECT $1::bigint * 10 + g, $1, round((random() * 1000)::numeric, 2), 'new'
		       FROM generate_series(0, 9) g ON CONFLICT (id) DO NOTHING`
		args = []any{id}
	case r < 75:
		sql = `UPDATE demo.orders SET status = $2, amount = amount + 1 WHERE id BETWEEN $1 * 10 AND $1 * 10 + 4`
		args = []any{id, []string{"paid", "shipped", "cancelled"}[rng.IntN(3)]}
	case r < 85:
		sql = `DELETE FROM demo.orders WHERE id BETWEEN $1 * 10 AND $1 * 10 + 9`
		args = []any{id}
	case r < 90:
		sql = `UPDATE demo.customers SET id = id + 5000 WHERE id = $1` // a primary-key change
		args = []any{id}
	case r < 97:
		sql = `INSERT INTO demo.events (kind, payload) VALUES ($1, jsonb_build_object('id', $2::bigint))`
		args = []any{[]string{"login", "logout", "view"}[rng.IntN(3)], id % 50}
	default:
		sql = `DELETE FROM demo.events WHERE ctid IN (SELECT ctid FROM demo.events WHERE payload->>'id' = ($1::bigint)::text LIMIT 1)`
		args = []any{id % 50}
	}
	tag, err := db.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func randomWord(rng *rand.Rand) string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 8)
	for i := range b {
		b[i] = letters[rng.IntN(len(letters))]
	}
	return string(b)
}

// isConflict: concurrent clients may race on the same keys (e.g. a primary-key change
// colliding with an insert); the demo skips those statements.
func isConflict(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505", "40P01", "40001":
			return true
		}
	}
	return false
}
