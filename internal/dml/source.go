package dml

// Statements the replicator runs on the source to copy a table (docs/bootstrap.md); t is the
// source table as its catalog describes it. They read what the capture reads: row_to_json of
// whole rows, under the same output settings (change.ValueSettings), so a copied row is the
// image the capture would have written.

// ChunkBounds lists the key of every $1-th row in key order, each as a JSON object of the key
// columns: the lower bounds of a copy's chunks after the first. The key columns are read in
// an inner query of their own, so no name of ours can collide with a column's.
func ChunkBounds(t *Table) string {
	order := list(t.Key, "x.", "")
	return `SELECT s.k FROM (
  SELECT row_to_json(x)::text AS k, row_number() OVER (ORDER BY ` + order + `) AS n
  FROM (SELECT ` + list(t.Key, "t.", "") + ` FROM ` + t.Ident() + ` AS t) AS x
) AS s WHERE s.n % $1::bigint = 0 ORDER BY s.n`
}

// ReadRange reads the rows of a chunk's range, bounds from $1 (see InRange).
func ReadRange(t *Table, r Bounds) string {
	return "SELECT row_to_json(t.*)::text FROM " + t.Ident() + " AS t WHERE " + InRange(t, "t", r, 1)
}
