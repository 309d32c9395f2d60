package dml

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// weird is a keyed table whose every name needs quoting: quotes, spaces, a semicolon,
// capitals, Unicode, SQL in a name.
var weird = &Table{
	Schema: `Sales "EU"`,
	Name:   `Orders; DROP TABLE x; --`,
	Columns: []Column{
		{Name: "Id"}, {Name: `line "no"`}, {Name: "größe"}, {Name: "note;--"},
		{Name: "total", Generated: true}, {Name: "seq", IdentityAlways: true},
	},
	Key: []string{"Id", `line "no"`},
}

var keyless = &Table{Schema: "public", Name: "Événements", Columns: []Column{{Name: "kind"}, {Name: "x y"}, {Name: "g", Generated: true}}}

func statements() map[string]string {
	return map[string]string{
		"upsert.sql":           Upsert(weird, []string{"Id", `line "no"`, "größe", "seq"}),
		"upsert_key_only.sql":  Upsert(weird, []string{"Id", `line "no"`}),
		"claim.sql":            Claim(weird),
		"delete_rows.sql":      DeleteRows(weird),
		"truncate_keyed.sql":   TruncateKeyed(weird),
		"truncate_keyless.sql": TruncateKeyless(keyless),
		"keyless_events.sql":   KeylessEvents(keyless),
		"keyless_apply.sql":    KeylessApply(keyless),
		"digest_index.sql":     DigestIndex(keyless, 42),
		"lock.sql":             Lock(weird, ShareRowExclusive),
		"copy_chunk.sql":       CopyChunk(weird, []string{"Id", `line "no"`, "größe", "seq"}, Bounds{Lo: true, Hi: true}),
		"copy_chunk_first.sql": CopyChunk(weird, []string{"Id", `line "no"`}, Bounds{Hi: true}),
		"stale_keyed.sql":      StaleKeyed(weird),
		"prune.sql":            Prune("row_versions"),
	}
}

