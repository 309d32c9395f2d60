package dml

// The bookkeeping horizon (docs/bookkeeping.md): pgfanout.horizon's cutoff is a version below
// which entries may be pruned and changes are stale. An apply reads the cutoff under
// HorizonLockKey shared and holds it until commit; the pruner raises the cutoff under the key
// exclusively, so once the raise commits no apply still works with the older cutoff. The
// pruner's deletes each hold StaleLockKey shared; an apply that must look at entries below
// the cutoff holds it exclusively, so that no entry it saw goes before it commits.

// HorizonLockKey and StaleLockKey are transaction advisory lock keys ("pgfahrzn", "pgfastal"
// in ASCII); PruneLockKey, a session lock key, lets one pruner run at a time ("pgfaprun").
const (
	HorizonLockKey int64 = 0x7067_6661_6872_7a6e
	StaleLockKey   int64 = 0x7067_6661_7374_616c
	PruneLockKey   int64 = 0x7067_6661_7072_756e
)

// Horizon statements: $1 is a lock key where one is taken.
const (
	LockShared     = `SELECT pg_advisory_xact_lock_shared($1)`
	LockExclusive  = `SELECT pg_advisory_xact_lock($1)`
	TryLockSession = `SELECT pg_try_advisory_lock($1)`
	UnlockSession  = `SELECT pg_advisory_unlock($1)`
	// HorizonRead runs in a statement after LockShared: its snapshot sees every raise that
	// committed before the lock was granted.
	HorizonRead = `SELECT cutoff, seen FROM pgfanout.horizon`
	// HorizonRaise raises the cutoff to $1 and the seen mark to $2 (never lowering either;
	// seen never falls below the cutoff), returning the cutoff.
	HorizonRaise = `UPDATE pgfanout.horizon SET cutoff = greatest(cutoff, $1), seen = greatest(seen, $1, $2),
  advanced_at = clock_timestamp() RETURNING cutoff`
	// HorizonSee raises only the seen mark, which needs no fence: nothing reads it under one.
	HorizonSee = `UPDATE pgfanout.horizon SET seen = greatest(seen, $1) RETURNING cutoff`
	// Pages is the number of pages of bookkeeping table $1 (a regclass name), for the pruner's
	// passes.
	Pages = `SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int`
)

// Prune deletes the entries of bookkeeping table table (row_versions or keyless_log) below
// cutoff $3 on pages [$1, $2). Rows an apply holds are skipped (they are being replaced by a
// change above the cutoff): the pruner never waits for a row, so it cannot deadlock.
func Prune(table string) string {
	return `DELETE FROM pgfanout.` + table + ` WHERE ctid = ANY(ARRAY(
  SELECT ctid FROM pgfanout.` + table + `
  WHERE ctid >= format('(%s,0)', $1::bigint)::tid AND ctid < format('(%s,0)', $2::bigint)::tid AND version < $3
  FOR UPDATE SKIP LOCKED))`
}

// StaleKeyed returns the versions of keyed changes below the cutoff ($2 versions, $3 images
// holding the key columns) that the replica cannot place: their key has no entry (it may have
// been pruned) and they are above the table's truncation watermark. Every other change keeps
// its exact treatment: an entry present is the newest change applied to its key since any
// prune of it.
func StaleKeyed(t *Table) string {
	return `SELECT u.version FROM unnest($2::bigint[], $3::text[]) AS u(version, img)
  ` + parseImage(t, "u.img", "p") + `
  CROSS JOIN LATERAL (SELECT ` + keyArray(t, "(p.rec)") + `) AS k(key)
WHERE u.version > ` + watermark + `
  AND NOT EXISTS (SELECT FROM pgfanout.row_versions v WHERE v.relid = ` + relid + ` AND v.key = k.key)`
}

// StaleKeyless returns the versions among $2 (events of a keyless table below the cutoff)
// that are not in the table's event log: pruned, or never applied, which the replica cannot
// tell apart.
const StaleKeyless = `SELECT u.version FROM unnest($2::bigint[]) AS u(version)
WHERE u.version > ` + watermark + `
  AND NOT EXISTS (SELECT FROM pgfanout.keyless_log l WHERE l.relid = ` + relid + ` AND l.version = u.version)`

// StaleTruncate returns $2, a truncate below the cutoff, unless the table's watermark is
// already at or above it (then it is a duplicate, which does nothing).
const StaleTruncate = `SELECT $2::bigint WHERE ` + watermark + ` < $2::bigint`
