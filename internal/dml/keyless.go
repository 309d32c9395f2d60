package dml

import "strings"

// Keyless tables (duplicates allowed): pgfanout.keyless_events records every change as an
// event (version, image, delta +1/-1). The replica must hold, of each image, as many copies as
// its events above the truncation watermark add up to (never fewer than zero). A batch records
// its new events (a redelivered event is already there and adds nothing), then reconciles the
// copies of every image it touched: excess copies are deleted by ctid, missing ones inserted.
// The whole reconcile runs under a SHARE ROW EXCLUSIVE table lock, one transaction per table
// at a time, because it counts rows it does not own.
//
// An image is a jsonb object mapping each writable column to its value's text output on the
// replica, e.g. {"a": "1.50", "b": null}. Text output is exact where jsonb equality is not
// (1.5 vs 1.50, json whitespace, -0): two rows are the same image only if every column prints
// the same. Images are built from typed values on both sides, the replica row and the captured
// JSON parsed by json_populate_record, so spelling differences in the capture do not matter.
//
// Baseline: the first time an image is seen, the copies the replica already holds (rows loaded
// before replication started) are recorded as one event with version -v and delta = their
// count, so a pre-loaded replica is adjusted, not overwritten.

// image is the jsonb image of record rec; names is the parameter holding the writable
// column names (the object's keys).
func image(t *Table, rec, names string) string {
	cols := t.Writable()
	if len(cols) == 0 {
		return "jsonb_object(" + names + "::text[], ARRAY[]::text[])"
	}
	return "jsonb_object(" + names + "::text[], ARRAY[" + list(cols, rec+".", "::text") + "])"
}

// recordOf rebuilds a row of the table from an image: a row literal "(v1,v2,…)" over all
// columns ($6) cast to the table's row type, so record_in calls each column's input function on
// exactly the text its output function printed. Columns the image lacks are NULL.
func recordOf(t *Table, img string) string {
	return `(SELECT '(' || string_agg(CASE WHEN x.v IS NULL THEN '' ELSE '"' ||
    replace(replace(x.v, E'\\', E'\\\\'), '"', E'\\"') || '"' END, ',' ORDER BY a.o) || ')'
  FROM unnest($6::text[]) WITH ORDINALITY AS a(col, o), LATERAL (SELECT ` + img + ` ->> a.col) AS x(v))::` + t.Ident()
}

// rowID is a row's physical identity as text: tableoid makes ctid unique across partitions.
func rowID(alias string) string {
	return "(" + alias + ".tableoid::text || ':' || " + alias + ".ctid::text)"
}

// Reconcile applies a batch of keyless events: $2 versions, $3 images (JSON objects: the row for
// inserts and updates, the old row for deletes), $4 deltas (+1 or -1), $5 writable column
// names, $6 all column names in table order.
//
// CTEs are never joined to each other: the planner estimates them at one row and would
// nest-loop in O(n²). Per-image figures travel as jsonb objects keyed by the image's text
// (jsonb text is canonical), read with ? and ->> (binary searches).
func Reconcile(t *Table) string {
	tbl := t.Ident()
	var b strings.Builder
	b.WriteString(`WITH u AS (
  SELECT DISTINCT ON (e.version) e.version, e.delta, ` + image(t, "r", "$5") + ` AS image
  FROM unnest($2::bigint[], $3::text[], $4::int[]) AS e(version, img, delta)
  CROSS JOIN LATERAL json_populate_record(NULL::` + tbl + `, e.img::json) AS r
  WHERE e.version > ` + watermark + `
  ORDER BY e.version
),
touched AS (SELECT jsonb_object_agg(image::text, true) AS s, array_agg(DISTINCT image) AS a FROM u),
cur AS MATERIALIZED (
  SELECT t.tableoid AS toid, t.ctid AS tid, i.image
  FROM ` + tbl + ` AS t CROSS JOIN LATERAL (SELECT ` + image(t, "t", "$5") + `) AS i(image)
  WHERE (SELECT s FROM touched) ? i.image::text
),
have AS (
  SELECT jsonb_object_agg(image::text, n) AS m FROM (SELECT image, count(*) AS n FROM cur GROUP BY image) h
),
old AS (
  SELECT e.image, sum(e.delta) AS delta FROM pgfanout.keyless_events e
  WHERE e.relid = ` + relid + ` AND e.image = ANY((SELECT a FROM touched)::jsonb[]) GROUP BY e.image
),
seen AS (SELECT jsonb_object_agg(image::text, true) AS s FROM old),
base AS (
  INSERT INTO pgfanout.keyless_events (relid, version, image, delta)
  SELECT ` + relid + `, -min(u.version), u.image, ((SELECT m FROM have) ->> u.image::text)::int FROM u
  WHERE (SELECT m FROM have) ? u.image::text AND NOT coalesce((SELECT s FROM seen) ? u.image::text, false)
  GROUP BY u.image
  ON CONFLICT (relid, version) DO NOTHING
  RETURNING image, delta::bigint
),
ins AS (
  INSERT INTO pgfanout.keyless_events (relid, version, image, delta)
  SELECT ` + relid + `, u.version, u.image, u.delta FROM u ORDER BY u.version
  ON CONFLICT (relid, version) DO NOTHING
  RETURNING image, delta::bigint
),
want AS (
  SELECT image, greatest(sum(delta), 0) AS copies
  FROM (SELECT image, delta FROM old UNION ALL SELECT image, delta FROM base
        UNION ALL SELECT image, delta FROM ins) s
  GROUP BY image
),
wantm AS (SELECT jsonb_object_agg(image::text, copies) AS m FROM want),
gone AS (
  SELECT array_agg(x.tid) AS tids, jsonb_object_agg(x.toid::text || ':' || x.tid::text, true) AS s
  FROM (SELECT c.toid, c.tid, c.image,
               row_number() OVER (PARTITION BY c.image ORDER BY c.toid, c.tid) AS n FROM cur c) x
  WHERE x.n > ((SELECT m FROM wantm) ->> x.image::text)::bigint
),
excess AS (
  DELETE FROM ` + tbl + ` AS t
  WHERE t.ctid = ANY((SELECT tids FROM gone)::tid[]) AND (SELECT s FROM gone) ? ` + rowID("t") + `
)
`)
	cols := t.Writable()
	b.WriteString("INSERT INTO " + tbl + " (" + list(cols, "", "") + ") OVERRIDING SYSTEM VALUE\n")
	b.WriteString("SELECT " + list(cols, "(x.rec).", "") + `
FROM want w
CROSS JOIN LATERAL generate_series(1, w.copies - coalesce(((SELECT m FROM have) ->> w.image::text)::bigint, 0))
CROSS JOIN LATERAL (SELECT ` + recordOf(t, "w.image") + ` AS rec) AS x`)
	return b.String()
}
