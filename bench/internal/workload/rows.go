// Package workload writes what the benchmarks measure: the row table most of them use, bulk
// loads in transactions of N rows, and N clients running statements flat out or at a rate.
package workload

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Rows is the benchmarks' row table: five columns of common types (bigserial key, integer,
// numeric, text, timestamptz), as an application's table would have them. The note's length
// sets a row's size: NoteBytes(300) makes rows of about 300 bytes of JSON.
type Rows struct {
	Name pgx.Identifier
}

// Create is the table's DDL.
func (r Rows) Create() string {
	return `CREATE TABLE ` + r.Name.Sanitize() + ` (
    id         bigserial     PRIMARY KEY,
    account    integer       NOT NULL,
    amount     numeric(12,2) NOT NULL,
    note       text          NOT NULL,
    created_at timestamptz   NOT NULL DEFAULT now()
)`
}

// Insert inserts one row: $1 account, $2 amount, $3 note.
func (r Rows) Insert() string {
	return `INSERT INTO ` + r.Name.Sanitize() + ` (account, amount, note) VALUES ($1, $2, $3)`
}

// Update changes row $1: its amount goes up by one and its note becomes $2.
func (r Rows) Update() string {
	return `UPDATE ` + r.Name.Sanitize() + ` SET amount = amount + 1, note = $2 WHERE id = $1`
}

// InsertSeries inserts one row for each g from $1 to $2: account g % 1000, amount g * 0.01,
// note $3 || g.
func (r Rows) InsertSeries() string {
	return `INSERT INTO ` + r.Name.Sanitize() + ` (account, amount, note)
SELECT g % 1000, g * 0.01, $3 || g FROM generate_series($1::bigint, $2::bigint) g`
}

// InsertFilled inserts one row for each g from $1 to $2 like InsertSeries, with a note of $3
// characters of md5 text of g, so that the rows compress like real data, not like 'xxxx'.
func (r Rows) InsertFilled() string {
	return `INSERT INTO ` + r.Name.Sanitize() + ` (account, amount, note)
SELECT g % 1000, g * 0.01, left(repeat(md5(g::text), $3::int / 32 + 1), $3::int) FROM generate_series($1::bigint, $2::bigint) g`
}

// Load inserts total rows with notes of noteBytes characters, perTx rows per transaction
// (one InsertFilled statement each).
func (r Rows) Load(ctx context.Context, conn Execer, total, perTx, noteBytes int) error {
	if err := InRanges(ctx, conn, r.InsertFilled(), total, perTx, noteBytes); err != nil {
		return fmt.Errorf("load %s: %w", r.Name.Sanitize(), err)
	}
	return nil
}

// rowOverhead is the JSON of a row without its note's characters:
// {"id":123456,"account":123,"amount":1234.56,"note":"","created_at":"2026-11-21T12:34:56.123456+00:00"}
const rowOverhead = 101

// NoteBytes is the note length that makes a row's JSON image (row_to_json) about rowBytes.
func NoteBytes(rowBytes int) int { return max(rowBytes-rowOverhead, 1) }

// Note is n random hex characters, a note for Insert or Update.
func Note(r *rand.Rand, n int) string {
	const hexdigits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hexdigits[r.IntN(16)]
	}
	return string(b)
}

// Execer runs a statement: a *pgx.Conn (autocommit: each statement its own transaction) or
// a pgx.Tx.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// InRanges runs sql once for each range of at most per numbers covering 1..total, in order,
// with $1 the range's first number and $2 its last, then args: on a connection in autocommit,
// a bulk load in transactions of per rows.
func InRanges(ctx context.Context, conn Execer, sql string, total, per int, args ...any) error {
	if per <= 0 {
		return fmt.Errorf("rows per range must be positive, not %d", per)
	}
	for lo := 1; lo <= total; lo += per {
		hi := min(lo+per-1, total)
		if _, err := conn.Exec(ctx, sql, append([]any{lo, hi}, args...)...); err != nil {
			return fmt.Errorf("rows %d..%d: %w", lo, hi, err)
		}
	}
	return nil
}
