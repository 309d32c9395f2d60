// Package sourcetest gives replicator tests a real capture source: a database with the capture
// migration applied, its change log read back as change.Change values (what the publisher would
// send), and table contents dumped as comparable text.
package sourcetest

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/changelog"
	"github.com/pgfanout/pgfanout/internal/migrate"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// Connect opens a connection with the replicator's session settings (everything that shapes
// text output is pinned, so dumps of the source and the replica compare byte for byte),
// closed when the test ends.
func Connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	for k, v := range change.ValueSettings() {
		cfg.RuntimeParams[k] = v
	}
	return testenv.ConnectConfig(t, cfg)
}

// ApplyCapture installs the capture on conn's database the way `publisher migrate` does
// (every migration, not just the first).
func ApplyCapture(t testing.TB, conn *pgx.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := migrate.Up(ctx, conn.Config().ConnString(), zerolog.Nop()); err != nil {
		t.Fatalf("apply capture migrations: %v", err)
	}
}

// Exec runs statements, failing the test on the first error.
func Exec(t testing.TB, conn *pgx.Conn, statements ...string) {
	t.Helper()
	for _, s := range statements {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// Entries reads the change log above version after, one slice per log entry (the publisher
// sends one entry as one or more messages), in version order.
func Entries(t testing.TB, conn *pgx.Conn, after int64) [][]change.Change {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT version, txid::text::bigint, schema_name, table_name, op::text,
		captured_at, key_columns, items::text FROM pgfanout.changes WHERE version > $1 ORDER BY version`, after)
	if err != nil {
		t.Fatalf("read change log: %v", err)
	}
	defer rows.Close()
	var entries [][]change.Change
	for rows.Next() {
		var (
			base      change.Change
			version   int64
			txid      int64
			op, items string
			keys      []string
		)
		if err := rows.Scan(&version, &txid, &base.Schema, &base.Table, &op, &base.CommittedAt, &keys, &items); err != nil {
			t.Fatalf("read change log: %v", err)
		}
		base.TxID = uint64(txid)
		if base.Op, err = change.OpFromCode(op[0]); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, expand(t, base, changelog.Items{
			JSON: []byte(items), First: version, Op: base.Op, KeyColumns: keys,
		}))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read change log: %v", err)
	}
	return entries
}

// expand turns an entry's items into changes with the publisher's own decoder; key and row
// stay byte-exact.
func expand(t testing.TB, base change.Change, items changelog.Items) []change.Change {
	var out []change.Change
	err := items.Each(func(version int64, key, row []byte) {
		c := base
		c.Version, c.Key, c.Row = version, key, row
		out = append(out, c)
	})
	if err != nil {
		t.Fatalf("parse items: %v", err)
	}
	for _, c := range out {
		if err := c.Validate(); err != nil {
			t.Fatalf("captured change is invalid: %v", err)
		}
	}
	return out
}

// Flatten concatenates entries.
func Flatten(entries [][]change.Change) []change.Change {
	var all []change.Change
	for _, e := range entries {
		all = append(all, e...)
	}
	return all
}

// Dump returns every row of schema.table as text, sorted: equal dumps mean equal contents,
// duplicates included.
func Dump(t testing.TB, conn *pgx.Conn, schema, table string) []string {
	t.Helper()
	// ROW(x.*), not x: a column named x would shadow the whole-row reference.
	sql := "SELECT ROW(x.*)::text FROM " + pgx.Identifier{schema, table}.Sanitize() + " AS x"
	rows, err := conn.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("dump %s.%s: %v", schema, table, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("dump %s.%s: %v", schema, table, err)
	}
	sort.Strings(out)
	return out
}

// PublisherIdle reports whether a publisher holds the idle lock on conn's database, i.e.
// waits for work and is woken by 'wakeup' capture (sql/take_idle_lock.sql takes it).
func PublisherIdle(t testing.TB, conn *pgx.Conn) bool {
	t.Helper()
	var idle bool
	// A two-int advisory key shows as classid, objid with objsubid 2 (see pg_locks).
	err := conn.QueryRow(context.Background(), `SELECT EXISTS (
		SELECT FROM pg_locks, pgfanout.idle_lock_key() k
		WHERE locktype = 'advisory' AND classid = k.key1::oid AND objid = k.key2::oid AND objsubid = 2
		  AND mode = 'ExclusiveLock' AND granted
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`).Scan(&idle)
	if err != nil {
		t.Fatalf("read the idle lock: %v", err)
	}
	return idle
}
