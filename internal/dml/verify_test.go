package dml

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// verifyStatements are verify's statements for the tables of dml_test.go.
func verifyStatements() map[string]string {
	cols := weird.Writable()
	return map[string]string{
		"verify_range_hash.sql":   RangeHash(weird, cols, Bounds{Lo: true, Hi: true}),
		"verify_table_hash.sql":   RangeHash(keyless, keyless.Writable(), Bounds{}),
		"verify_range_rows.sql":   RangeRows(weird, cols, Bounds{Lo: true}),
		"verify_key_rows.sql":     KeyRows(weird, cols),
		"verify_image_counts.sql": ImageCounts(keyless, keyless.Writable(), true),
		"verify_image_texts.sql":  ImageTexts(keyless, keyless.Writable()),
		"verify_repair_chunk.sql": RepairChunk,
	}
}

// TestVerifyGolden pins verify's statements; review testdata/verify_*.sql diffs like code.
func TestVerifyGolden(t *testing.T) {
	for name, sql := range verifyStatements() {
		path := filepath.Join("testdata", name)
		if *update {
			require.NoError(t, os.WriteFile(path, []byte(sql+"\n"), 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "run go test ./internal/dml -update")
		require.Equal(t, string(want), sql+"\n", name)
	}
}

func TestVerifyIdentifiersAreQuoted(t *testing.T) {
	var names []string
	for _, tb := range []*Table{weird, keyless} {
		names = append(names, tb.Schema, tb.Name)
		for _, c := range tb.Columns {
			names = append(names, c.Name)
		}
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for file, sql := range verifyStatements() {
		stripped := sql
		for _, n := range names {
			stripped = strings.ReplaceAll(stripped, pgx.Identifier{n}.Sanitize(), "ID")
		}
		for _, raw := range []string{"DROP", "größe", "Sales", "Orders", "note;", `"no"`, "Événements", "x y"} {
			require.NotContains(t, stripped, raw, "%s: %q appears outside a quoted identifier", file, raw)
		}
	}
}

func TestVerifyParameters(t *testing.T) {
	cols := weird.Writable()
	cases := []struct {
		sql  string
		want []string
	}{
		{RangeHash(weird, cols, Bounds{Lo: true, Hi: true}), []string{"$1", "$2"}},
		{RangeHash(weird, cols, Bounds{Hi: true}), []string{"$1"}},
		{RangeHash(weird, cols, Bounds{}), nil},
		{RangeRows(weird, cols, Bounds{Lo: true, Hi: true}), []string{"$1", "$2"}},
		{RangeRows(weird, cols, Bounds{}), nil},
		{KeyRows(weird, cols), []string{"$1"}},
		{ImageCounts(keyless, cols, false), nil},
		{ImageCounts(keyless, cols, true), []string{"$1"}},
		{ImageTexts(keyless, cols), []string{"$1"}},
		{RepairChunk, []string{"$1", "$2", "$3", "$4", "$5", "$6"}},
	}
	for _, c := range cases {
		require.Equal(t, c.want, params(c.sql), c.sql)
	}
}

func TestVerifyShape(t *testing.T) {
	cols := weird.Writable()
	hash := `(coalesce(hashtextextended(t."Id"::text, 1), -1) # coalesce(hashtextextended(t."line ""no"""::text, 2), -2) # ` +
		`coalesce(hashtextextended(t."größe"::text, 3), -3) # coalesce(hashtextextended(t."note;--"::text, 4), -4) # ` +
		`coalesce(hashtextextended(t."seq"::text, 5), -5))`
	require.Contains(t, RangeHash(weird, cols, Bounds{}), "sum("+hash+")", "generated columns are not hashed")
	require.NotContains(t, RangeHash(weird, cols, Bounds{}), `"total"`)
	require.Contains(t, RangeRows(weird, cols, Bounds{}), `CROSS JOIN LATERAL (SELECT t."Id", t."line ""no""") AS k`)
	require.Contains(t, RangeRows(weird, cols, Bounds{}), "row_to_json(k.*)", "k.*: a column named k cannot shadow the key")
	require.Contains(t, KeyRows(weird, cols), `WHERE (t."Id", t."line ""no""") IN (SELECT r."Id", r."line ""no""" FROM json_populate_recordset(`)
	require.Contains(t, RangeHash(weird, cols, Bounds{Lo: true}), InRange(weird, "t", Bounds{Lo: true}, 1))
	require.Contains(t, RangeHash(weird, nil, Bounds{}), "sum(0::bigint)", "a table of generated columns only")
}
