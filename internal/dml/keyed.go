package dml

import "strings"

// Keyed tables: pgfanout.row_versions holds, per primary key, what the row's state comes from:
// the newest change applied (its version and source transaction) and whether it was a delete
// (a tombstone), or a copied chunk (its snapshot; docs/bootstrap.md). A change is applied only
// if it is newer: than the entry's version, or, for a copied row, than the copy's snapshot
// (its transaction is not visible in it); and only if it is newer than the table's truncation
// watermark. So redelivered, duplicated and reordered changes all converge on the newest one,
// and a change the copy already holds is never applied again. Winning a key means holding its
// row_versions row lock until commit, which orders competing transactions per key; keys are
// locked in key order so overlapping batches do not deadlock.

// newest is the CTE "c": per key, the newest change of the batch that is above the
// watermark. rec is the image parsed by the replica's own input functions, as one value of
// the table's row type (a bare whole-row alias could be shadowed by a column of that name).
func newest(t *Table) string {
	return `c AS (
  SELECT DISTINCT ON (k.key) k.key, u.version, u.txid, p.rec
  FROM unnest($2::bigint[], $3::text[], $4::bigint[]) AS u(version, img, txid)
  CROSS JOIN LATERAL (SELECT json_populate_record(NULL::` + t.Ident() + `, u.img::json)) AS p(rec)
  CROSS JOIN LATERAL (SELECT ` + keyArray(t, "(p.rec)") + `) AS k(key)
  WHERE u.version > ` + watermark + `
  ORDER BY k.key, u.version DESC
)`
}

// newer is the condition under which the change excluded replaces the entry v: a newer
// version, or, over a copied row, a transaction the copy's snapshot did not see.
const newer = `CASE WHEN v.snap IS NULL THEN v.version < excluded.version
        ELSE NOT pg_visible_in_snapshot(excluded.txid::text::xid8, v.snap) END`

// record is the upsert of the bookkeeping entries of c, deleted says whether they are
// tombstones.
func record(deleted string) string {
	return `INSERT INTO pgfanout.row_versions AS v (relid, key, version, deleted, txid, snap)
  SELECT ` + relid + `, c.key, c.version, ` + deleted + `, c.txid, NULL FROM c ORDER BY c.key
  ON CONFLICT (relid, key) DO UPDATE SET version = excluded.version, deleted = excluded.deleted,
    txid = excluded.txid, snap = NULL
  WHERE ` + newer
}

// won is the CTEs "won", the keys of c whose bookkeeping this batch advanced, and "ws", the
// same keys as a jsonb object used as a hash set (`?` is a binary search). Joining c to won
// directly would be planned from a row estimate of 1 (the planner cannot see through the
// lateral json_populate_record) and nest-loop in O(n²) on big batches.
func won() string {
	return `won AS (
  ` + record("false") + `
  RETURNING v.key
),
ws AS (SELECT jsonb_object_agg(won.key::text, true) AS s FROM won)`
}

// isWon is true for the rows of c that won their key.
const isWon = "(SELECT ws.s FROM ws) ? c.key::text"

// Upsert writes the rows of a batch of inserts and updates: $2 versions, $3 row images, $4
// source transaction ids. cols are the columns the images carry (a subset of Writable, in
// table order); other replica columns keep their values, or their defaults on insert.
func Upsert(t *Table, cols []string) string {
	var b strings.Builder
	b.WriteString("WITH " + newest(t) + ",\n" + won() + "\n")
	b.WriteString("INSERT INTO " + t.Ident() + " AS t (" + list(cols, "", "") + ") OVERRIDING SYSTEM VALUE\n")
	b.WriteString("SELECT " + list(cols, "(c.rec).", "") + " FROM c WHERE " + isWon + "\n")
	b.WriteString(onConflict(t, cols))
	return b.String()
}

// onConflict is an upsert's conflict clause on the primary key: the columns the rows carry
// overwrite the replica's (DO NOTHING when they are all key or identity columns).
func onConflict(t *Table, cols []string) string {
	set := updatable(t, cols)
	if len(set) == 0 {
		return "ON CONFLICT (" + list(t.Key, "", "") + ") DO NOTHING"
	}
	var b strings.Builder
	b.WriteString("ON CONFLICT (" + list(t.Key, "", "") + ") DO UPDATE SET ")
	for i, c := range set {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ident(c) + " = excluded." + ident(c))
	}
	return b.String()
}

// updatable is cols minus the key (the conflict target) and identity-always columns.
func updatable(t *Table, cols []string) []string {
	var set []string
	for _, c := range cols {
		col, _ := t.column(c)
		if !col.IdentityAlways && !contains(t.Key, c) {
			set = append(set, c)
		}
	}
	return set
}

// DeleteVersions is the first of the two statements of a batch of deletes: $2 versions, $3 key
// images (objects holding at least the primary key columns), $4 source transaction ids. It
// records the tombstones, which stop a late, older upsert from bringing the rows back, and
// locks the keys it won.
func DeleteVersions(t *Table) string {
	return "WITH " + newest(t) + "\n" + record("true")
}

// DeleteRows is the second statement (same parameters): it deletes the rows whose tombstone is
// this batch's. It must be a statement of its own: a DELETE only sees rows committed before its
// statement began, and DeleteVersions may have waited for a competing transaction that had just
// inserted one of these rows (an upsert needs no such split: ON CONFLICT sees the latest row).
func DeleteRows(t *Table) string {
	var b strings.Builder
	b.WriteString("WITH " + newest(t) + "\n")
	b.WriteString("DELETE FROM " + t.Ident() + " AS t USING c JOIN pgfanout.row_versions v ON v.relid = " + relid +
		" AND v.key = c.key\nWHERE v.snap IS NULL AND v.version = c.version AND v.deleted")
	for _, k := range t.Key {
		b.WriteString(" AND t." + ident(k) + " = (c.rec)." + ident(k))
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
