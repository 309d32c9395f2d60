package dml

// A TRUNCATE at version v raises the table's watermark to v (never lowers it): it removes
// exactly the rows whose newest change is older than v, and every change older than v that
// arrives later is ignored. Rows that changes newer than v already wrote stay.

// raise is the CTE "w": the raised watermark, or no row when the table's watermark is already
// at or above $2 (a duplicate or stale truncate, which then does nothing). $3 is the
// truncate's source transaction, which a copy's snapshot may or may not have seen.
const raise = `w AS (
  INSERT INTO pgfanout.truncations AS w (relid, version, txid) VALUES (` + relid + `, $2::bigint, $3::bigint)
  ON CONFLICT (relid) DO UPDATE SET version = excluded.version, txid = excluded.txid WHERE w.version < excluded.version
  RETURNING w.version
)`

// afterTruncate is true for an entry v whose row state is newer than the truncate ($2 version,
// $3 txid): a change of a later version, or a copy whose snapshot saw the truncate.
const afterTruncate = `CASE WHEN v.snap IS NULL THEN v.version > $2::bigint
        ELSE pg_visible_in_snapshot($3::bigint::text::xid8, v.snap) END`

// TruncateKeyed applies a truncate to a keyed table: $2 the truncate's version, $3 its source
// transaction. Bookkeeping older than the truncate is dropped: the watermark now answers for
// those keys.
func TruncateKeyed(t *Table) string {
	return "WITH " + raise + `,
gone AS (
  DELETE FROM pgfanout.row_versions v USING w WHERE v.relid = ` + relid + ` AND NOT (` + afterTruncate + `)
)
DELETE FROM ` + t.Ident() + ` AS t
WHERE EXISTS (SELECT FROM w)
  AND NOT EXISTS (SELECT FROM pgfanout.row_versions v
                  WHERE v.relid = ` + relid + ` AND v.key = ` + keyArray(t, "t") + ` AND ` + afterTruncate + `)`
}

// TruncateKeyless applies a truncate to a keyless table: $2 the truncate's version, $3 its
// source transaction. A truncate the table's copy already saw does nothing. Of each image the
// table keeps as many copies as the events after the truncate add up to (those the replica already applied: changes that arrived before it);
// every other row goes, debts are recomputed, and older events are forgotten (the watermark
// now answers for them). A truncate reads the whole table: it is O(table) on the source too.
func TruncateKeyless(t *Table) string {
	tbl := t.Ident()
	return `WITH w AS (
  INSERT INTO pgfanout.truncations AS w (relid, version, txid)
  SELECT ` + relid + `, $2::bigint, $3::bigint
  WHERE NOT coalesce(pg_visible_in_snapshot($3::bigint::text::xid8,
          (SELECT s.snap FROM pgfanout.keyless_copies s WHERE s.relid = ` + relid + `)), false)
  ON CONFLICT (relid) DO UPDATE SET version = excluded.version, txid = excluded.txid WHERE w.version < excluded.version
  RETURNING w.version
),
after AS (
  SELECT x.digest, sum(x.delta) AS n FROM pgfanout.keyless_log x
  WHERE x.relid = ` + relid + ` AND x.version > $2::bigint AND EXISTS (SELECT FROM w) GROUP BY x.digest
),
keep AS (SELECT jsonb_object_agg(encode(a.digest, 'hex'), a.n) AS m FROM after a WHERE a.n > 0),
cur AS (
  SELECT t.ctid AS tid, encode(g.digest, 'hex') AS h,
         row_number() OVER (PARTITION BY g.digest ORDER BY t.ctid) AS k
  FROM ` + tbl + ` AS t CROSS JOIN LATERAL (SELECT ` + digestOf(t, "t") + `) AS g(digest)
  WHERE EXISTS (SELECT FROM w)
),
forget AS (
  DELETE FROM pgfanout.keyless_log x USING w WHERE x.relid = ` + relid + ` AND x.version < w.version
),
clear AS (
  DELETE FROM pgfanout.keyless_debts k WHERE k.relid = ` + relid + ` AND EXISTS (SELECT FROM w)
),
owe AS (
  INSERT INTO pgfanout.keyless_debts (relid, digest, owed)
  SELECT ` + relid + `, a.digest, -a.n FROM after a WHERE a.n < 0
  ON CONFLICT (relid, digest) DO UPDATE SET owed = excluded.owed
)
DELETE FROM ` + tbl + ` AS t USING cur c
WHERE t.ctid = c.tid AND c.k > coalesce(((SELECT keep.m FROM keep) ->> c.h)::bigint, 0)`
}
