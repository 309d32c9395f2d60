WITH e AS (
  SELECT DISTINCT ON (u.version) u.version, u.txid, u.delta, u.img, pgfanout.row_digest(ROW((p.rec)."kind", (p.rec)."x y")) AS digest
  FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::integer[]) AS u(version, img, txid, delta)
  CROSS JOIN LATERAL (SELECT json_populate_record(NULL::"public"."Événements", u.img::json) OFFSET 0) AS p(rec)
  WHERE u.version > coalesce((SELECT w.version FROM pgfanout.truncations w WHERE w.relid = $1::oid::regclass), 0)
    AND NOT coalesce(pg_visible_in_snapshot(u.txid::text::xid8,
          (SELECT s.snap FROM pgfanout.keyless_copies s WHERE s.relid = $1::oid::regclass)), false)
  ORDER BY u.version -- a change delivered twice in one batch is one event
),
ins AS (
  INSERT INTO pgfanout.keyless_log AS x (relid, version, digest, delta, txid)
  SELECT $1::oid::regclass, e.version, e.digest, e.delta, e.txid FROM e ORDER BY e.version
  ON CONFLICT (relid, version) DO NOTHING
  RETURNING x.version
),
fresh AS (SELECT jsonb_object_agg(ins.version::text, true) AS s FROM ins)
SELECT e.digest, sum(e.delta)::integer, (array_agg(e.img) FILTER (WHERE e.delta > 0))[1]
FROM e WHERE (SELECT fresh.s FROM fresh) ? e.version::text
GROUP BY e.digest ORDER BY e.digest
