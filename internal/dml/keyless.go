package dml

import (
	"strconv"
	"strings"
)

// Keyless tables (no primary key; duplicate rows allowed) hold a multiset of row images. Every
// change is an event: +1 image (an insert, the new side of an update) or -1 image (a delete, the
// old side of an update). The replica must hold of each image as many copies as its events add
// up to, never fewer than zero. Whatever the order events arrive in, the sum is the same; a
// delete that arrives before its insert leaves a debt that the insert pays.
//
// Bookkeeping, all of it O(changed rows):
//   - pgfanout.keyless_log: every event recorded once (a redelivered event adds nothing), with
//     its image's digest and delta, so that a truncate can tell what came after it;
//   - pgfanout.keyless_debts: per image, copies owed (deletes applied before their inserts);
//   - the replica table's own rows: the copies. A delete finds its copies through
//     pgfanout's digest index on the table (created on the first delete), never by a scan.
//
// An image's identity is the SHA-256 of its row's text (ROW(writable columns)::text) under the
// pinned output settings: two rows are one image exactly when every column prints the same.
// Statements on one image serialize on a transaction advisory lock keyed by it, taken in key
// order in a statement of its own (the statements after it then see every copy committed
// before they could start). No table lock beyond ROW EXCLUSIVE is taken.

// rowOf is the ROW() of the table's writable columns of record rec (a row alias or
// "(p.rec)"), the text whose digest identifies an image.
func rowOf(t *Table, rec string) string {
	return "ROW(" + list(t.Writable(), rec+".", "") + ")"
}

// digestOf is the digest of rec's image.
func digestOf(t *Table, rec string) string { return "pgfanout.row_digest(" + rowOf(t, rec) + ")" }

// DigestIndexName is the name of pgfanout's digest index on a keyless table of relid.
func DigestIndexName(relid uint32) string {
	return "pgfanout_digest_" + strconv.FormatUint(uint64(relid), 10)
}

// DigestIndex creates pgfanout's digest index on a keyless table: the one way its copies of an
// image are found. A hash index (an image can be longer than a btree entry may be), built
// CONCURRENTLY (outside any transaction): its lock does not conflict with the ROW EXCLUSIVE of
// applies going on, so none of them queues behind it.
func DigestIndex(t *Table, relid uint32) string {
	return "CREATE INDEX CONCURRENTLY IF NOT EXISTS " + ident(DigestIndexName(relid)) + " ON " + t.Ident() +
		" USING hash (pgfanout.row_digest(ROW(" + list(t.Writable(), "", "") + ")))"
}

// DigestIndexState reports whether pgfanout's digest index $1 (schema-qualified name, text)
// exists and whether it is valid (a concurrent build that failed leaves an invalid one).
const DigestIndexState = `SELECT (SELECT i.indisvalid FROM pg_catalog.pg_index i WHERE i.indexrelid = to_regclass($1)), to_regclass($1) IS NOT NULL`

// DigestIndexLock tries the session advisory lock of building the digest index of table $1;
// DigestIndexUnlock releases it.
const (
	DigestIndexLock   = `SELECT pg_try_advisory_lock(1885824609, $1::oid::int)`
	DigestIndexUnlock = `SELECT pg_advisory_unlock(1885824609, $1::oid::int)`
)

// DropDigestIndex drops an invalid digest index, so that it can be built again.
func DropDigestIndex(t *Table, relid uint32) string {
	return "DROP INDEX CONCURRENTLY IF EXISTS " + pgxIdent(t.Schema, DigestIndexName(relid))
}

// KeylessEvents records a batch's events of one table and returns, per image, the sum of the
// events that were new, with one image text to insert copies from: $2 versions, $3 images (the
// row for +1, the old row for -1), $4 source transaction ids, $5 deltas. Events a copy of the
// table already holds (their transaction visible in the copy's snapshot) are dropped.
func KeylessEvents(t *Table) string {
	return `WITH e AS (
  SELECT DISTINCT ON (u.version) u.version, u.txid, u.delta, u.img, ` + digestOf(t, "(p.rec)") + ` AS digest
  FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::integer[]) AS u(version, img, txid, delta)
  ` + parseImage(t, "u.img", "p") + `
  WHERE u.version > ` + watermark + `
    AND NOT coalesce(pg_visible_in_snapshot(u.txid::text::xid8,
          (SELECT s.snap FROM pgfanout.keyless_copies s WHERE s.relid = ` + relid + `)), false)
  ORDER BY u.version -- a change delivered twice in one batch is one event
),
ins AS (
  INSERT INTO pgfanout.keyless_log AS x (relid, version, digest, delta, txid)
  SELECT ` + relid + `, e.version, e.digest, e.delta, e.txid FROM e ORDER BY e.version
  ON CONFLICT (relid, version) DO NOTHING
  RETURNING x.version
),
fresh AS (SELECT jsonb_object_agg(ins.version::text, true) AS s FROM ins)
SELECT e.digest, sum(e.delta)::integer, (array_agg(e.img) FILTER (WHERE e.delta > 0))[1]
FROM e WHERE (SELECT fresh.s FROM fresh) ? e.version::text
GROUP BY e.digest ORDER BY e.digest`
}

