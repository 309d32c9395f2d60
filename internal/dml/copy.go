package dml

import (
	"strconv"
	"strings"
)

// A copied chunk (docs/bootstrap.md) is the state of a primary-key range [lo, hi) of a source
// table in one snapshot S. Applying it makes each key of the range take the copy's state,
// present (the copied row) or absent, unless the key's state is already newer than S: an
// entry from a change whose source transaction S did not see. Keys that take the copy's state
// get a copy entry (snap = S, which later changes are measured against; version = the version
// sequence when S was taken).

// Bounds says which ends of a chunk's range are bounded.
type Bounds struct{ Lo, Hi bool }

// bound is the row-valued key of a bound held as a JSON object of the key columns in param.
func bound(t *Table, param string) string {
	return "(SELECT " + list(t.Key, "(b.rec).", "") + " FROM (SELECT json_populate_record(NULL::" + t.Ident() +
		", " + param + "::json) OFFSET 0) AS b(rec))"
}

// InRange is the condition that the row alias a of t lies in a chunk's range: lo (inclusive)
// and hi (exclusive) each a JSON object of the key columns, passed as parameters starting at
// $first; an unbounded end is not compared, and its parameter not passed (so hi is $first
// when only it is bounded).
func InRange(t *Table, a string, r Bounds, first int) string {
	key := "(" + list(t.Key, a+".", "") + ")"
	var conds []string
	lo, hi := "$"+strconv.Itoa(first), "$"+strconv.Itoa(first+1)
	if !r.Lo {
		hi = lo
	}
	if r.Lo {
		conds = append(conds, key+" >= "+bound(t, lo))
	}
	if r.Hi {
		conds = append(conds, key+" < "+bound(t, hi))
	}
	if len(conds) == 0 {
		return "true"
	}
	return strings.Join(conds, " AND ")
}

// CopyChunk applies a copied chunk in one statement: $2 the copied rows' images, $3 the
// version sequence when its snapshot was taken, $4 the snapshot (pg_snapshot text), then the
// bounds InRange takes. cols are the
// columns the images carry. The bookkeeping entries of the whole range are taken in key order
// first, as every apply transaction takes them, so a copy and batches of changes cannot
// deadlock. Rows are then written only for keys the copy won; a replica row of the range that
// appeared after the statement began is left alone (its change is the stream's to settle).
func CopyChunk(t *Table, cols []string, r Bounds) string {
	tbl := t.Ident()
	var b strings.Builder
	b.WriteString(`WITH c AS (
  SELECT k.key, p.rec
  FROM unnest($2::text[]) AS u(img)
  ` + parseImage(t, "u.img", "p") + `
  CROSS JOIN LATERAL (SELECT ` + keyArray(t, "(p.rec)") + `) AS k(key)
),
cs AS (SELECT jsonb_object_agg(c.key::text, true) AS s FROM c),
absent AS (
  SELECT k.key FROM ` + tbl + ` AS t CROSS JOIN LATERAL (SELECT ` + keyArray(t, "t") + `) AS k(key)
  WHERE ` + InRange(t, "t", r, 5) + ` AND NOT coalesce((SELECT cs.s FROM cs) ? k.key::text, false)
),
won AS (
  INSERT INTO pgfanout.row_versions AS v (relid, key, version, deleted, txid, snap)
  SELECT ` + relid + `, x.key, $3::bigint, x.deleted, NULL, $4::pg_snapshot
  FROM (SELECT c.key, false AS deleted FROM c UNION ALL SELECT a.key, true FROM absent a) x ORDER BY x.key
  ON CONFLICT (relid, key) DO UPDATE SET version = excluded.version, deleted = excluded.deleted, txid = NULL, snap = excluded.snap
  WHERE v.snap IS NOT NULL OR pg_visible_in_snapshot(v.txid::text::xid8, $4::pg_snapshot)
  RETURNING v.key, v.deleted
),
ws AS (SELECT jsonb_object_agg(won.key::text, won.deleted) AS s FROM won),
gone AS (
  DELETE FROM ` + tbl + ` AS t
  WHERE ` + InRange(t, "t", r, 5) + ` AND ((SELECT ws.s FROM ws) -> ` + keyArray(t, "t") + `::text)::boolean IS TRUE
)
`)
	b.WriteString("INSERT INTO " + tbl + " AS t (" + list(cols, "", "") + ") OVERRIDING SYSTEM VALUE\n")
	b.WriteString("SELECT " + list(cols, "(c.rec).", "") + " FROM c WHERE ((SELECT ws.s FROM ws) -> c.key::text)::boolean IS FALSE\n")
	b.WriteString(onConflict(t, cols))
	return b.String()
}

// CopyStale reports whether a chunk copied in snapshot $2 predates the table's newest applied
// truncate (the snapshot did not see it): such a copy must not be applied at all; every row
// it holds is gone, and every later row arrives as a change.
const CopyStale = `SELECT coalesce((SELECT NOT pg_visible_in_snapshot(w.txid::text::xid8, $2::pg_snapshot)
  FROM pgfanout.truncations w WHERE w.relid = $1::oid::regclass), false)`
