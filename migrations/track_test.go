package migrations_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// tracked lists pgfanout.tracked() as "table [key columns]".
func (s *source) tracked() []string {
	s.t.Helper()
	return s.texts(`SELECT table_name::text || ' ' || key_columns::text FROM pgfanout.tracked()`)
}

// triggers lists the capture triggers of a table with their OIDs (a reinstall changes them).
func (s *source) triggers(table string) []string {
	s.t.Helper()
	return s.texts(`SELECT tgname || '@' || oid FROM pg_trigger
		WHERE tgrelid = $1::regclass AND tgname LIKE 'pgfanout%' ORDER BY tgname`, table)
}

// texts runs a query of one text column and returns its values.
func (s *source) texts(sql string, args ...any) []string {
	s.t.Helper()
	rows, err := s.conn.Query(ctxT(s.t), sql, args...)
	require.NoError(s.t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(s.t, err, sql)
	return out
}

func TestTrackNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		ddl         string
		track       string // argument of pgfanout.track
		table       string // regclass text of the table
		insert      string
		schema, rel string // names in the entry
		key, row    string
	}{
		{"plain name", `CREATE TABLE orders (id int PRIMARY KEY, note text)`, "orders", "orders",
			`INSERT INTO orders VALUES (1, 'x')`, "public", "orders", `{"id":1}`, `{"id":1,"note":"x"}`},
		{"schema-qualified", `CREATE SCHEMA app; CREATE TABLE app.orders (id int PRIMARY KEY)`, "app.orders", "app.orders",
			`INSERT INTO app.orders VALUES (2)`, "app", "orders", `{"id":2}`, `{"id":2}`},
		{"quoted identifiers",
			`CREATE SCHEMA "Weird Schema";
			 CREATE TABLE "Weird Schema"."Order ""Items""" ("Quote""d" int, "with space" text, "semi;colon" text,
			     "CamelCase" text, "ünïcødé ✓" text, PRIMARY KEY ("Quote""d", "ünïcødé ✓"))`,
			`"Weird Schema"."Order ""Items"""`, `"Weird Schema"."Order ""Items"""`,
			`INSERT INTO "Weird Schema"."Order ""Items""" VALUES (1, 'a b', 'x;y', 'C', 'ü')`,
			"Weird Schema", `Order "Items"`, `{"Quote\"d":1,"ünïcødé ✓":"ü"}`,
			`{"Quote\"d":1,"with space":"a b","semi;colon":"x;y","CamelCase":"C","ünïcødé ✓":"ü"}`},
		{"columns named like the capture's own aliases",
			`CREATE TABLE a (n int PRIMARY KEY, o text, v int, k int, r text, s text, e int, g int, version int)`,
			"a", "a", `INSERT INTO a VALUES (1, 'o', 2, 3, 'r', 's', 4, 5, 6)`, "public", "a", `{"n":1}`,
			`{"n":1,"o":"o","v":2,"k":3,"r":"r","s":"s","e":4,"g":5,"version":6}`},
		{"the same on the slow path (a row over 16 KiB)",
			`CREATE TABLE a (n int PRIMARY KEY, o text, v int, k int, r text, s text, e int, g int, first int, last int, items text)`,
			"a", "a", `INSERT INTO a VALUES (1, 'o', 2, 3, repeat('r', 17000), 's', 4, 5, 6, 7, 'i')`, "public", "a", `{"n" : 1}`,
			`{"n":1,"o":"o","v":2,"k":3,"r":"` + strings.Repeat("r", 17000) + `","s":"s","e":4,"g":5,"first":6,"last":7,"items":"i"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSource(t)
			s.exec(tt.ddl)
			s.exec(`SELECT pgfanout.track($1)`, tt.track)
			s.exec(tt.insert)
			entries := s.entries()
			require.Len(t, entries, 1)
			require.Equal(t, []string{tt.schema, tt.rel}, []string{entries[0].Schema, entries[0].Table})
			require.JSONEq(t, tt.key, string(entries[0].Items[0].Key))
			require.JSONEq(t, tt.row, string(entries[0].Items[0].Row))
			require.Len(t, s.tracked(), 1)

			// Tracking again changes nothing.
			before := s.triggers(tt.table)
			require.Len(t, before, 5)
			s.exec(`SELECT pgfanout.track($1)`, tt.track)
			require.Equal(t, before, s.triggers(tt.table))

			s.exec(`SELECT pgfanout.untrack($1)`, tt.track)
			require.Empty(t, s.triggers(tt.table))
			require.Empty(t, s.tracked())
			var fns int
			s.scalar(&fns, `SELECT count(*) FROM pg_proc WHERE proname LIKE 'capture\_%' AND pronamespace = 'pgfanout'::regnamespace
				AND proname NOT IN ('capture_truncate', 'capture_key_update', 'capture_block', 'capture_body')`)
			require.Zero(t, fns, "untrack drops the generated functions")
			s.changes()
			s.exec(`DELETE FROM ` + tt.table)
			require.Empty(t, s.changes(), "untracked tables are not captured")
			s.exec(`SELECT pgfanout.untrack($1)`, tt.track) // untracking again is a no-op
		})
	}
}

func TestTrackResolvesNamesLikeTheCaller(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(`CREATE SCHEMA app; CREATE TABLE app.orders (id int PRIMARY KEY); CREATE TABLE public.orders (id int PRIMARY KEY)`)
	s.exec(`SET search_path = app, public; SELECT pgfanout.track('orders'); RESET search_path`)
	require.Equal(t, []string{"app.orders {id}"}, s.tracked())
}

func TestTrackRejectsWhatIsNotATable(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(`CREATE TABLE t (id int PRIMARY KEY); CREATE VIEW w AS SELECT * FROM t`)
	_, err := s.conn.Exec(ctxT(t), `SELECT pgfanout.track('w')`)
	require.ErrorContains(t, err, "is not a table")
	_, err = s.conn.Exec(ctxT(t), `SELECT pgfanout.track('missing')`)
	require.ErrorContains(t, err, `relation "missing" does not exist`)
}

// Tracking again after the primary key changed reinstalls capture with the new key.
func TestTrackAgainAfterKeyChange(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(`CREATE TABLE t (id int PRIMARY KEY, code text NOT NULL); SELECT pgfanout.track('t')`)
	before := s.triggers("t")
	s.exec(`BEGIN; ALTER TABLE t DROP CONSTRAINT t_pkey, ADD PRIMARY KEY (code); SELECT pgfanout.track('t'); COMMIT`)
	require.NotEqual(t, before, s.triggers("t"))
	require.Equal(t, []string{"t {code}"}, s.tracked())
	s.exec(`INSERT INTO t VALUES (1, 'a')`)
	requireChanges(t, []want{{"I", `{"code":"a"}`, `{"id":1,"code":"a"}`}}, s.changes())

	s.exec(`BEGIN; ALTER TABLE t DROP CONSTRAINT t_pkey; SELECT pgfanout.track('t'); COMMIT`)
	require.Equal(t, []string{"t {}"}, s.tracked())
	require.Len(t, s.triggers("t"), 4, "a keyless table has no key-update trigger")
	s.exec(`DELETE FROM t`)
	requireChanges(t, []want{{"D", `{"id":1,"code":"a"}`, `null`}}, s.changes())
}

func TestDroppedTablesAreForgotten(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(`CREATE TABLE gone (id int PRIMARY KEY); CREATE TABLE kept (id int PRIMARY KEY);
		SELECT pgfanout.track('gone'); DROP TABLE gone`)
	require.Empty(t, s.tracked(), "tracked() lists existing tables only")
	s.exec(`SELECT pgfanout.track('kept')`)
	var rows, fns int
	s.scalar(&rows, `SELECT count(*) FROM pgfanout.tracked`)
	s.scalar(&fns, `SELECT count(*) FROM pg_proc WHERE proname ~ '^capture_[0-9]+_' AND pronamespace = 'pgfanout'::regnamespace`)
	require.Equal(t, []int{1, 3}, []int{rows, fns})
}
