package apply

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// ch builds a change of public.<table>; key and row are JSON text ("" for null).
func ch(table string, version int64, op change.Op, key, row string) change.Change {
	c := change.Change{Version: version, Op: op, Schema: "public", Table: table, CommittedAt: time.Now()}
	if key != "" {
		c.Key = json.RawMessage(key)
	}
	if row != "" {
		c.Row = json.RawMessage(row)
	}
	return c
}

func replicaRows(t *testing.T, f *fixture, table string) []string {
	return sourcetest.Dump(t, f.rep, "public", table)
}

func TestTruncateWatermark(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE k (id int PRIMARY KEY, v text)`, `CREATE TABLE l (v text)`)
	// Applied in this order: a newer upsert, the truncate, then late older changes.
	f.apply(t, []change.Change{
		ch("k", 1, change.Insert, `{"id":1}`, `{"id":1,"v":"a"}`),
		ch("k", 2, change.Insert, `{"id":2}`, `{"id":2,"v":"b"}`),
		ch("k", 12, change.Update, `{"id":3}`, `{"id":3,"v":"after"}`),
		ch("l", 3, change.Insert, "", `{"v":"old"}`),
		ch("l", 13, change.Insert, "", `{"v":"new"}`),
	})
	f.apply(t, []change.Change{ch("k", 10, change.Truncate, "", ""), ch("l", 11, change.Truncate, "", "")})
	require.Equal(t, []string{"(3,after)"}, replicaRows(t, f, "k"))
	require.Equal(t, []string{"(new)"}, replicaRows(t, f, "l"))

	f.apply(t, []change.Change{
		ch("k", 5, change.Insert, `{"id":5}`, `{"id":5,"v":"late"}`),
		ch("k", 4, change.Delete, `{"id":3}`, ""),
		ch("l", 6, change.Insert, "", `{"v":"late"}`),
		ch("l", 7, change.Delete, `{"v":"new"}`, ""),
		ch("k", 10, change.Truncate, "", ""), // redelivered
	})
	require.Equal(t, []string{"(3,after)"}, replicaRows(t, f, "k"))
	require.Equal(t, []string{"(new)"}, replicaRows(t, f, "l"))
}

func TestTombstoneBlocksOlderUpsert(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE k (id int PRIMARY KEY, v text)`)
	f.apply(t, []change.Change{ch("k", 5, change.Delete, `{"id":1}`, "")})
	f.apply(t, []change.Change{ch("k", 3, change.Insert, `{"id":1}`, `{"id":1,"v":"resurrected?"}`)})
	require.Empty(t, replicaRows(t, f, "k"))
	f.apply(t, []change.Change{ch("k", 7, change.Insert, `{"id":1}`, `{"id":1,"v":"reinserted"}`)})
	require.Equal(t, []string{"(1,reinserted)"}, replicaRows(t, f, "k"))
}

// TestKeylessBaseline: rows a replica held before replication are adjusted, not replaced.
func TestKeylessBaseline(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE l (v text)`)
	sourcetest.Exec(t, f.rep, `INSERT INTO l VALUES ('x'), ('x'), ('y')`)
	f.apply(t, []change.Change{
		ch("l", 1, change.Insert, "", `{"v":"x"}`),
		ch("l", 2, change.Delete, `{"v":"y"}`, ""),
	})
	require.Equal(t, []string{"(x)", "(x)", "(x)"}, replicaRows(t, f, "l"))
	f.apply(t, []change.Change{ch("l", 1, change.Insert, "", `{"v":"x"}`)}) // redelivered
	require.Equal(t, []string{"(x)", "(x)", "(x)"}, replicaRows(t, f, "l"))
}

// TestKeylessEventsOnceAndInAnyOrder: a change delivered twice in one batch is one event; a
// delete that arrives before its insert leaves a debt the insert pays.
func TestKeylessEventsOnceAndInAnyOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE l (v text)`)
	twice := ch("l", 1, change.Insert, "", `{"v":"x"}`)
	f.apply(t, []change.Change{twice, twice, ch("l", 2, change.Insert, "", `{"v":"x"}`)})
	require.Equal(t, []string{"(x)", "(x)"}, replicaRows(t, f, "l"))
	f.apply(t, []change.Change{ch("l", 9, change.Delete, `{"v":"y"}`, ""), ch("l", 9, change.Delete, `{"v":"y"}`, "")})
	require.Equal(t, []string{"(x)", "(x)"}, replicaRows(t, f, "l"), "a delete of a copy that is not there yet leaves no row")
	f.apply(t, []change.Change{ch("l", 8, change.Insert, "", `{"v":"y"}`), ch("l", 10, change.Insert, "", `{"v":"y"}`)})
	require.Equal(t, []string{"(x)", "(x)", "(y)"}, replicaRows(t, f, "l"), "the insert that came late paid the debt")
}

