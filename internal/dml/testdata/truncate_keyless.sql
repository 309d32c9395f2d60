WITH w AS (
  INSERT INTO pgfanout.truncations AS w (relid, version, txid)
  SELECT $1::oid::regclass, $2::bigint, $3::bigint
  WHERE NOT coalesce(pg_visible_in_snapshot($3::bigint::text::xid8,
          (SELECT s.snap FROM pgfanout.keyless_copies s WHERE s.relid = $1::oid::regclass)), false)
  ON CONFLICT (relid) DO UPDATE SET version = excluded.version, txid = excluded.txid WHERE w.version < excluded.version
  RETURNING w.version
),
after AS (
  SELECT x.digest, sum(x.delta) AS n FROM pgfanout.keyless_log x
  WHERE x.relid = $1::oid::regclass AND x.version > $2::bigint AND EXISTS (SELECT FROM w) GROUP BY x.digest
),
keep AS (SELECT jsonb_object_agg(encode(a.digest, 'hex'), a.n) AS m FROM after a WHERE a.n > 0),
cur AS (
  SELECT t.ctid AS tid, encode(g.digest, 'hex') AS h,
         row_number() OVER (PARTITION BY g.digest ORDER BY t.ctid) AS k
  FROM "public"."Événements" AS t CROSS JOIN LATERAL (SELECT pgfanout.row_digest(ROW(t."kind", t."x y"))) AS g(digest)
  WHERE EXISTS (SELECT FROM w)
),
forget AS (
  DELETE FROM pgfanout.keyless_log x USING w WHERE x.relid = $1::oid::regclass AND x.version < w.version
),
clear AS (
  DELETE FROM pgfanout.keyless_debts k WHERE k.relid = $1::oid::regclass AND EXISTS (SELECT FROM w)
),
owe AS (
  INSERT INTO pgfanout.keyless_debts (relid, digest, owed)
  SELECT $1::oid::regclass, a.digest, -a.n FROM after a WHERE a.n < 0
  ON CONFLICT (relid, digest) DO UPDATE SET owed = excluded.owed
)
DELETE FROM "public"."Événements" AS t USING cur c
WHERE t.ctid = c.tid AND c.k > coalesce(((SELECT keep.m FROM keep) ->> c.h)::bigint, 0)
