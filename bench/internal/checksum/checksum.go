// Package checksum tells whether two tables hold the same rows, on one cluster or across
// clusters, without moving them: an order-independent digest computed by the server.
package checksum

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Sum is a table's digest: its row count and the sum of a 64-bit hash of each row's text.
// A sum does not depend on the rows' physical order; two tables with the same rows (same
// column types, values and column order) have the same Sum on any server.
type Sum struct {
	Rows int64
	Hash string // numeric, as text: the sum of up to 2^63 hashes does not fit 64 bits
}

func (s Sum) String() string { return fmt.Sprintf("%d rows, hash %s", s.Rows, s.Hash) }

// Spec names the table and, optionally, the columns (in this order) that make a row; without
// columns the whole row counts, in the table's column order.
type Spec struct {
	Table   pgx.Identifier
	Columns []string
}

// Query is the statement computing the Sum of spec. Each row's text is hashed with md5, whose
// first 16 hex digits become a signed 64-bit number; summing them (as numeric, so without
// overflow) makes the result independent of the order in which the rows are read.
func (s Spec) Query() string {
	row := "(t.*)::text"
	if len(s.Columns) > 0 {
		cols := make([]string, len(s.Columns))
		for i, c := range s.Columns {
			cols[i] = "t." + pgx.Identifier{c}.Sanitize()
		}
		row = "ROW(" + strings.Join(cols, ", ") + ")::text"
	}
	return "SELECT count(*), coalesce(sum(('x' || left(md5(" + row + "), 16))::bit(64)::bigint), 0)::text FROM " +
		s.Table.Sanitize() + " AS t"
}

// Table computes spec's Sum in a read-only transaction of its own on conn.
func Table(ctx context.Context, conn *pgx.Conn, spec Spec) (Sum, error) {
	var sum Sum
	err := pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// The settings a value's text depends on, pinned so that sessions and servers
		// configured differently agree.
		names := []string{"TimeZone", "DateStyle", "IntervalStyle", "extra_float_digits", "bytea_output", "lc_monetary"}
		values := []string{"UTC", "ISO, YMD", "postgres", "1", "hex", "C"}
		if _, err := tx.Exec(ctx, `SELECT set_config(n, v, true) FROM unnest($1::text[], $2::text[]) AS s(n, v)`, names, values); err != nil {
			return fmt.Errorf("pin output settings: %w", err)
		}
		return tx.QueryRow(ctx, spec.Query()).Scan(&sum.Rows, &sum.Hash)
	})
	if err != nil {
		return Sum{}, fmt.Errorf("checksum of %s: %w", spec.Table.Sanitize(), err)
	}
	return sum, nil
}
