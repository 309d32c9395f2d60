package dml

// Bookkeeping is the DDL of the replica's bookkeeping schema, run statement by statement in one
// transaction under BookkeepingLock. Idempotent.
var Bookkeeping = []string{
	`CREATE SCHEMA IF NOT EXISTS pgfanout`,
	// key: jsonb array of the primary key values; deleted: tombstone.
	`CREATE TABLE IF NOT EXISTS pgfanout.row_versions (
  relid   regclass NOT NULL,
  key     jsonb    NOT NULL,
  version bigint   NOT NULL,
  deleted boolean  NOT NULL,
  PRIMARY KEY (relid, key)
) WITH (fillfactor = 80)`,
	`CREATE TABLE IF NOT EXISTS pgfanout.truncations (
  relid   regclass PRIMARY KEY,
  version bigint   NOT NULL
)`,
	`CREATE TABLE IF NOT EXISTS pgfanout.keyless_events (
  relid   regclass NOT NULL,
  version bigint   NOT NULL,
  image   jsonb    NOT NULL,
  delta   integer  NOT NULL,
  PRIMARY KEY (relid, version)
)`,
	// Hash, not btree: a btree entry cannot exceed ~2.7 kB and an image is a whole row.
	`CREATE INDEX IF NOT EXISTS keyless_events_image ON pgfanout.keyless_events USING hash (image)`,
}

// BookkeepingLock serializes concurrent bookkeeping creation by several replicators, since
// CREATE … IF NOT EXISTS races with itself: $1 is BookkeepingLockKey.
const BookkeepingLock = `SELECT pg_advisory_xact_lock($1)`

// BookkeepingLockKey is an arbitrary fixed advisory lock key ("pgfanout" in ASCII).
const BookkeepingLockKey int64 = 0x7067_6661_6e6f_7574

// Catalog describes a replica table: $1 schema, $2 table name. One row per live column in
// attnum order: relid, name, generated, identity-always, position in the primary key (0: none).
const Catalog = `SELECT c.oid, a.attname::text, a.attgenerated <> '' AS generated,
       a.attidentity = 'a' AS identity_always,
       coalesce((SELECT k.ord FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                 WHERE k.attnum = a.attnum), 0)::int AS key_position
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
ORDER BY a.attnum`
