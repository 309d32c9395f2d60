-- The shape of every tracked table, as a hash of what the replica follows: each live column's
-- number, name, type, NOT NULL and collation, the labels of an enum column's type, and the
-- primary key's column numbers. A replicator compares it with the hash it recorded
-- (pgfanout.shapes on the replica) and reads the table's definition only when it changed.
SELECT n.nspname::text, c.relname::text,
       md5(ROW((SELECT i.indkey::text FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
               array_agg(ROW(a.attnum, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attcollation,
                             (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e
                              WHERE e.enumtypid = a.atttypid)) ORDER BY a.attnum))::text)
FROM pgfanout.tracked t
JOIN pg_catalog.pg_class c ON c.oid = t.relid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
GROUP BY n.nspname, c.relname, c.oid
