-- Drops the chunks a new plan supersedes: those not copied yet ($3, the pending state). A chunk
-- being copied is locked by its copier; this waits for it, and then it is no longer pending.
DELETE FROM pgfanout.copy_chunks WHERE schema_name = $1 AND table_name = $2 AND state = $3
