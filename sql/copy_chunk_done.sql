-- A chunk is copied (state $2; its snapshot $3 is what later changes are measured against).
UPDATE pgfanout.copy_chunks
SET state = $2, snapshot = $3::pg_snapshot, seq_high = $4, rows = $5, copied_at = now(), copied_by = $6
WHERE id = $1
