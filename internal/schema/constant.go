package schema

import (
	"strconv"
	"strings"
)

// A default is created on the replica only when it is a constant, and this is decided from its
// expression tree (pg_attrdef.adbin, pg_type.typdefaultbin: nodeToString output), never from its
// text. A constant is built only from the nodes below; every function it calls (FUNCEXPR
// :funcid, OPEXPR :opfuncid) must further be an IMMUTABLE function of pg_catalog, which
// Describe checks in the source catalog. Anything else (a column reference, a volatile or
// stable function such as now(), random(), nextval() or gen_random_uuid(), CURRENT_TIMESTAMP's
// SQLVALUEFUNCTION, a sub-select, a conversion through a type's input function, which may be
// stable: 'now'::text::timestamptz) is not a constant, and so is any node this list does not
// know: the check fails closed.
var constantNodes = map[string]bool{
	"CONST":           true,
	"FUNCEXPR":        true, // a cast or call; its function is checked
	"OPEXPR":          true, // an operator; its function is checked
	"RELABELTYPE":     true, // a binary-compatible cast: no function at all
	"COERCETODOMAIN":  true, // the replica's domain has no CHECKs (see Type)
	"ARRAYCOERCEEXPR": true, // casts each element with its :elemexpr, checked as well
	"CASETESTEXPR":    true, // the element inside an ARRAYCOERCEEXPR
	"ARRAYEXPR":       true, // ARRAY[…] (spelled ARRAY before PostgreSQL 16's generated outfuncs)
	"ARRAY":           true,
	"ROWEXPR":         true, // ROW(…)
	"ROW":             true,
}

// constantTree scans a node tree. ok: every node is one of constantNodes and every function
// reference is a valid oid; funcs then lists the functions the tree calls, which must all be
// immutable pg_catalog functions for the tree to be a constant.
func constantTree(tree string) (funcs []uint32, ok bool) {
	toks := tokens(tree)
	if len(toks) == 0 {
		return nil, false
	}
	for i, tok := range toks {
		switch tok {
		case "{":
			if i+1 >= len(toks) || !constantNodes[toks[i+1]] {
				return nil, false
			}
		case ":funcid", ":opfuncid":
			if i+1 >= len(toks) {
				return nil, false
			}
			oid, err := strconv.ParseUint(toks[i+1], 10, 32)
			if err != nil || oid == 0 {
				return nil, false
			}
			funcs = append(funcs, uint32(oid))
		}
	}
	return funcs, toks[0] == "{"
}

// tokens splits node tree text as PostgreSQL's pg_strtok does: whitespace separates tokens,
// "(", ")", "{" and "}" are tokens of their own, and a backslash makes the next character an
// ordinary one (outToken escapes those characters in names and strings). The backslash stays in
// the token, as in pg_strtok, so an escaped "{" in a string is the token `\{`, never a node.
func tokens(s string) []string {
	var (
		out []string
		cur strings.Builder
		in  bool // cur holds a token
	)
	flush := func() {
		if in {
			out = append(out, cur.String())
			cur.Reset()
			in = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			in = true
			cur.WriteByte(c)
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			flush()
		case c == '(' || c == ')' || c == '{' || c == '}':
			flush()
			out = append(out, string(c))
		default:
			in = true
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}
