package migrations_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// pass is one row a schema pass returns: "table tracked" or "table skipped: reason".
func (s *source) pass(sql string, args ...any) []string {
	s.t.Helper()
	return s.texts(`SELECT table_name || CASE WHEN tracked THEN ' tracked' ELSE ' skipped: ' || reason END
		FROM (`+sql+`) p`, args...)
}

// untrackedTables lists pgfanout.untracked_tables() as "table: reason".
func (s *source) untrackedTables() []string {
	s.t.Helper()
	return s.texts(`SELECT table_name::text || ': ' || reason FROM pgfanout.untracked_tables()`)
}

const schemaDDL = `CREATE SCHEMA l1;
	CREATE TABLE l1.keyed (id int PRIMARY KEY, v text);
	CREATE TABLE l1.keyless (v text);
	CREATE TABLE l1.parts (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
	CREATE TABLE l1.parts_low PARTITION OF l1.parts FOR VALUES FROM (0) TO (100);
	CREATE TABLE l1.mine (id int PRIMARY KEY);
	CREATE VIEW l1.view AS SELECT * FROM l1.keyed;
	CREATE MATERIALIZED VIEW l1.mat AS SELECT * FROM l1.keyed;
	CREATE SEQUENCE l1.seq;
	CREATE TABLE public.elsewhere (id int PRIMARY KEY)`

// track_schema tracks every table of the schema (partitioned tables at their root, not their
// partitions; not views, sequences or other schemas), reports what it did, and leaves a table
// tracked before alone; a table created later is tracked by the next pass, and only once.
func TestTrackSchemaTracksItsTablesNowAndLater(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(schemaDDL)
	s.exec(`SELECT pgfanout.track('l1.mine')`)
	require.Equal(t, []string{"l1.keyed tracked", "l1.keyless tracked", "l1.parts tracked"},
		s.pass(`SELECT * FROM pgfanout.track_schema('l1')`))
	require.Equal(t, []string{"l1.keyed {id}", "l1.keyless {}", "l1.mine {id}", "l1.parts {id}"}, s.tracked())
	require.Equal(t, []string{"l1"}, s.texts(`SELECT schema_name::text FROM pgfanout.tracked_schemas()`))
	require.Empty(t, s.pass(`SELECT * FROM pgfanout.track_schema('l1')`), "tracking a schema again is a no-op")
	require.Empty(t, s.pass(`SELECT * FROM pgfanout.track_new_tables()`))

	s.exec(`CREATE TABLE l1.later (id bigint PRIMARY KEY, v text); INSERT INTO l1.later VALUES (1, 'before')`)
	require.Equal(t, []string{"l1.later: created since the last pass; the publisher's next pass tracks it"}, s.untrackedTables())
	require.Empty(t, s.changes(), "a table is not captured before the pass tracks it")
	require.Equal(t, []string{"l1.later tracked"}, s.pass(`SELECT * FROM pgfanout.track_new_tables()`))
	require.Empty(t, s.pass(`SELECT * FROM pgfanout.track_new_tables()`), "a table is tracked once")
	require.Empty(t, s.untrackedTables())

	s.exec(`INSERT INTO l1.later VALUES (2, 'after'); INSERT INTO l1.parts VALUES (5, 'p'); INSERT INTO l1.parts_low VALUES (6, 'direct');
		INSERT INTO l1.keyless VALUES ('k'); INSERT INTO public.elsewhere VALUES (1)`)
	got := s.changes()
	var tables []string
	for _, c := range got {
		tables = append(tables, c.Table)
	}
	// Writes through the root are reported under its name; a direct write to a partition is
	// not captured (track the partition too if the application does that: docs/capture.md).
	require.Equal(t, []string{"later", "parts", "keyless"}, tables)
	requireChanges(t, []want{{"I", `{"id":2}`, `{"id":2,"v":"after"}`}}, got[:1])
	require.Equal(t, []string{"l1.parts {id}"}, s.texts(`SELECT table_name::text || ' ' || key_columns::text
		FROM pgfanout.tracked() WHERE table_name::text LIKE 'l1.part%'`))
}

