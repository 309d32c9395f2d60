package dml

import "github.com/jackc/pgx/v5"

// Bookkeeping is the DDL of the replica's bookkeeping schema, run statement by statement in one
// transaction under BookkeepingLock. Idempotent.
var Bookkeeping = []string{
	`CREATE SCHEMA IF NOT EXISTS pgfanout`,
	// key: jsonb array of the primary key values; deleted: tombstone. An entry is either a
	// change's (version; txid, its source transaction; snap NULL) or a copy's (snap, the
	// snapshot the copied state comes from; version, the version sequence then, which every
	// change the snapshot saw is below; txid NULL). The snapshot is in the row itself, not
	// looked up: a statement that waited for an entry's lock re-checks the entry's newest
	// version, but any other table only as its own snapshot saw it. docs/bootstrap.md.
	`CREATE TABLE IF NOT EXISTS pgfanout.row_versions (
  relid   regclass    NOT NULL,
  key     jsonb       NOT NULL,
  version bigint      NOT NULL,
  deleted boolean     NOT NULL,
  txid    bigint,
  snap    pg_snapshot,
  PRIMARY KEY (relid, key)
) WITH (fillfactor = 80)`,
	`CREATE TABLE IF NOT EXISTS pgfanout.truncations (
  relid   regclass PRIMARY KEY,
  version bigint   NOT NULL,
  txid    bigint
)`,
	// The copy of each source table into this replica (docs/bootstrap.md): epoch is the
	// source's tracked_at it copies (a table tracked anew has a new one and is copied again);
	// plan numbers the plans (a resync plans again); state is planning, copying, done or
	// failed (with the reason).
	`CREATE TABLE IF NOT EXISTS pgfanout.copy_tables (
  schema_name   text        NOT NULL,
  table_name    text        NOT NULL,
  epoch         text        NOT NULL,
  plan          integer     NOT NULL DEFAULT 0,
  state         text        NOT NULL,
  reason        text,
  chunks        integer     NOT NULL DEFAULT 0,
  rows_estimate bigint      NOT NULL DEFAULT 0,
  planned_at    timestamptz,
  done_at       timestamptz,
  PRIMARY KEY (schema_name, table_name)
)`,
	// The chunks of a copy: primary-key ranges [lo, hi) (key columns as a JSON object; NULL is
	// unbounded), each copied in one source snapshot and one replica transaction.
	`CREATE TABLE IF NOT EXISTS pgfanout.copy_chunks (
  id          bigserial   PRIMARY KEY,
  schema_name text        NOT NULL,
  table_name  text        NOT NULL,
  plan        integer     NOT NULL,
  ordinal     integer     NOT NULL,
  lo          jsonb,
  hi          jsonb,
  state       text        NOT NULL,
  snapshot    pg_snapshot,
  seq_high    bigint,
  rows        bigint,
  copied_at   timestamptz,
  copied_by   text,
  UNIQUE (schema_name, table_name, plan, ordinal)
)`,
	// Bookkeeping of an unreleased earlier format.
	`DROP TABLE IF EXISTS pgfanout.keyless_events`,
	`ALTER TABLE pgfanout.row_versions ADD COLUMN IF NOT EXISTS txid bigint, ADD COLUMN IF NOT EXISTS snap pg_snapshot`,
	`ALTER TABLE pgfanout.truncations ADD COLUMN IF NOT EXISTS txid bigint`,
	// Keyless tables (dml/keyless.go): every event once, debts, and the snapshot of the
	// table's copy (events it saw are dropped).
	`CREATE TABLE IF NOT EXISTS pgfanout.keyless_log (
  relid   regclass NOT NULL,
  version bigint   NOT NULL,
  digest  bytea    NOT NULL,
  delta   integer  NOT NULL,
  txid    bigint,
  PRIMARY KEY (relid, version)
)`,
	`CREATE TABLE IF NOT EXISTS pgfanout.keyless_debts (
  relid  regclass NOT NULL,
  digest bytea    NOT NULL,
  owed   integer  NOT NULL,
  PRIMARY KEY (relid, digest)
)`,
	`CREATE TABLE IF NOT EXISTS pgfanout.keyless_copies (
  relid regclass    PRIMARY KEY,
  snap  pg_snapshot NOT NULL
)`,
	// The bookkeeping horizon (dml/horizon.go, docs/bookkeeping.md): entries below cutoff may
	// be pruned, and changes below it are stale; seen is the highest low-water mark a
	// replicator reported, never below the cutoff (a copy's snapshot sees every change below it).
	`CREATE TABLE IF NOT EXISTS pgfanout.horizon (
  singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
  cutoff      bigint      NOT NULL DEFAULT 0,
  seen        bigint      NOT NULL DEFAULT 0,
  advanced_at timestamptz
)`,
	`INSERT INTO pgfanout.horizon DEFAULT VALUES ON CONFLICT DO NOTHING`,
	// The shape of each source table the replica follows (internal/follow, docs/schema.md):
	// its columns by number, the names older row images may use, the source's shape hash.
	`CREATE TABLE IF NOT EXISTS pgfanout.shapes (
  schema_name text        NOT NULL,
  table_name  text        NOT NULL,
  shape       jsonb       NOT NULL,
  names       jsonb       NOT NULL DEFAULT '{}',
  hash        text        NOT NULL DEFAULT '',
  followed_at timestamptz,
  PRIMARY KEY (schema_name, table_name)
)`,
	// Pruned entries leave dead rows: vacuum them early, as the change log is.
	`ALTER TABLE pgfanout.row_versions SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000)`,
	`ALTER TABLE pgfanout.keyless_log SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000)`,
	// An image's identity: the SHA-256 of its row's text. Declared IMMUTABLE so that an index
	// can use it, and made so by pinning every setting its output depends on.
	`CREATE OR REPLACE FUNCTION pgfanout.row_digest(r anyelement) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET "DateStyle" = 'ISO, YMD' SET "IntervalStyle" = 'postgres' SET "TimeZone" = 'UTC'
SET extra_float_digits = 3 SET bytea_output = 'hex' SET lc_monetary = 'C'
AS $$ SELECT sha256(convert_to(r::text, 'UTF8')) $$`,
}

