package migrations_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	keyed   = `CREATE TABLE t (id int PRIMARY KEY, v text); SELECT pgfanout.track('t')`
	keyless = `CREATE TABLE t (a int, b text); SELECT pgfanout.track('t')`
)

func TestCaptureContent(t *testing.T) {
	t.Parallel()
	type step struct {
		sql  string
		want []want
	}
	tests := []struct {
		name  string
		setup string
		steps []step
	}{
		{"insert", keyed, []step{
			{`INSERT INTO t VALUES (1, 'a')`, []want{{"I", `{"id":1}`, `{"id":1,"v":"a"}`}}},
		}},
		{"multi-row insert", keyed, []step{
			{`INSERT INTO t VALUES (1, 'a'), (2, NULL), (3, 'c')`, []want{
				{"I", `{"id":1}`, `{"id":1,"v":"a"}`},
				{"I", `{"id":2}`, `{"id":2,"v":null}`},
				{"I", `{"id":3}`, `{"id":3,"v":"c"}`}}},
		}},
		{"update", keyed, []step{
			{`INSERT INTO t VALUES (1, 'a'), (2, 'b')`, nil},
			{`UPDATE t SET v = v || '!'`, []want{
				{"U", `{"id":1}`, `{"id":1,"v":"a!"}`},
				{"U", `{"id":2}`, `{"id":2,"v":"b!"}`}}},
			{`UPDATE t SET v = 'none' WHERE false`, []want{}},
		}},
		{"update changing the key", keyed, []step{
			{`INSERT INTO t VALUES (1, 'a'), (2, 'b')`, nil},
			{`UPDATE t SET id = id + 10 WHERE id = 1`, []want{
				{"D", `{"id":1}`, `null`},
				{"U", `{"id":11}`, `{"id":11,"v":"a"}`}}},
			// Later in the same transaction a non-key update must still find moved keys.
			{`BEGIN; UPDATE t SET v = 'x' WHERE id = 2; UPDATE t SET id = 3 WHERE id = 2; COMMIT`, []want{
				{"U", `{"id":2}`, `{"id":2,"v":"x"}`},
				{"D", `{"id":2}`, `null`},
				{"U", `{"id":3}`, `{"id":3,"v":"x"}`}}},
		}},
		{"update swapping keys", `CREATE TABLE t (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED, v text);
			SELECT pgfanout.track('t')`, []step{
			{`INSERT INTO t VALUES (1, 'a'), (2, 'b')`, nil},
			// Every old key is still present afterwards: nothing was deleted.
			{`UPDATE t SET id = 3 - id`, []want{
				{"U", `{"id":2}`, `{"id":2,"v":"a"}`},
				{"U", `{"id":1}`, `{"id":1,"v":"b"}`}}},
		}},
		{"delete", keyed, []step{
			{`INSERT INTO t VALUES (1, 'a'), (2, 'b')`, nil},
			{`DELETE FROM t WHERE id = 2`, []want{{"D", `{"id":2}`, `null`}}},
		}},
		{"truncate", keyed, []step{
			{`INSERT INTO t VALUES (1, 'a')`, nil},
			{`TRUNCATE t`, []want{{"T", `null`, `null`}}},
		}},
		{"keyless table with duplicate rows", keyless, []step{
			{`INSERT INTO t VALUES (1, 'a'), (1, 'a')`, []want{
				{"I", `null`, `{"a":1,"b":"a"}`},
				{"I", `null`, `{"a":1,"b":"a"}`}}},
			{`UPDATE t SET b = 'b' WHERE ctid = (SELECT min(ctid) FROM t)`, []want{
				{"D", `{"a":1,"b":"a"}`, `null`},
				{"U", `null`, `{"a":1,"b":"b"}`}}},
			{`DELETE FROM t WHERE ctid = (SELECT min(ctid) FROM t WHERE b = 'a')`, []want{
				{"D", `{"a":1,"b":"a"}`, `null`}}},
		}},
		{"insert on conflict", keyed, []step{
			{`INSERT INTO t VALUES (1, 'a')`, nil},
			// PostgreSQL fires the statement's AFTER UPDATE triggers before its AFTER INSERT ones.
			{`INSERT INTO t VALUES (1, 'x'), (2, 'y') ON CONFLICT (id) DO UPDATE SET v = excluded.v`, []want{
				{"U", `{"id":1}`, `{"id":1,"v":"x"}`},
				{"I", `{"id":2}`, `{"id":2,"v":"y"}`}}},
			{`INSERT INTO t VALUES (1, 'z') ON CONFLICT DO NOTHING`, []want{}},
			{`INSERT INTO t VALUES (2, 'k') ON CONFLICT (id) DO UPDATE SET id = 5`, []want{
				{"D", `{"id":2}`, `null`},
				{"U", `{"id":5}`, `{"id":5,"v":"y"}`}}},
		}},
		{"merge", keyed, []step{
			{`INSERT INTO t VALUES (1, 'a'), (2, 'b')`, nil},
			{`MERGE INTO t USING (VALUES (1, 'm'), (2, NULL), (3, 'n')) s(id, v) ON t.id = s.id
			  WHEN MATCHED AND s.v IS NULL THEN DELETE
			  WHEN MATCHED THEN UPDATE SET v = s.v
			  WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)`, []want{
				{"D", `{"id":2}`, `null`},
				{"U", `{"id":1}`, `{"id":1,"v":"m"}`},
				{"I", `{"id":3}`, `{"id":3,"v":"n"}`}}},
			{`MERGE INTO t USING (VALUES (1)) s(id) ON t.id = s.id WHEN MATCHED THEN UPDATE SET id = 7`, []want{
				{"D", `{"id":1}`, `null`},
				{"U", `{"id":7}`, `{"id":7,"v":"m"}`}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSource(t)
			var serverVersion int
			s.scalar(&serverVersion, `SELECT current_setting('server_version_num')::int`)
			if tt.name == "merge" && serverVersion < 150000 {
				t.Skip("MERGE needs PostgreSQL 15")
			}
			s.exec(tt.setup)
			for _, st := range tt.steps {
				s.exec(st.sql)
				got := s.changes()
				if st.want != nil {
					requireChanges(t, st.want, got)
				}
			}
		})
	}
}

func TestOneTransactionSharesATxid(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(keyed + `; CREATE TABLE u (id int PRIMARY KEY); SELECT pgfanout.track('u')`)
	s.exec(`BEGIN; INSERT INTO t VALUES (1, 'a'); INSERT INTO u VALUES (1); UPDATE t SET v = 'b'; COMMIT`)
	s.exec(`INSERT INTO t VALUES (2, 'c')`)
	got := s.changes()
	require.Len(t, got, 4)
	require.Equal(t, []string{"t", "u", "t", "t"}, []string{got[0].Table, got[1].Table, got[2].Table, got[3].Table})
	require.Equal(t, got[0].TxID, got[1].TxID)
	require.Equal(t, got[0].TxID, got[2].TxID)
	require.NotEqual(t, got[0].TxID, got[3].TxID)
}

func TestBacklogView(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(keyed)
	var entries, changes int64
	var oldestNull bool
	s.scalar(&entries, `SELECT entries FROM pgfanout.backlog`)
	s.scalar(&oldestNull, `SELECT oldest_captured_at IS NULL FROM pgfanout.backlog`)
	require.Zero(t, entries)
	require.True(t, oldestNull)

	s.exec(`INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')`)
	s.exec(`UPDATE t SET v = 'x' WHERE id = 1`)
	require.NoError(t, s.conn.QueryRow(ctxT(t), `SELECT entries, changes FROM pgfanout.backlog`).Scan(&entries, &changes))
	require.Equal(t, []int64{2, 4}, []int64{entries, changes})
	var oldestIsFirst bool
	s.scalar(&oldestIsFirst, `SELECT oldest_captured_at = (SELECT captured_at FROM pgfanout.changes ORDER BY version LIMIT 1)
		FROM pgfanout.backlog`)
	require.True(t, oldestIsFirst)
}

// Cascaded foreign-key actions run as statements of their own on the child table.
func TestForeignKeyCascadesAreCaptured(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(`CREATE TABLE par (id int PRIMARY KEY);
		CREATE TABLE chi (id int PRIMARY KEY, par int REFERENCES par ON DELETE CASCADE ON UPDATE CASCADE);
		INSERT INTO par VALUES (1), (2); INSERT INTO chi VALUES (10, 1), (11, 1), (20, 2);
		SELECT pgfanout.track('par'), pgfanout.track('chi')`)
	s.exec(`DELETE FROM par WHERE id = 1`)
	s.exec(`UPDATE par SET id = 3 WHERE id = 2`)
	var got []string
	for _, c := range s.changes() {
		got = append(got, c.Table+" "+c.Op+" "+c.Key)
	}
	require.Equal(t, []string{`par D {"id" : 1}`, `chi D {"id" : 10}`, `chi D {"id" : 11}`,
		`par D {"id" : 2}`, `par U {"id" : 3}`, `chi U {"id" : 20}`}, got)
}
