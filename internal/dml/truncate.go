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
// source transaction, $4 the writable column names. Each image keeps as many copies as its events above the watermark
// add up to; every other row goes. (jsonb objects as maps: see Reconcile.)
func TruncateKeyless(t *Table) string {
	return "WITH " + raise + `,
gone AS (
  DELETE FROM pgfanout.keyless_events e USING w WHERE e.relid = ` + relid + ` AND e.version < w.version
),
keep AS (
  SELECT jsonb_object_agg(image::text, copies) AS m FROM (
    SELECT e.image, sum(e.delta) AS copies FROM pgfanout.keyless_events e
    WHERE e.relid = ` + relid + ` AND e.version > $2::bigint GROUP BY e.image HAVING sum(e.delta) > 0) k
),
kept AS (
  SELECT jsonb_object_agg(x.toid::text || ':' || x.tid::text, true) AS s FROM (
    SELECT t.tableoid AS toid, t.ctid AS tid, i.image,
           row_number() OVER (PARTITION BY i.image ORDER BY t.tableoid, t.ctid) AS n
    FROM ` + t.Ident() + ` AS t CROSS JOIN LATERAL (SELECT ` + image(t, "t", "$4") + `) AS i(image)
    WHERE (SELECT m FROM keep) ? i.image::text) x
  WHERE x.n <= ((SELECT m FROM keep) ->> x.image::text)::bigint
)
DELETE FROM ` + t.Ident() + ` AS t
WHERE EXISTS (SELECT FROM w) AND NOT coalesce((SELECT s FROM kept) ? ` + rowID("t") + `, false)`
}
