-- Extends the lease of term $1 by $2 seconds from now; no row when another term began (the
-- lease was lost). A term whose lease ran out but that nobody took may go on.
UPDATE pgfanout.leader
SET renewed_at = clock_timestamp(), expires_at = clock_timestamp() + make_interval(secs => $2::float8)
WHERE term = $1
RETURNING term
