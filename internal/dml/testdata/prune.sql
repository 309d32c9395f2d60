DELETE FROM pgfanout.row_versions WHERE ctid = ANY(ARRAY(
  SELECT ctid FROM pgfanout.row_versions
  WHERE ctid >= format('(%s,0)', $1::bigint)::tid AND ctid < format('(%s,0)', $2::bigint)::tid AND version < $3
  FOR UPDATE SKIP LOCKED))
