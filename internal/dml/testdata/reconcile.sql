WITH u AS (
  SELECT DISTINCT ON (e.version) e.version, e.delta, jsonb_object($5::text[], ARRAY[r."kind"::text, r."x y"::text]) AS image
  FROM unnest($2::bigint[], $3::text[], $4::int[]) AS e(version, img, delta)
  CROSS JOIN LATERAL json_populate_record(NULL::"public"."Événements", e.img::json) AS r
  WHERE e.version > coalesce((SELECT w.version FROM pgfanout.truncations w WHERE w.relid = $1::oid::regclass), 0)
  ORDER BY e.version
),
touched AS (SELECT jsonb_object_agg(image::text, true) AS s, array_agg(DISTINCT image) AS a FROM u),
cur AS MATERIALIZED (
  SELECT t.tableoid AS toid, t.ctid AS tid, i.image
  FROM "public"."Événements" AS t CROSS JOIN LATERAL (SELECT jsonb_object($5::text[], ARRAY[t."kind"::text, t."x y"::text])) AS i(image)
  WHERE (SELECT s FROM touched) ? i.image::text
),
have AS (
  SELECT jsonb_object_agg(image::text, n) AS m FROM (SELECT image, count(*) AS n FROM cur GROUP BY image) h
),
old AS (
  SELECT e.image, sum(e.delta) AS delta FROM pgfanout.keyless_events e
  WHERE e.relid = $1::oid::regclass AND e.image = ANY((SELECT a FROM touched)::jsonb[]) GROUP BY e.image
),
seen AS (SELECT jsonb_object_agg(image::text, true) AS s FROM old),
base AS (
  INSERT INTO pgfanout.keyless_events (relid, version, image, delta)
  SELECT $1::oid::regclass, -min(u.version), u.image, ((SELECT m FROM have) ->> u.image::text)::int FROM u
  WHERE (SELECT m FROM have) ? u.image::text AND NOT coalesce((SELECT s FROM seen) ? u.image::text, false)
  GROUP BY u.image
  ON CONFLICT (relid, version) DO NOTHING
  RETURNING image, delta::bigint
),
ins AS (
  INSERT INTO pgfanout.keyless_events (relid, version, image, delta)
  SELECT $1::oid::regclass, u.version, u.image, u.delta FROM u ORDER BY u.version
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
  DELETE FROM "public"."Événements" AS t
  WHERE t.ctid = ANY((SELECT tids FROM gone)::tid[]) AND (SELECT s FROM gone) ? (t.tableoid::text || ':' || t.ctid::text)
)
INSERT INTO "public"."Événements" ("kind", "x y") OVERRIDING SYSTEM VALUE
SELECT (x.rec)."kind", (x.rec)."x y"
FROM want w
CROSS JOIN LATERAL generate_series(1, w.copies - coalesce(((SELECT m FROM have) ->> w.image::text)::bigint, 0))
CROSS JOIN LATERAL (SELECT (SELECT '(' || string_agg(CASE WHEN x.v IS NULL THEN '' ELSE '"' ||
    replace(replace(x.v, E'\\', E'\\\\'), '"', E'\\"') || '"' END, ',' ORDER BY a.o) || ')'
  FROM unnest($6::text[]) WITH ORDINALITY AS a(col, o), LATERAL (SELECT w.image ->> a.col) AS x(v))::"public"."Événements" AS rec) AS x