// BookkeepingPresent reports whether every bookkeeping table exists (then the DDL is
// skipped, so a replicator role without CREATE works on a prepared replica). It reads the
// catalog tables, not to_regclass: a backend caches "not found" for a name until it next
// processes invalidations, and the re-check after waiting for another replicator's DDL must
// see that DDL's commit.
const BookkeepingPresent = `SELECT (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'pgfanout' AND c.relname IN ('row_versions', 'truncations', 'keyless_log', 'keyless_debts',
                                                         'keyless_copies', 'copy_tables', 'copy_chunks', 'horizon', 'shapes')) = 9
   AND EXISTS (SELECT FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname = 'pgfanout' AND p.proname = 'row_digest')`

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
                 WHERE k.attnum = a.attnum AND k.ord <= i.indnkeyatts), 0)::int AS key_position
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
ORDER BY a.attnum`

// ScanCatalog reads the rows of Catalog into a Table: its relid and the table, or a nil table
// when the query found none.
func ScanCatalog(rows pgx.Rows, schema, name string) (uint32, *Table, error) {
	defer rows.Close()
	var (
		relid uint32
		t     = Table{Schema: schema, Name: name}
		keys  = map[int]string{}
	)
	for rows.Next() {
		var col Column
		var keyPos int
		if err := rows.Scan(&relid, &col.Name, &col.Generated, &col.IdentityAlways, &keyPos); err != nil {
			return 0, nil, err
		}
		t.Columns = append(t.Columns, col)
		if keyPos > 0 {
			keys[keyPos] = col.Name
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	if len(t.Columns) == 0 {
		return 0, nil, nil
	}
	for i := 1; i <= len(keys); i++ {
		t.Key = append(t.Key, keys[i])
	}
	return relid, &t, nil
}
