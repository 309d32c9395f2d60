package dml

import (
	"strconv"
	"strings"
)

// Statements `replicator verify` runs on the source and on a replica alike (docs/bootstrap.md,
// "Verify"). t is the source table as its catalog describes it and cols its non-generated
// columns in source order (Writable): both sides hash those columns in that order, whatever
// the replica's own column order or extra columns. Each side resolves t's name, and the row
// type a bound or key is read as, in its own catalog.

// rowHash is the hash of the row alias a: the XOR of each column's text hashed with its
// position as the seed (a NULL hashes to minus its position). Values compare as text, which
// both sessions print alike under change.ValueSettings, the way the apply path compares them;
// hashing column by column is four times faster than hashing the text of ROW(cols), whose
// output function inspects every character for quoting.
func rowHash(cols []string, a string) string {
	if len(cols) == 0 {
		return "0::bigint"
	}
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(" # ")
		}
		n := strconv.Itoa(i + 1)
		b.WriteString("coalesce(hashtextextended(" + a + "." + ident(c) + "::text, " + n + "), -" + n + ")")
	}
	return "(" + b.String() + ")"
}

// keyed reads t as alias t with its key columns beside it as alias k, so that row_to_json(k.*)
// is the row's key spelled as ChunkBounds spells a bound (a key is a bound, too). k.*, not k:
// a column named k would shadow the whole-row reference.
func keyed(t *Table) string {
	return t.Ident() + " AS t CROSS JOIN LATERAL (SELECT " + list(t.Key, "t.", "") + ") AS k"
}

// RangeHash counts the rows of a range and sums their hashes, as text (the sum is numeric,
// so it cannot overflow); bounds from $1 (see InRange; Bounds{} is the whole table).
func RangeHash(t *Table, cols []string, r Bounds) string {
	return "SELECT count(*), coalesce(sum(" + rowHash(cols, "t") + "), 0)::text FROM " + t.Ident() +
		" AS t WHERE " + InRange(t, "t", r, 1)
}

// RangeRows lists the key (a JSON object of the key columns) and the hash of every row of a
// range, in key order (which the primary key's index gives); bounds from $1.
func RangeRows(t *Table, cols []string, r Bounds) string {
	return "SELECT row_to_json(k.*)::text, " + rowHash(cols, "t") + " FROM " + keyed(t) +
		" WHERE " + InRange(t, "t", r, 1) + " ORDER BY " + list(t.Key, "t.", "")
}

// KeyRows lists key and hash of the rows whose keys $1 holds: a JSON array of keys as
// RangeRows lists them. A key absent from the table is absent from the result.
func KeyRows(t *Table, cols []string) string {
	return "SELECT row_to_json(k.*)::text, " + rowHash(cols, "t") + " FROM " + keyed(t) +
		"\nWHERE (" + list(t.Key, "t.", "") + ") IN (SELECT " + list(t.Key, "r.", "") +
		" FROM json_populate_recordset(NULL::" + t.Ident() + ", $1::json) AS r)"
}

// ImageCounts counts a table's rows per row hash, for a table without a primary key, which is
// compared as a multiset of row images. only: just the hashes in $1 (bigint[]).
func ImageCounts(t *Table, cols []string, only bool) string {
	sql := "SELECT s.h, count(*) FROM (SELECT " + rowHash(cols, "t") + " AS h FROM " + t.Ident() + " AS t) AS s"
	if only {
		sql += " WHERE s.h = ANY($1::bigint[])"
	}
	return sql + " GROUP BY s.h"
}

// ImageTexts is one row's text, ROW(cols), per hash in $1 (bigint[]): the differing images a
// verify shows.
func ImageTexts(t *Table, cols []string) string {
	return "SELECT DISTINCT ON (s.h) s.h, s.img FROM (SELECT " + rowHash(cols, "t") + " AS h, ROW(" +
		list(cols, "t.", "") + ")::text AS img FROM " + t.Ident() + " AS t) AS s WHERE s.h = ANY($1::bigint[]) ORDER BY s.h"
}

// RepairChunk records a chunk that `verify --repair` copies again, in the repair's replica
// transaction: a chunk of the table's current plan $3 (0 when the table has no copy row),
// after the plan's last one, with bounds $4 and $5 (jsonb, NULL where unbounded) and state $6;
// the plan counts one chunk more. It returns the chunk's id. $1 schema, $2 table.
const RepairChunk = `WITH c AS (
  INSERT INTO pgfanout.copy_chunks (schema_name, table_name, plan, ordinal, lo, hi, state)
  SELECT $1, $2, $3, coalesce(max(o.ordinal) + 1, 0), $4::jsonb, $5::jsonb, $6
  FROM pgfanout.copy_chunks o WHERE o.schema_name = $1 AND o.table_name = $2 AND o.plan = $3
  RETURNING id
), n AS (
  UPDATE pgfanout.copy_tables SET chunks = chunks + 1 WHERE schema_name = $1 AND table_name = $2 AND plan = $3
)
SELECT c.id FROM c`
