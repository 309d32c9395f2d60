-- The next change-log entries in version order, after version $1 (0: from the start).
-- The batch is cut once it holds $2 changes or $3 bytes of items JSON; the entry that
-- crosses a bound is still included, so a single huge entry is fetched on its own.
-- Each sum covers the entries *before* the current one (frame ending 1 PRECEDING). `bytes`
-- is the entry's JSON size, stored by the capture: the budget is kept without detoasting.
-- The key columns come as a JSON array: to_json escapes the names exactly as row_to_json
-- writes them in row images.
SELECT version, txid, schema_name, table_name, op, captured_at, n, to_json(key_columns)::text, items
FROM (
    SELECT c.*,
           coalesce(sum(n) OVER before, 0) AS changes_before,
           coalesce(sum(bytes) OVER before, 0) AS bytes_before
    FROM (
        SELECT * FROM pgfanout.changes WHERE version > $1 ORDER BY version LIMIT $2
    ) c
    WINDOW before AS (ORDER BY version ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
) counted
WHERE changes_before < $2 AND bytes_before < $3
ORDER BY version
