WITH c AS (
  SELECT DISTINCT ON (k.key) k.key, u.version, p.rec
  FROM unnest($2::bigint[], $3::text[]) AS u(version, img)
  CROSS JOIN LATERAL (SELECT json_populate_record(NULL::"Sales ""EU"""."Orders; DROP TABLE x; --", u.img::json) OFFSET 0) AS p(rec)
  CROSS JOIN LATERAL (SELECT jsonb_build_array((p.rec)."Id", (p.rec)."line ""no""")) AS k(key)
  WHERE u.version > coalesce((SELECT w.version FROM pgfanout.truncations w WHERE w.relid = $1::oid::regclass), 0)
  ORDER BY k.key, u.version DESC
)
INSERT INTO "Sales ""EU"""."Orders; DROP TABLE x; --" AS t ("Id", "line ""no""", "größe", "seq") OVERRIDING SYSTEM VALUE
SELECT (c.rec)."Id", (c.rec)."line ""no""", (c.rec)."größe", (c.rec)."seq" FROM c
CROSS JOIN LATERAL (SELECT FROM pgfanout.row_versions v
  WHERE v.relid = $1::oid::regclass AND v.key = c.key AND v.snap IS NULL AND v.version = c.version AND NOT v.deleted OFFSET 0) AS won
ON CONFLICT ("Id", "line ""no""") DO UPDATE SET "größe" = excluded."größe"