// TestGolden pins every statement shape; review testdata/*.sql diffs like code.
func TestGolden(t *testing.T) {
	for name, sql := range statements() {
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

// TestIdentifiersAreQuoted: remove every properly quoted identifier from a statement and no
// part of any raw name may remain.
func TestIdentifiersAreQuoted(t *testing.T) {
	var names []string
	for _, tb := range []*Table{weird, keyless} {
		names = append(names, tb.Schema, tb.Name)
		for _, c := range tb.Columns {
			names = append(names, c.Name)
		}
	}
	// Longest first, so a name contained in another is removed after it.
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for file, sql := range statements() {
		stripped := sql
		for _, n := range names {
			stripped = strings.ReplaceAll(stripped, pgx.Identifier{n}.Sanitize(), "ID")
		}
		for _, raw := range []string{"DROP", "größe", "Sales", "Orders", "note;", `"no"`, "Événements", "x y"} {
			require.NotContains(t, stripped, raw, "%s: %q appears outside a quoted identifier", file, raw)
		}
	}
}

func params(sql string) []string {
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$[0-9]+`).FindAllString(sql, -1) {
		seen[m] = true
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// TestParameters: statements take exactly the parameters their doc comments list.
func TestParameters(t *testing.T) {
	cases := []struct {
		sql  string
		want []string
	}{
		{Upsert(weird, []string{"Id", `line "no"`}), []string{"$1", "$2", "$3"}},
		{Claim(weird), []string{"$1", "$2", "$3", "$4", "$5"}},
		{DeleteRows(weird), []string{"$1", "$2", "$3"}},
		{TruncateKeyed(weird), []string{"$1", "$2", "$3"}},
		{TruncateKeyless(keyless), []string{"$1", "$2", "$3"}},
		{CopyChunk(weird, []string{"Id"}, Bounds{Lo: true, Hi: true}), []string{"$1", "$2", "$3", "$4", "$5", "$6"}},
		{CopyChunk(weird, []string{"Id"}, Bounds{Lo: true}), []string{"$1", "$2", "$3", "$4", "$5"}},
		{CopyChunk(weird, []string{"Id"}, Bounds{Hi: true}), []string{"$1", "$2", "$3", "$4", "$5"}},
		{CopyChunk(weird, []string{"Id"}, Bounds{}), []string{"$1", "$2", "$3", "$4"}},
		{CopyStale, []string{"$1", "$2"}},
		{KeylessEvents(keyless), []string{"$1", "$2", "$3", "$4", "$5"}},
		{KeylessApply(keyless), []string{"$1", "$2", "$3", "$4"}},
		{KeylessLocks, []string{"$1", "$2"}},
		{Lock(weird, RowExclusive), nil},
		{Catalog, []string{"$1", "$2"}},
		{BookkeepingLock, []string{"$1"}},
	}
	for _, c := range cases {
		require.Equal(t, c.want, params(c.sql), c.sql)
	}
}

func TestUpsertShape(t *testing.T) {
	sql := Upsert(weird, []string{"Id", `line "no"`, "größe", "seq"})
	require.Contains(t, sql, `ON CONFLICT ("Id", "line ""no""") DO UPDATE SET "größe" = excluded."größe"`)
	require.NotContains(t, sql, `"seq" = excluded`, "identity-always columns cannot be updated")
	require.NotContains(t, sql, `"total"`, "generated columns are never written")
	require.Contains(t, sql, "OVERRIDING SYSTEM VALUE")
	require.Contains(t, sql, `jsonb_build_array((p.rec)."Id", (p.rec)."line ""no""")`, "key in primary key order")
	require.Contains(t, sql, "CROSS JOIN LATERAL (SELECT FROM pgfanout.row_versions v\n  WHERE v.relid = $1::oid::regclass AND v.key = c.key AND v.snap IS NULL AND v.version = c.version AND NOT v.deleted OFFSET 0) AS won",
		"only rows whose change won its key in Claim are written")
	require.Contains(t, Upsert(weird, []string{"Id", `line "no"`}), "DO NOTHING")
	claim := Claim(weird)
	require.Contains(t, claim, "FROM c ORDER BY c.key", "keys taken in one order")
	require.Contains(t, claim, "pg_visible_in_snapshot(excluded.txid::text::xid8, v.snap)", "a copied row yields to what its snapshot did not see")
}

func TestDeleteShape(t *testing.T) {
	require.NotContains(t, Claim(weird), "DELETE", "rows are deleted by a later statement, under a newer snapshot")
	rows := DeleteRows(weird)
	require.Contains(t, rows, `v.version = c.version AND v.deleted OFFSET 0) AS won
WHERE t."Id" = (c.rec)."Id" AND t."line ""no""" = (c.rec)."line ""no"""`)
}

func TestKeylessShape(t *testing.T) {
	digest := `pgfanout.row_digest(ROW(t."kind", t."x y"))`
	require.Contains(t, KeylessApply(keyless), digest+" = d.digest LIMIT -d.delta", "copies are found through the digest index, as many as needed")
	require.Contains(t, DigestIndex(keyless, 42), `USING hash (pgfanout.row_digest(ROW("kind", "x y")))`, "the index's expression is the lookup's")
	require.Contains(t, TruncateKeyless(keyless), digest)
	require.Contains(t, KeylessEvents(keyless), `pgfanout.row_digest(ROW((p.rec)."kind", (p.rec)."x y"))`, "images cover the writable columns only")
	require.Contains(t, KeylessApply(keyless), `INSERT INTO "public"."Événements" ("kind", "x y")`)
	require.NotContains(t, KeylessApply(keyless)+KeylessEvents(keyless), "LOCK TABLE", "no table lock beyond the caller's ROW EXCLUSIVE")
	empty := &Table{Schema: "s", Name: "t", Columns: []Column{{Name: "g", Generated: true}}}
	require.Contains(t, KeylessApply(empty), "SELECT count(*) FROM d")
}

func TestCopyChunkShape(t *testing.T) {
	sql := CopyChunk(weird, []string{"Id", `line "no"`, "größe"}, Bounds{Lo: true, Hi: true})
	require.Contains(t, sql, `(t."Id", t."line ""no""") >= (SELECT (b.rec)."Id", (b.rec)."line ""no""" FROM (SELECT json_populate_record(NULL::"Sales ""EU"""."Orders; DROP TABLE x; --", $5::json) OFFSET 0) AS b(rec))`)
	require.Contains(t, sql, `< (SELECT (b.rec)."Id", (b.rec)."line ""no""" FROM (SELECT json_populate_record(NULL::"Sales ""EU"""."Orders; DROP TABLE x; --", $6::json) OFFSET 0) AS b(rec))`)
	require.Contains(t, sql, "ORDER BY x.key", "keys locked in key order, as changes lock them")
	require.Contains(t, sql, "pg_visible_in_snapshot(v.txid::text::xid8, $4::pg_snapshot)", "a change the snapshot did not see wins")
	require.Contains(t, sql, `ON CONFLICT ("Id", "line ""no""") DO UPDATE SET "größe" = excluded."größe"`)
	require.Equal(t, "true", InRange(weird, "t", Bounds{}, 5))
	require.Contains(t, InRange(weird, "t", Bounds{Hi: true}, 5), "$5::json", "the only bound passed is $5")
	require.Contains(t, InRange(weird, "t", Bounds{Lo: true, Hi: true}, 1), "$2::json")
}

func TestLock(t *testing.T) {
	require.Equal(t, `LOCK TABLE "Sales ""EU"""."Orders; DROP TABLE x; --" IN ROW EXCLUSIVE MODE`, Lock(weird, RowExclusive))
	require.Equal(t, `LOCK TABLE "public"."Événements" IN SHARE ROW EXCLUSIVE MODE`, Lock(keyless, ShareRowExclusive))
}

func TestTableHelpers(t *testing.T) {
	require.True(t, keyless.Keyless())
	require.False(t, weird.Keyless())
	require.Equal(t, []string{"Id", `line "no"`, "größe", "note;--", "seq"}, weird.Writable())
	require.Equal(t, []string{"kind", "x y", "g"}, keyless.AllColumns())
}

// Every row image is parsed once per row: a json_populate_record in a LATERAL subquery that
// the planner may flatten is evaluated again for each (alias.rec).column reference.
func TestImagesAreParsedBehindOffsetZero(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.sql"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		sql := string(b)
		require.Equal(t, strings.Count(sql, "json_populate_record("), strings.Count(sql, "::json) OFFSET 0)"), f)
	}
}
