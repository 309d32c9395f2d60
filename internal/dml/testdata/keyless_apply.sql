WITH d AS (
  SELECT u.digest, u.delta, u.img, coalesce(k.owed, 0) AS owed
  FROM unnest($2::bytea[], $3::integer[], $4::text[]) AS u(digest, delta, img)
  LEFT JOIN pgfanout.keyless_debts k ON k.relid = $1::oid::regclass AND k.digest = u.digest
),
cand AS (
  SELECT d.digest, x.tid FROM d
  CROSS JOIN LATERAL (SELECT t.ctid AS tid FROM "public"."Événements" AS t WHERE pgfanout.row_digest(ROW(t."kind", t."x y")) = d.digest LIMIT -d.delta) AS x
  WHERE d.delta < 0
),
del AS (
  DELETE FROM "public"."Événements" AS t USING cand c WHERE t.ctid = c.tid RETURNING c.digest
),
gone AS (SELECT jsonb_object_agg(g.h, g.n) AS m FROM (SELECT encode(del.digest, 'hex') AS h, count(*) AS n FROM del GROUP BY 1) g),
owed AS (
  SELECT d.digest, d.owed AS before,
         CASE WHEN d.delta > 0 THEN greatest(d.owed - d.delta, 0)
              ELSE d.owed - d.delta - coalesce(((SELECT gone.m FROM gone) ->> encode(d.digest, 'hex'))::integer, 0) END AS after
  FROM d
),
owe AS (
  INSERT INTO pgfanout.keyless_debts AS k (relid, digest, owed)
  SELECT $1::oid::regclass, o.digest, o.after FROM owed o WHERE o.after > 0 AND o.after <> o.before ORDER BY o.digest
  ON CONFLICT (relid, digest) DO UPDATE SET owed = excluded.owed
),
paid AS (
  DELETE FROM pgfanout.keyless_debts k USING owed o
  WHERE k.relid = $1::oid::regclass AND k.digest = o.digest AND o.after = 0 AND o.before > 0
)
INSERT INTO "public"."Événements" ("kind", "x y") OVERRIDING SYSTEM VALUE
SELECT (r.rec)."kind", (r.rec)."x y"
FROM d
CROSS JOIN LATERAL generate_series(1, d.delta - least(d.owed, d.delta))
CROSS JOIN LATERAL (SELECT json_populate_record(NULL::"public"."Événements", d.img::json) OFFSET 0) AS r(rec)
WHERE d.delta > d.owed
