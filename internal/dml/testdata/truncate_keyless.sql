WITH w AS (
  INSERT INTO pgfanout.truncations AS w (relid, version, txid) VALUES ($1::oid::regclass, $2::bigint, $3::bigint)
  ON CONFLICT (relid) DO UPDATE SET version = excluded.version, txid = excluded.txid WHERE w.version < excluded.version
  RETURNING w.version
),
gone AS (
  DELETE FROM pgfanout.keyless_events e USING w WHERE e.relid = $1::oid::regclass AND e.version < w.version
),
keep AS (
  SELECT jsonb_object_agg(image::text, copies) AS m FROM (
    SELECT e.image, sum(e.delta) AS copies FROM pgfanout.keyless_events e
    WHERE e.relid = $1::oid::regclass AND e.version > $2::bigint GROUP BY e.image HAVING sum(e.delta) > 0) k
),
kept AS (
  SELECT jsonb_object_agg(x.toid::text || ':' || x.tid::text, true) AS s FROM (
    SELECT t.tableoid AS toid, t.ctid AS tid, i.image,
           row_number() OVER (PARTITION BY i.image ORDER BY t.tableoid, t.ctid) AS n
    FROM "public"."Événements" AS t CROSS JOIN LATERAL (SELECT jsonb_object($4::text[], ARRAY[t."kind"::text, t."x y"::text])) AS i(image)
    WHERE (SELECT m FROM keep) ? i.image::text) x
  WHERE x.n <= ((SELECT m FROM keep) ->> x.image::text)::bigint
)
DELETE FROM "public"."Événements" AS t
WHERE EXISTS (SELECT FROM w) AND NOT coalesce((SELECT s FROM kept) ? (t.tableoid::text || ':' || t.ctid::text), false)