// TestCatalogRefresh: a column added on the replica after the table was described is used.
func TestCatalogRefresh(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE k (id int PRIMARY KEY)`)
	f.apply(t, []change.Change{ch("k", 1, change.Insert, `{"id":1}`, `{"id":1}`)})
	sourcetest.Exec(t, f.rep, `ALTER TABLE k ADD COLUMN v text`)
	f.apply(t, []change.Change{ch("k", 2, change.Insert, `{"id":2}`, `{"id":2,"v":"new column"}`)})
	require.Equal(t, []string{"(1,)", "(2,\"new column\")"}, replicaRows(t, f, "k"))
}

func TestDataErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		`CREATE TABLE k (id int PRIMARY KEY, v text CHECK (v <> 'bad'), u int UNIQUE)`,
		`CREATE TABLE l (v text)`)
	f.apply(t, []change.Change{ch("k", 1, change.Insert, `{"id":1}`, `{"id":1,"v":"ok","u":1}`)})
	cases := map[string]change.Change{
		"unknown table":                 {Version: 2, Op: change.Insert, Schema: "public", Table: "nope", Row: json.RawMessage(`{"id":1}`)},
		"unknown column":                ch("k", 3, change.Insert, `{"id":2}`, `{"id":2,"extra":1}`),
		"missing key column":            ch("k", 4, change.Insert, `{"id":2}`, `{"v":"x"}`),
		"delete without key":            ch("k", 5, change.Delete, `{"v":"x"}`, ""),
		"check violation":               ch("k", 6, change.Insert, `{"id":2}`, `{"id":2,"v":"bad"}`),
		"unique violation":              ch("k", 7, change.Insert, `{"id":3}`, `{"id":3,"u":1}`),
		"bad value":                     ch("k", 8, change.Insert, `{"id":2}`, `{"id":"two"}`),
		"keyed source, keyless replica": ch("l", 9, change.Insert, `{"id":1}`, `{"v":"x"}`),
		"row not an object":             ch("k", 10, change.Insert, `{"id":2}`, `[1]`),
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := f.applier.Apply(context.Background(), []change.Change{c})
			require.Error(t, err)
			require.False(t, IsTransient(err), "%v", err)
		})
	}
	require.Equal(t, []string{"(1,ok,1)"}, replicaRows(t, f, "k"), "failed batches apply nothing")
}

// TestWeirdNames: names needing quoting everywhere, through capture and apply.
func TestWeirdNames(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		`CREATE SCHEMA "Sales ""EU"""`,
		`CREATE TABLE "Sales ""EU"""."Orders; DROP TABLE x; --" ("Id" int, "line ""no""" text, "größe" numeric,
			"note;--" text, PRIMARY KEY ("Id", "line ""no"""))`,
		`CREATE TABLE "Sales ""EU"""."Événements" ("kind" text, "x y" int)`)
	f.track(t, `"Sales ""EU"""."Orders; DROP TABLE x; --"`, `"Sales ""EU"""."Événements"`)
	sourcetest.Exec(t, f.src,
		`INSERT INTO "Sales ""EU"""."Orders; DROP TABLE x; --" VALUES (1, 'a', 1.5, 'x'), (2, 'b''c', 2, NULL)`,
		`UPDATE "Sales ""EU"""."Orders; DROP TABLE x; --" SET "line ""no""" = 'moved' WHERE "Id" = 1`,
		`DELETE FROM "Sales ""EU"""."Orders; DROP TABLE x; --" WHERE "Id" = 2`,
		`INSERT INTO "Sales ""EU"""."Événements" VALUES ('k', 1), ('k', 1), ('z', NULL)`,
		`DELETE FROM "Sales ""EU"""."Événements" WHERE "x y" IS NULL`)
	f.apply(t, sourcetest.Flatten(f.entries(t)))
	f.requireSame(t, `Sales "EU"`, "Orders; DROP TABLE x; --", "Événements")
	sourcetest.Exec(t, f.src, `TRUNCATE "Sales ""EU"""."Orders; DROP TABLE x; --", "Sales ""EU"""."Événements"`)
	f.apply(t, sourcetest.Flatten(f.entries(t)))
	f.requireSame(t, `Sales "EU"`, "Orders; DROP TABLE x; --", "Événements")
}

// TestReplicaOnlyColumns: a keyed replica table may have columns the source lacks; inserts
// give them their defaults and updates leave them alone.
func TestReplicaOnlyColumns(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `CREATE TABLE k (id int PRIMARY KEY, v text)`)
	sourcetest.Exec(t, f.rep, `ALTER TABLE k ADD COLUMN note text NOT NULL DEFAULT 'local'`)
	f.apply(t, []change.Change{ch("k", 1, change.Insert, `{"id":1}`, `{"id":1,"v":"a"}`)})
	sourcetest.Exec(t, f.rep, `UPDATE k SET note = 'edited on the replica'`)
	f.apply(t, []change.Change{ch("k", 2, change.Update, `{"id":1}`, `{"id":1,"v":"b"}`),
		ch("k", 3, change.Insert, `{"id":2}`, `{"id":2,"v":"c"}`)})
	require.Equal(t, []string{`(1,b,"edited on the replica")`, "(2,c,local)"}, replicaRows(t, f, "k"))
}

// TestUnreachableReplicaIsTransient: a replica that refuses the connection (here: its database
// does not exist) must be waited for, never blamed on the changes.
func TestUnreachableReplicaIsTransient(t *testing.T) {
	t.Parallel()
	a := New(newPool(t, testenv.WithDatabase(t, testenv.PGURL(t), testenv.UniqueName("no_such_db"))))
	err := a.Apply(context.Background(), []change.Change{ch("k", 1, change.Insert, `{"id":1}`, `{"id":1}`)})
	require.Error(t, err)
	require.True(t, IsTransient(err), "%v", err)
}
