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

// parsed is the FROM clause shared by the statements of a batch: the changes' versions ($2)
// and images ($3), each image parsed by the replica's own input functions as one value of the
// table's row type (rec: a bare whole-row alias could be shadowed by a column of that name),
// and its bookkeeping key; extra unnests more parameter arrays as named columns.
func parsed(t *Table, extra string) string {
	return `FROM unnest($2::bigint[], $3::text[]` + extra + `)
  ` + parseImage(t, "u.img", "p") + `
  CROSS JOIN LATERAL (SELECT ` + keyArray(t, "(p.rec)") + `) AS k(key)
  WHERE u.version > ` + watermark + `
  ORDER BY k.key, u.version DESC`
}

// newest is the CTE "c": per key, the newest change of the batch above the watermark.
func newest(t *Table) string {
	return `c AS (
  SELECT DISTINCT ON (k.key) k.key, u.version, p.rec
  ` + parsed(t, ") AS u(version, img") + `
)`
}

// newer is the condition under which the change excluded replaces the entry v: a newer
// version, or, over a copied row, a transaction the copy's snapshot did not see.
const newer = `CASE WHEN v.snap IS NULL THEN v.version < excluded.version
        ELSE NOT pg_visible_in_snapshot(excluded.txid::text::xid8, v.snap) END`

// Claim is the first statement of a table's batch: it takes the bookkeeping of every key the
// batch changes, in key order, and records the newest change of each key that is newer than
// what the replica holds: $2 versions, $3 images holding at least the key columns (the key for
// a delete, the key or the row for an upsert), $4 source transaction ids, $5 whether each is a
// delete (a tombstone: it stops a late, older upsert from bringing the row back). The
// statements after it write the user rows whose entry is their change.
func Claim(t *Table) string {
	return `WITH c AS (
  SELECT DISTINCT ON (k.key) k.key, u.version, u.txid, u.deleted
  ` + parsed(t, ", $4::bigint[], $5::boolean[]) AS u(version, img, txid, deleted") + `
)
INSERT INTO pgfanout.row_versions AS v (relid, key, version, deleted, txid, snap)
SELECT ` + relid + `, c.key, c.version, c.deleted, c.txid, NULL FROM c ORDER BY c.key
ON CONFLICT (relid, key) DO UPDATE SET version = excluded.version, deleted = excluded.deleted,
  txid = excluded.txid, snap = NULL
WHERE ` + newer
}

// claimed keeps the rows of c whose change won its key in Claim. The entry is looked up per
// row of c through row_versions' primary key, in a LATERAL subquery that OFFSET 0 keeps from
// being flattened into a plain join: that fixes the join order (c outside, one index probe
// per change). As a plain join the planner could put the
// entries outside, and before row_versions has statistics (a new replica, before its first
// ANALYZE) it estimates them at one row and nest-loops over every entry of the table for each
// change, re-parsing the batch each time: O(entries × batch) per statement.
func claimed(deleted bool) string {
	d := "NOT v.deleted"
	if deleted {
		d = "v.deleted"
	}
	return `CROSS JOIN LATERAL (SELECT FROM pgfanout.row_versions v
  WHERE v.relid = ` + relid + ` AND v.key = c.key AND v.snap IS NULL AND v.version = c.version AND ` + d + ` OFFSET 0) AS won`
}

// Upsert writes the rows of a batch of inserts and updates whose change won its key in
// Claim: $2 versions, $3 row images. cols are the columns the images carry (a subset of
// Writable, in table order); other replica columns keep their values, or their defaults on
// insert. An upsert needs no lock of its own: ON CONFLICT sees the latest committed row.
func Upsert(t *Table, cols []string) string {
	var b strings.Builder
	b.WriteString("WITH " + newest(t) + "\n")
	b.WriteString("INSERT INTO " + t.Ident() + " AS t (" + list(cols, "", "") + ") OVERRIDING SYSTEM VALUE\n")
	b.WriteString("SELECT " + list(cols, "(c.rec).", "") + " FROM c\n" + claimed(false) + "\n")
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

// DeleteRows deletes the rows whose delete won its key in Claim: $2 versions, $3 key images.
// It is a statement of its own after Claim: a DELETE only sees rows committed before its
// statement began, and Claim may have waited for a competing transaction that had just
// inserted one of these rows.
func DeleteRows(t *Table) string {
	var b strings.Builder
	b.WriteString("WITH " + newest(t) + "\n")
	b.WriteString("DELETE FROM " + t.Ident() + " AS t USING c\n" + claimed(true) + "\nWHERE ")
	for i, k := range t.Key {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString("t." + ident(k) + " = (c.rec)." + ident(k))
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
