package apply

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// DataError is a failure caused by the changes themselves (unknown table or column, a value
// the replica's types or constraints refuse): retrying the same changes as they are cannot
// help, so the caller isolates and eventually dead-letters them.
type DataError struct {
	Err error
}

func (e *DataError) Error() string { return e.Err.Error() }
func (e *DataError) Unwrap() error { return e.Err }

func dataErrorf(format string, args ...any) error {
	return &DataError{Err: fmt.Errorf(format, args...)}
}

// setupError is a failure to prepare the replica (bookkeeping schema): a configuration problem
// such as a missing privilege, never the data's fault.
type setupError struct{ err error }

func (e *setupError) Error() string { return e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

// IsTransient reports whether err is about the connection, the server's state or its
// configuration rather than the data: worth retrying unchanged after a backoff. Anything
// unrecognized counts as transient because dead-lettering good changes is worse than waiting.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var (
		de    *DataError
		se    *setupError
		conn  *pgconn.ConnectError
		pgErr *pgconn.PgError
	)
	var stale *StaleError
	switch {
	case errors.As(err, &de), errors.As(err, &stale):
		return false
	case errors.As(err, &se), errors.As(err, &conn):
		// A connect error can wrap a server error (database missing, authentication failed):
		// still the connection's problem.
		return true
	}
	if !errors.As(err, &pgErr) {
		return true
	}
	return transientCode(pgErr.Code)
}

// IsDeadlock reports whether the replica aborted err's transaction as a deadlock (40P01), a
// transient error that apply's one lock order should make impossible.
func IsDeadlock(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "40P01"
}

// transientCode classifies a SQLSTATE. Transient: serialization failures and deadlocks (40),
// connection problems (08), resources (53), lock or object-in-use conditions (55), server
// shutdown (57P01-57P05), system errors (58), a read-only replica (25006). Everything else
// (22 data exceptions, 23 constraint violations, 42 undefined table/column or missing privilege,
// 54 values too large, 57014 statement timeout, XX) points at the batch: bisecting isolates it.
func transientCode(code string) bool {
	if len(code) != 5 {
		return true
	}
	switch code[:2] {
	case "40", "08", "53", "55", "58":
		return true
	case "57":
		return code != "57014"
	case "25":
		return code == "25006"
	}
	return false
}

// StaleError is a batch holding changes below the replica's bookkeeping horizon that the
// replica cannot place: their keys' entries (or a keyless table's events) may have been
// pruned, so applying them could bring back an older state (docs/bookkeeping.md). Nothing of
// the batch was applied. The changes themselves are fine: a new copy of their tables
// (`replicator resync`) makes the replica exact again.
type StaleError struct {
	Cutoff   int64   // the horizon's cutoff
	Versions []int64 // the stale changes' versions
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("%d changes (from version %d) are older than the replica's bookkeeping horizon (version %d) "+
		"and their entries may have been pruned: the replica cannot tell whether they are newer than its rows; "+
		"copy their table again (replicator resync --tables)", len(e.Versions), slicesMin(e.Versions), e.Cutoff)
}

func slicesMin(vs []int64) int64 {
	m := int64(0)
	for i, v := range vs {
		if i == 0 || v < m {
			m = v
		}
	}
	return m
}
