package schema

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Trees as PostgreSQL 15 stores them (pg_attrdef.adbin); the database tests check the same
// defaults against the running server's trees.
const (
	treeInt     = `{CONST :consttype 23 :consttypmod -1 :constcollid 0 :constlen 4 :constbyval true :constisnull false :location 36 :constvalue 4 [ 42 0 0 0 0 0 0 0 ]}`
	treeNumeric = `{FUNCEXPR :funcid 1703 :funcresulttype 1700 :funcretset false :funcvariadic false :funcformat 1 :funccollid 0 :inputcollid 0 :args ({CONST :consttype 1700 :consttypmod -1 :constcollid 0 :constlen -1 :constbyval false :constisnull false :location 136 :constvalue 10 [ 40 0 0 0 -128 -128 1 0 -120 19 ]} {CONST :consttype 23 :consttypmod -1 :constcollid 0 :constlen 4 :constbyval true :constisnull false :location -1 :constvalue 4 [ 6 0 4 0 0 0 0 0 ]}) :location 139}`
	treeNow     = `{FUNCEXPR :funcid 1299 :funcresulttype 1184 :funcretset false :funcvariadic false :funcformat 0 :funccollid 0 :inputcollid 0 :args <> :location 177}`
	treeCurrent = `{SQLVALUEFUNCTION :op 3 :type 1184 :typmod -1 :location 206}`
	treeOp      = `{OPEXPR :opno 551 :opfuncid 177 :opresulttype 23 :opretset false :opcollid 0 :inputcollid 0 :args ({CONST :consttype 23 :consttypmod -1 :constcollid 0 :constlen 4 :constbyval true :constisnull false :location 294 :constvalue 4 [ 1 0 0 0 0 0 0 0 ]} {CONST :consttype 23 :consttypmod -1 :constcollid 0 :constlen 4 :constbyval true :constisnull false :location 296 :constvalue 4 [ 1 0 0 0 0 0 0 0 ]}) :location 295}`
	treeArray   = `{ARRAYCOERCEEXPR :arg {CONST :consttype 1015 :consttypmod -1 :constcollid 100 :constlen -1 :constbyval false :constisnull false :location 349 :constvalue 8 [ 0 0 0 0 0 0 0 0 ]} :elemexpr {FUNCEXPR :funcid 669 :funcresulttype 1043 :funcretset false :funcvariadic false :funcformat 2 :funccollid 100 :inputcollid 0 :args ({CASETESTEXPR :typeId 1043 :typeMod 14 :collation 0} {CONST :consttype 23 :consttypmod -1 :constcollid 0 :constlen 4 :constbyval true :constisnull false :location -1 :constvalue 4 [ 7 0 0 0 0 0 0 0 ]}) :location -1} :resulttype 1015 :resulttypmod 7 :resultcollid 100 :coerceformat 2 :location -1}`
	treeVar     = `{OPEXPR :opno 551 :opfuncid 177 :args ({VAR :varno 1 :varattno 1} {CONST :consttype 23 :constisnull true}) :location 1}`
)

func TestConstantTree(t *testing.T) {
	cases := []struct {
		name  string
		tree  string
		ok    bool
		funcs []uint32
	}{
		{"int", treeInt, true, nil},
		{"numeric cast", treeNumeric, true, []uint32{1703}},
		{"operator", treeOp, true, []uint32{177}},
		{"array coercion", treeArray, true, []uint32{669}},
		{"now() calls a function", treeNow, true, []uint32{1299}}, // rejected by its volatility
		{"CURRENT_TIMESTAMP", treeCurrent, false, nil},
		{"column reference", treeVar, false, nil},
		{"sub-select", `{SUBLINK :subLinkType 4 :subselect {QUERY}}`, false, nil},
		{"nextval's NEXTVALUEEXPR", `{NEXTVALUEEXPR :seqid 16384 :typeId 20}`, false, nil},
		{"via input function", `{COERCEVIAIO :arg {CONST :consttype 25} :resulttype 1184}`, false, nil},
		{"function oid 0", `{OPEXPR :opno 551 :opfuncid 0 :args <>}`, false, nil},
		{"function oid not a number", `{FUNCEXPR :funcid x}`, false, nil},
		{"function oid missing", `{FUNCEXPR :funcid`, false, nil},
		{"node name missing", `{`, false, nil},
		{"empty", ``, false, nil},
		{"not a node", `CONST`, false, nil},
		{"NULL", `<>`, false, nil},
		{"escaped brace is no node", `{CONST :x \{VAR \}}`, true, nil},
		{"escaped funcid is no field", `{CONST \:funcid 5}`, true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			funcs, ok := constantTree(c.tree)
			require.Equal(t, c.ok, ok)
			if ok {
				require.Equal(t, c.funcs, funcs)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	require.Equal(t, []string{"{", "A", ":b", "(", "1", "2", ")", "<>", `\{x\ y`, "}"}, tokens("{A :b (1 2) <>\n\t\\{x\\ y}"))
	require.Equal(t, []string{`\`}, tokens(`\`), "a trailing backslash is a token, not a panic")
}

// escapeTree escapes s as outToken does, and ':' as well (so that it cannot spell a field
// name), making it one ordinary token.
func escapeTree(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(" \t\n\r(){}\\:", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// FuzzConstantTree: no input panics; a disallowed node appended to any input is found; no
// escaped string inside a constant can make it a non-constant or add a function.
func FuzzConstantTree(f *testing.F) {
	for _, s := range []string{treeInt, treeNumeric, treeNow, treeCurrent, treeOp, treeArray, treeVar, `\`, `{`, "a\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = constantTree(s)
		if _, ok := constantTree(s + " {VAR :varno 1}"); ok {
			t.Fatalf("appended VAR not found in %q", s)
		}
		funcs, ok := constantTree("{CONST :constvalue " + escapeTree(s) + " :location 1}")
		if !ok || len(funcs) > 0 {
			t.Fatalf("escaped %q changed a constant: ok %v, funcs %v", s, ok, funcs)
		}
	})
}
