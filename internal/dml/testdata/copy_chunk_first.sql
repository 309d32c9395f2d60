WITH c AS (
  SELECT k.key, p.rec
  FROM unnest($2::text[]) AS u(img)
  CROSS JOIN LATERAL (SELECT json_populate_record(NULL::"Sales ""EU"""."Orders; DROP TABLE x; --", u.img::json) OFFSET 0) AS p(rec)
  CROSS JOIN LATERAL (SELECT jsonb_build_array((p.rec)."Id", (p.rec)."line ""no""")) AS k(key)
),
cs AS (SELECT jsonb_object_agg(c.key::text, true) AS s FROM c),
absent AS (
  SELECT k.key FROM "Sales ""EU"""."Orders; DROP TABLE x; --" AS t CROSS JOIN LATERAL (SELECT jsonb_build_array(t."Id", t."line ""no""")) AS k(key)
  WHERE (t."Id", t."line ""no""") < (SELECT (b.rec)."Id", (b.rec)."line ""no""" FROM (SELECT json_populate_record(NULL::"Sales ""EU"""."Orders; DROP TABLE x; --", $5::json) OFFSET 0) AS b(rec)) AND NOT coalesce((SELECT cs.s FROM cs) ? k.key::text, false)
),
won AS (
  INSERT INTO pgfanout.row_versions AS v (relid, key, version, deleted, txid, snap)
  SELECT $1::oid::regclass, x.key, $3::bigint, x.deleted, NULL, $4::pg_snapshot
  FROM (SELECT c.key, false AS deleted FROM c UNION ALL SELECT a.key, true FROM absent a) x ORDER BY x.key
  ON CONFLICT (relid, key) DO UPDATE SET version = excluded.version, deleted = excluded.deleted, txid = NULL, snap = excluded.snap
  WHERE v.snap IS NOT NULL OR pg_visible_in_snapshot(v.txid::text::xid8, $4::pg_snapshot)
  RETURNING v.key, v.deleted
),
ws AS (SELECT jsonb_object_agg(won.key::text, won.deleted) AS s FROM won),
gone AS (
  DELETE FROM "Sales ""EU"""."Orders; DROP TABLE x; --" AS t
  WHERE (t."Id", t."line ""no""") < (SELECT (b.rec)."Id", (b.rec)."line ""no""" FROM (SELECT json_populate_record(NULL::"Sales ""EU"""."Orders; DROP TABLE x; --", $5::json) OFFSET 0) AS b(rec)) AND ((SELECT ws.s FROM ws) -> jsonb_build_array(t."Id", t."line ""no""")::text)::boolean IS TRUE
)
INSERT INTO "Sales ""EU"""."Orders; DROP TABLE x; --" AS t ("Id", "line ""no""") OVERRIDING SYSTEM VALUE
SELECT (c.rec)."Id", (c.rec)."line ""no""" FROM c WHERE ((SELECT ws.s FROM ws) -> c.key::text)::boolean IS FALSE
ON CONFLICT ("Id", "line ""no""") DO NOTHING
