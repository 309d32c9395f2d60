package migrations_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

// column is one column of the round-trip table and the values (SQL literals) its rows hold.
type column struct {
	name, typ string
	values    []string
}

const roundTripTypes = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TYPE pair AS (a integer, b text, c double precision, d timestamptz, e bytea);`

var roundTripColumns = []column{
	{"num", "numeric", []string{`'1234567890123456789012345678901234567890'`,
		`'-0.0000000000000000000000000000000000000001'`, `'NaN'`, `'Infinity'`, `'-Infinity'`, `'0.10'`}},
	{"f4", "real", []string{`'NaN'`, `'Infinity'`, `'-Infinity'`, `'3.4028235e38'`, `'1e-45'`, `'-0'`, `'0.1'`, `'1.17549435e-38'`}},
	{"f8", "double precision", []string{`'NaN'`, `'Infinity'`, `'-Infinity'`, `'1.7976931348623157e308'`, `'5e-324'`,
		`'-0'`, `'0.1'`, `'2.2250738585072014e-308'`}},
	{"i8", "bigint", []string{`-9223372036854775808`, `9223372036854775807`}},
	{"i2", "smallint", []string{`-32768`}},
	{"bool", "boolean", []string{`true`, `false`}},
	{"bytes", "bytea", []string{`'\x00ff5c220a27'`, `'\x'`, `'\x` + strings.Repeat("ab", 20) + `'`}},
	{"ts", "timestamp", []string{`'infinity'`, `'-infinity'`, `'4713-01-01 00:00:00 BC'`, `'294276-12-31 23:59:59.999999'`,
		`'2000-02-29 12:34:56.789012'`, `'0001-01-01 00:00:00 BC'`}},
	{"tstz", "timestamptz", []string{`'infinity'`, `'-infinity'`, `'4713-01-01 00:00:00+00 BC'`,
		`'1900-01-01 00:00:00+05:53:28'`, `'2000-02-29 12:34:56.789012+05:30'`, `'294276-12-31 23:59:59.999999+00'`}},
	{"day", "date", []string{`'infinity'`, `'-infinity'`, `'4714-11-24 BC'`, `'5874897-12-31'`, `'2000-02-29'`, `'0044-03-15 BC'`}},
	{"span", "interval", []string{`'-1 days -02:03:04'`, `'1 year 2 mons -3 days +04:05:06.789'`, `'178000000 years'`,
		`'-00:00:00.000001'`, `'1 mon -1 day'`, `'-1 year +1 mon'`, `'-1 days +02:00:00'`}},
	{"tod", "time", []string{`'00:00:00'`, `'23:59:59.999999'`, `'24:00:00'`}},
	{"todtz", "timetz", []string{`'12:34:56.789+05:30'`, `'00:00:00-15:59'`, `'24:00:00+15:59'`}},
	{"id_", "uuid", []string{`'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'`}},
	{"addr", "inet", []string{`'192.168.0.1/24'`, `'::ffff:1.2.3.4'`, `'2001:db8::1/64'`}},
	{"net", "cidr", []string{`'10.0.0.0/8'`, `'2001:db8::/32'`}},
	{"mac", "macaddr8", []string{`'08:00:2b:01:02:03:04:05'`}},
	{"cash", "money", []string{`'1234567.89'`, `'-0.01'`, `'-92233720368547758.08'`, `'92233720368547758.07'`}},
	{"bits", "bit varying", []string{`'1011'`, `''`, `'1'`}},
	{"fixed", "char(5)", []string{`'ab'`, `''`, `'abcde'`}},
	{"var3", "varchar(3)", []string{`'a b'`}},
	{"ch", `"char"`, []string{`'x'`}},
	{"ints", "integer[]", []string{`'{{1,2},{3,NULL}}'`, `'{}'`, `'{{{1}},{{2}}}'`}},
	{"texts", "text[]", []string{`'{"a\"b","c,d",NULL,"NULL","","{}"}'`, `'{"x y","{z}"}'`}},
	{"floats", "double precision[]", []string{`'{NaN,Infinity,-0,5e-324,0.1}'`}},
	{"stamps", "timestamptz[]", []string{`'{infinity,"2000-01-01 00:00+00","1900-01-01 00:00+05:53:28"}'`}},
	{"spans", "interval[]", []string{`'{"-1 days -02:03:04","1 mon -1 day"}'`}},
	{"blobs", "bytea[]", []string{`'{"\\x00ff",NULL}'`}},
	{"doc", "json", []string{`'{ "a" : 1, "a" : 2 ,"b":[1, 2 ],"c":1.0000000000000000000001}'`, `'"plain string"'`,
		`'[]'`, `'{"nested": {"x" :  null}}'`, `'12.50'`}},
	{"docb", "jsonb", []string{`'{"b": [true, null], "a": 1.0000000000000000000001}'`, `'"x"'`, `'[]'`, `'12.50'`}},
	{"feeling", "mood", []string{`'happy'`}},
	{"positive", "posint", []string{`42`}},
	{"tuple", "pair", []string{`'(1,"x ""y""",NaN,infinity,"\\x00")'`, `'(,,,,)'`, `'(2,"",-0,"2000-01-01 00:00+05:30",)'`}},
	{"tuples", "pair[]", []string{`ARRAY['(1,a,0.1,-infinity,)'::pair, NULL]`}},
	{"r_int", "int4range", []string{`'[1,5)'`, `'empty'`, `'(,)'`}},
	{"r_num", "numrange", []string{`'(,1.5]'`, `'[0.10,NaN)'`}},
	{"r_tstz", "tstzrange", []string{`'["2000-01-01 00:00:00+00",infinity)'`, `'["1900-01-01 00:00+05:53:28",)'`}},
	{"r_ts", "tsrange", []string{`'[2000-01-02 03:04:05, 2000-02-03 00:00:00)'`, `'[4713-01-01 00:00:00 BC,)'`}},
	{"r_date", "daterange", []string{`'[2000-01-01,2000-02-01)'`, `'[0044-03-15 BC,infinity)'`}},
	{"mr_int", "int4multirange", []string{`'{[1,3),[5,7)}'`, `'{}'`}},
	{"pt", "point", []string{`'(1.5,-2.25)'`, `'(1e-300,1.7976931348623157e308)'`, `'(0.1,NaN)'`}},
	{"bx", "box", []string{`'(1,1),(0,0.1)'`}},
	{"circ", "circle", []string{`'<(0,0),1.5>'`}},
	{"markup", "xml", []string{`'<a b="c">text &amp; more</a>'`, `'abc<b/>'`}},
	{"obj", "oid", []string{`4294967295`}},
	{"txt", "text", []string{`E'quote " single '' backslash \\ tab \t newline \n cr \r 4-byte 😀 ctrl \x01 nbsp \u00a0 sep \u2028'`, `''`}},
	{"vec", "tsvector", []string{`'a:1 b:2 ''x y'':3'`}},
	{"lsn", "pg_lsn", []string{`'16/B374D848'`}},
}

// Session settings a writing application might use: each changes how values print.
var sessions = map[string]string{
	"default session": ``,
	"unusual session": `SET extra_float_digits = -3; SET DateStyle = 'SQL, DMY'; SET IntervalStyle = 'sql_standard';
		SET bytea_output = 'escape'; SET TimeZone = 'Asia/Kolkata'`,
}

func rowCount(cols []column) int {
	n := 0
	for _, c := range cols {
		n = max(n, len(c.values))
	}
	return n
}

// roundTripDDL creates the types and table t (and t_stage, untracked) holding cols.
func roundTripDDL(cols []column) string {
	defs := []string{"id int PRIMARY KEY"}
	for _, c := range cols {
		defs = append(defs, pgx.Identifier{c.name}.Sanitize()+" "+c.typ)
	}
	return roundTripTypes + "\nCREATE TABLE t (" + strings.Join(defs, ", ") + ");"
}

// stageRows inserts the literal values into t_stage, parsed in a default session.
func stageRows(s *source, cols []column) {
	s.exec(`CREATE TABLE t_stage (LIKE t)`)
	for i := range rowCount(cols) {
		names, vals := []string{"id"}, []string{fmt.Sprint(i + 1)}
		for _, c := range cols {
			if i < len(c.values) {
				names, vals = append(names, pgx.Identifier{c.name}.Sanitize()), append(vals, c.values[i])
			}
		}
		s.exec(`INSERT INTO t_stage (` + strings.Join(names, ", ") + `) VALUES (` + strings.Join(vals, ", ") + `)`)
	}
}

// connectWith opens a connection and applies session settings to it.
func connectWith(t *testing.T, url, settings string) *pgx.Conn {
	conn := testenv.Connect(t, url)
	if settings != "" {
		_, err := conn.Exec(ctxT(t), settings)
		require.NoError(t, err)
	}
	return conn
}

// replicate writes t's rows from a session with the given settings, captures them, and
// rebuilds them in a fresh database with json_populate_record as a replica would.
func replicate(t *testing.T, cols []column, settings string) (src, replica string) {
	s := newSource(t)
	s.exec(roundTripDDL(cols))
	stageRows(s, cols)
	s.exec(`SELECT pgfanout.track('t')`)
	writer := connectWith(t, s.url, settings)
	_, err := writer.Exec(ctxT(t), `INSERT INTO t SELECT * FROM t_stage`)
	require.NoError(t, err)

	replica = testenv.NewDatabase(t)
	rc := connectWith(t, replica, settings)
	_, err = rc.Exec(ctxT(t), roundTripDDL(cols))
	require.NoError(t, err)
	changes := s.changes()
	require.Len(t, changes, rowCount(cols))
	for _, c := range changes {
		_, err := rc.Exec(ctxT(t), `INSERT INTO t SELECT * FROM json_populate_record(null::t, $1::json)`, c.Row)
		require.NoError(t, err, "rebuild %s", c.Row)
	}
	return s.url, replica
}

// columnTexts returns every column's text form per row id, read with the given settings.
func columnTexts(t *testing.T, url, settings string, cols []column) map[string]string {
	conn := connectWith(t, url, settings)
	out := map[string]string{}
	for _, c := range cols {
		q := pgx.Identifier{c.name}.Sanitize()
		rows, err := conn.Query(ctxT(t), `SELECT id, `+q+` IS NULL, coalesce(`+q+`::text, '') FROM t ORDER BY id`)
		require.NoError(t, err)
		for rows.Next() {
			var id int
			var isNull bool
			var text string
			require.NoError(t, rows.Scan(&id, &isNull, &text))
			if isNull {
				text = "<NULL>"
			}
			out[fmt.Sprintf("%s row %d", c.name, id)] = text
		}
		require.NoError(t, rows.Err())
	}
	return out
}

// Every value survives capture and json_populate_record exactly, whatever the writing
// session's settings: the capture functions pin the settings that change value output.
func TestExactTypeRoundTrip(t *testing.T) {
	t.Parallel()
	for name, settings := range sessions {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, replica := replicate(t, roundTripColumns, settings)
			for _, read := range []string{settings, `SET extra_float_digits = 3`} {
				want := columnTexts(t, src, read, roundTripColumns)
				got := columnTexts(t, replica, read, roundTripColumns)
				for k, w := range want {
					require.Equal(t, w, got[k], "%s (read with %q)", k, read)
				}
				require.Len(t, got, len(want))
			}
		})
	}
}