// untrack_schema untracks what the schema tracked, keeps what was tracked individually before,
// and stops the passes for that schema; an untrack() by hand is not undone by the passes.
func TestUntrackSchema(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(schemaDDL)
	s.exec(`SELECT pgfanout.track('l1.mine'); SELECT pgfanout.track_schema('l1'); CREATE SCHEMA l2;
		CREATE TABLE l2.other (id int PRIMARY KEY); SELECT pgfanout.track_schema('l2')`)

	s.exec(`SELECT pgfanout.untrack('l1.keyless')`)
	require.Empty(t, s.pass(`SELECT * FROM pgfanout.track_new_tables()`), "an untrack by hand sticks")
	require.Equal(t, []string{"l1.keyless: untracked by hand; pgfanout.track() tracks it again"}, s.untrackedTables())
	s.exec(`SELECT pgfanout.track('l1.keyless')`)
	require.Empty(t, s.untrackedTables())

	s.exec(`SELECT pgfanout.untrack_schema('l1')`)
	require.Equal(t, []string{"l1.mine {id}", "l2.other {id}"}, s.tracked())
	require.Equal(t, []string{"l2"}, s.texts(`SELECT schema_name::text FROM pgfanout.tracked_schemas()`))
	s.exec(`CREATE TABLE l1.after (id int PRIMARY KEY); CREATE TABLE l2.after (id int PRIMARY KEY)`)
	require.Equal(t, []string{"l2.after tracked"}, s.pass(`SELECT * FROM pgfanout.track_new_tables()`))
	s.exec(`SELECT pgfanout.untrack_schema('l1')`) // untracking again is a no-op
	require.Equal(t, []string{"l1.mine {id}", "l2.after {id}", "l2.other {id}"}, s.tracked())
	var fns int
	s.scalar(&fns, `SELECT count(*) FROM pg_proc WHERE proname ~ '^capture_[0-9]+_' AND pronamespace = 'pgfanout'::regnamespace`)
	require.Equal(t, 3*3, fns, "untrack_schema drops the capture functions of what it untracked")
}

func TestTrackSchemaNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, ddl, arg, table string
	}{
		{"unquoted folds to lower case", `CREATE SCHEMA l1; CREATE TABLE l1.t (id int PRIMARY KEY)`, "L1", "l1.t"},
		{"space and capitals", `CREATE SCHEMA "Weird Schema"; CREATE TABLE "Weird Schema"."Order ""Items""" (id int PRIMARY KEY)`,
			`"Weird Schema"`, `"Weird Schema"."Order ""Items"""`},
		{"quote, dot and semicolon", `CREATE SCHEMA "a""b.c;d"; CREATE TABLE "a""b.c;d"."x.y" (id int PRIMARY KEY)`,
			`"a""b.c;d"`, `"a""b.c;d"."x.y"`},
		{"unicode", `CREATE SCHEMA "ünïcødé ✓"; CREATE TABLE "ünïcødé ✓".t (id int PRIMARY KEY)`, `"ünïcødé ✓"`, `"ünïcødé ✓".t`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSource(t)
			s.exec(tt.ddl)
			require.Equal(t, []string{tt.table + " tracked"}, s.pass(`SELECT * FROM pgfanout.track_schema($1)`, tt.arg))
			s.exec(`CREATE TABLE ` + tt.arg + `.t2 (id int PRIMARY KEY)`)
			require.Len(t, s.pass(`SELECT * FROM pgfanout.track_new_tables()`), 1)
			s.exec(`INSERT INTO ` + tt.arg + `.t2 VALUES (1)`)
			require.Len(t, s.changes(), 1)
			s.exec(`SELECT pgfanout.untrack_schema($1)`, tt.arg)
			require.Empty(t, s.tracked())
		})
	}
}

func TestTrackSchemaRefuses(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	for schema, msg := range map[string]string{
		"pgfanout":           "schema pgfanout cannot be tracked",
		"pg_catalog":         "schema pg_catalog cannot be tracked",
		"information_schema": "schema information_schema cannot be tracked",
		"missing":            `schema "missing" does not exist`,
	} {
		_, err := s.conn.Exec(ctxT(t), `SELECT pgfanout.track_schema($1)`, schema)
		require.ErrorContains(t, err, msg, schema)
	}
	require.Empty(t, s.texts(`SELECT schema_name::text FROM pgfanout.tracked_schemas()`))
}

// Dropped tables and schemas are forgotten by the next pass.
func TestSchemaPassForgetsDroppedObjects(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(schemaDDL)
	s.exec(`SELECT pgfanout.track_schema('l1'); DROP TABLE l1.keyed CASCADE`)
	require.Empty(t, s.pass(`SELECT * FROM pgfanout.track_new_tables()`))
	var rows int
	s.scalar(&rows, `SELECT count(*) FROM pgfanout.schema_tables`)
	require.Equal(t, 3, rows, "keyless, mine and parts")
	s.exec(`DROP SCHEMA l1 CASCADE`)
	require.Empty(t, s.pass(`SELECT * FROM pgfanout.track_new_tables()`))
	s.scalar(&rows, `SELECT (SELECT count(*) FROM pgfanout.schema_tables) + (SELECT count(*) FROM pgfanout.tracked_schemas)`)
	require.Zero(t, rows)
}
