WITH c AS (
  SELECT DISTINCT ON (k.key) k.key, u.version, u.txid, u.deleted
  FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::boolean[]) AS u(version, img, txid, deleted)
  CROSS JOIN LATERAL (SELECT json_populate_record(NULL::"Sales ""EU"""."Orders; DROP TABLE x; --", u.img::json) OFFSET 0) AS p(rec)
  CROSS JOIN LATERAL (SELECT jsonb_build_array((p.rec)."Id", (p.rec)."line ""no""")) AS k(key)
  WHERE u.version > coalesce((SELECT w.version FROM pgfanout.truncations w WHERE w.relid = $1::oid::regclass), 0)
  ORDER BY k.key, u.version DESC
)
INSERT INTO pgfanout.row_versions AS v (relid, key, version, deleted, txid, snap)
SELECT $1::oid::regclass, c.key, c.version, c.deleted, c.txid, NULL FROM c ORDER BY c.key
ON CONFLICT (relid, key) DO UPDATE SET version = excluded.version, deleted = excluded.deleted,
  txid = excluded.txid, snap = NULL
WHERE CASE WHEN v.snap IS NULL THEN v.version < excluded.version
        ELSE NOT pg_visible_in_snapshot(excluded.txid::text::xid8, v.snap) END
