package migrations_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The settings the capture functions pin are what makes TestExactTypeRoundTrip pass: the same
// row printed by the unusual session itself loses digits and changes formats.
func TestUnpinnedSessionWouldNotBeExact(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	conn := connectWith(t, s.url, sessions["unusual session"])
	var row string
	require.NoError(t, conn.QueryRow(ctxT(t), `SELECT row_to_json(x.*)::text FROM (SELECT
		'1.7976931348623157e308'::float8 AS f8, '\x00ff'::bytea AS b, '-1 days -02:03:04'::interval AS i,
		'[2000-01-02 03:04:05,)'::tsrange AS r) x`).Scan(&row))
	// 12 digits instead of 17; escape bytea; an interval a postgres-style reader takes for
	// -1 day +2:03:04; a day-first date.
	require.Equal(t, `{"f8":1.79769313486e+308,"b":"\\000\\377","i":"-1 2:03:04","r":"[\"02/01/2000 03:04:05\",)"}`, row)
}

// What cannot round-trip exactly. The capture's JSON is exact in each case; the losses come
// from JSON itself (null) or from json_populate_record, the replica's rebuild (docs/capture.md).
func TestRoundTripLimits(t *testing.T) {
	t.Parallel()
	cols := []column{
		// json_populate_record builds arrays from JSON arrays with lower bound 1.
		{"shifted", "integer[]", []string{`'[0:1]={1,2}'`}},
		// A json/jsonb value that is JSON null and an SQL NULL both print as null.
		{"doc_null", "json", []string{`'null'`}},
		{"docb_null", "jsonb", []string{`'null'`}},
		// json_populate_record trims whitespace around a json value and re-escapes a
		// top-level string (objects and arrays keep their text, see TestExactTypeRoundTrip).
		{"doc_space", "json", []string{`'  [ 1 ]  '`}},
		{"doc_string", "json", []string{`'"\ud83d\ude00"'`}},
	}
	src, replica := replicate(t, cols, "")
	want := columnTexts(t, src, "", cols)
	got := columnTexts(t, replica, "", cols)
	require.Equal(t, map[string]string{
		"shifted row 1":    "[0:1]={1,2}",
		"doc_null row 1":   "null",
		"docb_null row 1":  "null",
		"doc_space row 1":  "  [ 1 ]  ",
		"doc_string row 1": `"\ud83d\ude00"`,
	}, want)
	require.Equal(t, map[string]string{
		"shifted row 1":    "{1,2}",
		"doc_null row 1":   "<NULL>",
		"docb_null row 1":  "<NULL>",
		"doc_space row 1":  "[ 1 ]",
		"doc_string row 1": `"😀"`,
	}, got)

	// The log itself carries the exact texts.
	s := &source{t: t, url: src, conn: connectWith(t, src, "")}
	s.exec(`UPDATE t SET id = id`)
	changes := s.changes()
	require.Len(t, changes, 1)
	require.Equal(t, `{"id":1,"shifted":[1,2],"doc_null":null,"docb_null":null,"doc_space":  [ 1 ]  ,"doc_string":"\ud83d\ude00"}`,
		changes[0].Row)
}
