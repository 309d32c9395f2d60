WITH w AS (
  INSERT INTO pgfanout.truncations AS w (relid, version, txid) VALUES ($1::oid::regclass, $2::bigint, $3::bigint)
  ON CONFLICT (relid) DO UPDATE SET version = excluded.version, txid = excluded.txid WHERE w.version < excluded.version
  RETURNING w.version
),
gone AS (
  DELETE FROM pgfanout.row_versions v USING w WHERE v.relid = $1::oid::regclass AND NOT (CASE WHEN v.snap IS NULL THEN v.version > $2::bigint
        ELSE pg_visible_in_snapshot($3::bigint::text::xid8, v.snap) END)
)
DELETE FROM "Sales ""EU"""."Orders; DROP TABLE x; --" AS t
WHERE EXISTS (SELECT FROM w)
  AND NOT EXISTS (SELECT FROM pgfanout.row_versions v
                  WHERE v.relid = $1::oid::regclass AND v.key = jsonb_build_array(t."Id", t."line ""no""") AND CASE WHEN v.snap IS NULL THEN v.version > $2::bigint
        ELSE pg_visible_in_snapshot($3::bigint::text::xid8, v.snap) END)