// imageLock is the advisory lock key of image $2 of table $1.
const imageLock = "hashtextextended(encode(d, 'hex'), $1::oid::bigint)"

// KeylessLocks takes the advisory locks of images $2 (digests) of table $1, in key order.
const KeylessLocks = `SELECT pg_advisory_xact_lock(s.k) FROM (
  SELECT DISTINCT ` + imageLock + ` AS k FROM unnest($2::bytea[]) AS d) AS s
ORDER BY s.k`

// KeylessApply brings each image's copies to its new count, under the image locks taken by
// KeylessLocks: $2 digests, $3 the sum of their new events, $4 an image text for each (NULL
// when no event added a copy). A positive sum pays the image's debt first, then inserts; a
// negative one deletes copies, found through the digest index, and owes what it could not
// delete. cols are the writable columns.
func KeylessApply(t *Table) string {
	tbl := t.Ident()
	cols := t.Writable()
	var b strings.Builder
	b.WriteString(`WITH d AS (
  SELECT u.digest, u.delta, u.img, coalesce(k.owed, 0) AS owed
  FROM unnest($2::bytea[], $3::integer[], $4::text[]) AS u(digest, delta, img)
  LEFT JOIN pgfanout.keyless_debts k ON k.relid = ` + relid + ` AND k.digest = u.digest
),
cand AS (
  SELECT d.digest, x.tid FROM d
  CROSS JOIN LATERAL (SELECT t.ctid AS tid FROM ` + tbl + ` AS t WHERE ` + digestOf(t, "t") + ` = d.digest LIMIT -d.delta) AS x
  WHERE d.delta < 0
),
del AS (
  DELETE FROM ` + tbl + ` AS t USING cand c WHERE t.ctid = c.tid RETURNING c.digest
),
gone AS (SELECT jsonb_object_agg(g.h, g.n) AS m FROM (SELECT encode(del.digest, 'hex') AS h, count(*) AS n FROM del GROUP BY 1) g),
owed AS (
  SELECT d.digest, d.owed AS before,
         CASE WHEN d.delta > 0 THEN greatest(d.owed - d.delta, 0)
              ELSE d.owed - d.delta - coalesce(((SELECT gone.m FROM gone) ->> encode(d.digest, 'hex'))::integer, 0) END AS after
  FROM d
),
owe AS (
  INSERT INTO pgfanout.keyless_debts AS k (relid, digest, owed)
  SELECT ` + relid + `, o.digest, o.after FROM owed o WHERE o.after > 0 AND o.after <> o.before ORDER BY o.digest
  ON CONFLICT (relid, digest) DO UPDATE SET owed = excluded.owed
),
paid AS (
  DELETE FROM pgfanout.keyless_debts k USING owed o
  WHERE k.relid = ` + relid + ` AND k.digest = o.digest AND o.after = 0 AND o.before > 0
)
`)
	if len(cols) == 0 {
		b.WriteString("SELECT count(*) FROM d") // no column to write: nothing to insert
		return b.String()
	}
	b.WriteString("INSERT INTO " + tbl + " (" + list(cols, "", "") + ") OVERRIDING SYSTEM VALUE\n")
	b.WriteString("SELECT " + list(cols, "(r.rec).", "") + `
FROM d
CROSS JOIN LATERAL generate_series(1, d.delta - least(d.owed, d.delta))
` + parseImage(t, "d.img", "r") + `
WHERE d.delta > d.owed`)
	return b.String()
}

// KeylessReplace replaces a keyless table's contents with a copy: $2 the copied rows' images,
// $3 the copy's snapshot. The caller holds the table's SHARE ROW EXCLUSIVE lock since before
// the copy's snapshot was taken, so every event the replica applied before was committed on
// the source before that snapshot, and is in the copy: the copy replaces the rows, the debts
// and the events' records. Events that arrive later are dropped when the snapshot saw them
// (keyless_copies), applied otherwise.
func KeylessReplace(t *Table) string {
	tbl := t.Ident()
	cols := t.Writable()
	var b strings.Builder
	b.WriteString(`WITH gone AS (DELETE FROM ` + tbl + `),
debts AS (DELETE FROM pgfanout.keyless_debts k WHERE k.relid = ` + relid + `),
events AS (DELETE FROM pgfanout.keyless_log x WHERE x.relid = ` + relid + `),
snap AS (
  INSERT INTO pgfanout.keyless_copies AS s (relid, snap) VALUES (` + relid + `, $3::pg_snapshot)
  ON CONFLICT (relid) DO UPDATE SET snap = excluded.snap
)
`)
	if len(cols) == 0 {
		b.WriteString("SELECT count(*) FROM unnest($2::text[])")
		return b.String()
	}
	b.WriteString("INSERT INTO " + tbl + " (" + list(cols, "", "") + ") OVERRIDING SYSTEM VALUE\n")
	b.WriteString("SELECT " + list(cols, "(p.rec).", "") + ` FROM unnest($2::text[]) AS u(img)
` + parseImage(t, "u.img", "p"))
	return b.String()
}
