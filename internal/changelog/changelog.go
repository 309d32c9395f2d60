// Package changelog reads and trims pgfanout.changes, the source's durable change log: one
// entry per (statement, table, operation) holding a JSON array of its changes (Items).
package changelog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/internal/change"
	queries "github.com/pgfanout/pgfanout/sql"
)

// Limits bound one fetch. The entry that crosses a bound is still fetched, so that an entry
// larger than the bounds makes progress on its own.
type Limits struct {
	Changes int
	Bytes   int
}

// Batch is a run of entries in version order, exploded into their changes.
type Batch struct {
	Versions []int64         // the entries' versions (primary keys), for Delete
	Changes  []change.Change // entry by entry, in version order of the entries
}

// Empty reports whether the fetch found nothing.
func (b *Batch) Empty() bool { return len(b.Versions) == 0 }

// Last is the version of the last entry, where the next fetch may continue.
func (b *Batch) Last() int64 {
	if b.Empty() {
		return 0
	}
	return b.Versions[len(b.Versions)-1]
}

// Store runs the change-log statements on one connection, each within a deadline: a
// statement on a connection whose server vanished fails after timeout instead of hanging
// (pgx then closes the connection).
type Store struct {
	conn    *pgx.Conn
	timeout time.Duration
}

// New returns a store on conn whose statements each take at most timeout (0: no deadline).
func New(conn *pgx.Conn, timeout time.Duration) *Store { return &Store{conn: conn, timeout: timeout} }

func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.timeout)
}

// Fetch reads the entries after version `after` (0: from the start) within lim.
func (s *Store) Fetch(ctx context.Context, after int64, lim Limits) (*Batch, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	rows, err := s.conn.Query(ctx, queries.FetchChanges, after, lim.Changes, lim.Bytes)
	if err != nil {
		return nil, fmt.Errorf("fetch changes after %d: %w", after, err)
	}
	defer rows.Close()
	b := &Batch{}
	makers := keyMakers{} // entries with the same key columns share one
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.version, &e.txid, &e.schema, &e.table, &e.op, &e.capturedAt, &e.n, &e.keyNames, &e.items); err != nil {
			return nil, fmt.Errorf("read change-log entry: %w", err)
		}
		keys, err := makers.get(e.keyNames)
		if err != nil {
			return nil, fmt.Errorf("change-log entry %d: key columns: %w", e.version, err)
		}
		if err := e.explode(b, keys); err != nil {
			return nil, fmt.Errorf("change-log entry %d: %w", e.version, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fetch changes after %d: %w", after, err)
	}
	return b, nil
}

// Delete removes the given entries in one statement.
func (s *Store) Delete(ctx context.Context, versions []int64) error {
	if len(versions) == 0 {
		return nil
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	if _, err := s.conn.Exec(ctx, queries.DeleteChanges, versions); err != nil {
		return fmt.Errorf("delete %d change-log entries from %d: %w", len(versions), versions[0], err)
	}
	return nil
}

// AdvanceLowWater advances the source's low-water mark and returns it (docs/bookkeeping.md).
// It must not run inside a transaction.
func (s *Store) AdvanceLowWater(ctx context.Context) (int64, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var low int64
	if err := s.conn.QueryRow(ctx, queries.AdvanceLowWater).Scan(&low); err != nil {
		return 0, fmt.Errorf("advance the low-water mark: %w", err)
	}
	return low, nil
}

// TakeIdleLock raises the idle flag for leader term `term` and takes the publisher's idle
// lock (a session advisory lock), as a waiting publisher does (migration 000007): while both
// hold, 'wakeup' capture notifies. It reports false, holding nothing and with the flag down,
// while a transaction that captured changes without notifying is still open (its changes
// are not visible yet), while another session holds the key, or when the term has ended.
func (s *Store) TakeIdleLock(ctx context.Context, term int64) (bool, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	err := s.conn.QueryRow(ctx, queries.IdleRaise, term).Scan(&term)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("raise the idle flag of term %d: %w", term, err)
	}
	var ok bool
	if err := s.conn.QueryRow(ctx, queries.IdleTake).Scan(&ok); err != nil {
		return false, fmt.Errorf("take the idle lock: %w", err)
	}
	return ok, nil
}

// ReleaseIdleLock lowers the flag and releases the idle lock taken by TakeIdleLock.
func (s *Store) ReleaseIdleLock(ctx context.Context) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var ok bool
	if err := s.conn.QueryRow(ctx, queries.IdleRelease).Scan(&ok); err != nil {
		return fmt.Errorf("release the idle lock: %w", err)
	}
	if !ok {
		return errors.New("release the idle lock: it was not held")
	}
	return nil
}

type entry struct {
	version    int64
	txid       uint64
	schema     string
	table      string
	op         byte
	capturedAt time.Time
	n          int32
	keyNames   []byte // the key columns as a JSON array of names
	items      []byte
}

// explode appends the entry's changes to b. Key and row keep pointing into e.items (a derived
// key into keys' buffer).
func (e *entry) explode(b *Batch, keys *keyMaker) error {
	op, err := change.OpFromCode(e.op)
	if err != nil {
		return err
	}
	first := len(b.Changes)
	items := Items{JSON: e.items, First: e.version, Op: op, keys: keys}
	err = items.Each(func(version int64, key, row []byte) {
		b.Changes = append(b.Changes, change.Change{
			Version: version, Op: op, Schema: e.schema, Table: e.table,
			Key: key, Row: row, TxID: e.txid, CommittedAt: e.capturedAt,
		})
	})
	if err != nil {
		return err
	}
	if got := len(b.Changes) - first; got != int(e.n) {
		return fmt.Errorf("items hold %d changes, n says %d", got, e.n)
	}
	b.Versions = append(b.Versions, e.version)
	return nil
}
