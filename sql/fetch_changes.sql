-- The next change-log entries in version order, after version $1 (0: from the start).
-- The batch is cut once it holds $2 changes or $3 bytes of items JSON; the entry that
-- crosses a bound is still included, so a single huge entry is fetched on its own.
--
-- Sizes are summed in two steps. The stored size (pg_column_size: compressed, read from the
-- TOAST pointer without detoasting) can only be smaller than the JSON text, so it first cuts
-- the candidates cheaply; the exact JSON size is then computed only for those left.
-- Each sum covers the rows *before* the current one (frame ending 1 PRECEDING), so every
-- size expression appears once: items::text detoasts the whole entry each time it is written.
SELECT version, txid, schema_name, table_name, op, captured_at, n, key_columns, items
FROM (
    SELECT version, txid, schema_name, table_name, op, captured_at, n, key_columns, items,
           coalesce(sum(octet_length(items::text)) OVER before, 0) AS bytes_before
    FROM (
        SELECT version, txid, schema_name, table_name, op, captured_at, n, key_columns, items
        FROM (
            SELECT c.*,
                   coalesce(sum(n) OVER before, 0) AS changes_before,
                   coalesce(sum(pg_column_size(items)) OVER before, 0) AS stored_before
            FROM (
                SELECT * FROM pgfanout.changes WHERE version > $1 ORDER BY version LIMIT $2
            ) c
            WINDOW before AS (ORDER BY version ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
        ) counted
        WHERE changes_before < $2 AND stored_before < $3
    ) candidates
    WINDOW before AS (ORDER BY version ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
) sized
WHERE bytes_before < $3
ORDER BY version
