package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/bench/internal/workload"
)

// The row-change workloads of the main table, each on the source at url. A prepare step
// (untimed) reads what the writes need and opens their connections; the returned function is
// what is timed. The connections are held until the run's CPU accounting ends (a backend
// that exits before the last sample leaves the rest of its CPU to the postmaster).
type prepared func(ctx context.Context) (work, error)

// clients opens n workload connections to url, held until the run's accounting ends.
func (b *bench) clients(ctx context.Context, url string, n int) ([]*pgx.Conn, error) {
	var conns []*pgx.Conn
	for range n {
		c, err := connect(ctx, url, clientApp)
		if err != nil {
			return nil, err
		}
		b.held = append(b.held, c)
		conns = append(conns, c)
	}
	return conns, nil
}

// release closes the connections the last run held.
func (b *bench) release() {
	for _, c := range b.held {
		_ = c.Close(context.Background())
	}
	b.held = nil
}

// writeClients are the connections of the single-row workloads, as the issue specified.
const writeClients = 4

// rowsPerTx is the size of the bulk workloads' transactions.
const rowsPerTx = 1000

// keyOffset moves a key far above every id the bigserial will hand out during a run.
const keyOffset = int64(1_000_000_000_000)

func (b *bench) loadRows(ctx context.Context, url string, n int) (prepared, error) {
	conns, err := b.clients(ctx, url, 1)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (work, error) {
		if err := benchRows.Load(ctx, conns[0], n, rowsPerTx, noteBytes); err != nil {
			return work{}, err
		}
		return work{rows: int64(n), changes: int64(n)}, nil
	}, nil
}

// ids lists the main table's keys in order.
func ids(ctx context.Context, url string) ([]int64, error) {
	conn, err := connect(ctx, url, controlApp)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT id FROM `+benchRows.Name.Sanitize()+` ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// updateRows prepares n single-row updates (amount and note) from writeClients clients,
// spread over the rows so that each is updated once when n is the row count.
func (b *bench) updateRows(ctx context.Context, url string, n int) (prepared, error) {
	keys, err := ids(ctx, url)
	if err != nil || len(keys) == 0 {
		return nil, fmt.Errorf("updates need rows (%d): %v", len(keys), err)
	}
	perm := workload.Permutation(len(keys))
	st := workload.NumberedStatement{Title: "update", SQL: benchRows.Update(), Args: func(i int, r *rand.Rand) []any {
		return []any{keys[perm(i%len(keys))], workload.Note(r, noteBytes)}
	}}
	return b.numbered(ctx, url, n, st, 1)
}

// moveKeys prepares n primary-key updates of distinct rows from writeClients clients.
func (b *bench) moveKeys(ctx context.Context, url string, n int) (prepared, error) {
	keys, err := ids(ctx, url)
	if err != nil || len(keys) < n {
		return nil, fmt.Errorf("%d key moves need as many rows (%d): %v", n, len(keys), err)
	}
	perm := workload.Permutation(len(keys))
	st := workload.NumberedStatement{Title: "key move", SQL: `UPDATE ` + benchRows.Name.Sanitize() + ` SET id = id + $2 WHERE id = $1`,
		Args: func(i int, _ *rand.Rand) []any { return []any{keys[perm(i)], keyOffset} }}
	return b.numbered(ctx, url, n, st, 2) // the capture writes a delete of the old key and the new row
}

func (b *bench) numbered(ctx context.Context, url string, n int, st workload.NumberedStatement, changesPer int64) (prepared, error) {
	conns, err := b.clients(ctx, url, writeClients)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (work, error) {
		r, err := workload.Numbered{Conns: conns, Total: n}.Run(ctx, st)
		return work{rows: r.Statements, changes: r.Statements * changesPer}, err
	}, nil
}

// deleteAll prepares deleting every row, rowsPerTx rows per transaction.
func (b *bench) deleteAll(ctx context.Context, url string) (prepared, error) {
	keys, err := ids(ctx, url)
	if err != nil {
		return nil, err
	}
	conns, err := b.clients(ctx, url, 1)
	if err != nil {
		return nil, err
	}
	conn := conns[0]
	return func(ctx context.Context) (work, error) {
		for lo := 0; lo < len(keys); lo += rowsPerTx {
			batch := keys[lo:min(lo+rowsPerTx, len(keys))]
			if _, err := conn.Exec(ctx, `DELETE FROM `+benchRows.Name.Sanitize()+` WHERE id = ANY($1)`, batch); err != nil {
				return work{}, fmt.Errorf("delete rows %d..: %w", lo, err)
			}
		}
		return work{rows: int64(len(keys)), changes: int64(len(keys))}, nil
	}, nil
}

// reset empties the main table (TRUNCATE, replicated by both systems) unless it is empty,
// and waits until the replicas are empty too.
func (b *bench) reset(ctx context.Context, sys system) error {
	conn, err := connect(ctx, sys.sourceURL(), controlApp)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var nonEmpty bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM `+benchRows.Name.Sanitize()+`)`).Scan(&nonEmpty); err != nil {
		return err
	}
	if !nonEmpty {
		return nil
	}
	return b.settle(ctx, sys, []probe{benchProbe}, func(ctx context.Context) (work, error) {
		_, err := conn.Exec(ctx, `TRUNCATE `+benchRows.Name.Sanitize())
		return work{changes: 1}, err
	})
}
