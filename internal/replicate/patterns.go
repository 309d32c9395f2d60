package replicate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pgfanout/pgfanout/internal/change"
)

// Pattern selects tables by schema and name; an empty part is the wildcard `*`.
type Pattern struct {
	Schema, Table string // "" = any
}

// BindingKey is the topic binding that routes exactly the pattern's tables: literal parts
// escaped like routing keys, wildcards as `*` (one word).
func (p Pattern) BindingKey() string {
	return word(p.Schema) + "." + word(p.Table)
}

func word(s string) string {
	if s == "" {
		return "*"
	}
	return change.EscapeWord(s)
}

// Match reports whether the pattern selects schema.table.
func (p Pattern) Match(schema, table string) bool {
	return (p.Schema == "" || p.Schema == schema) && (p.Table == "" || p.Table == table)
}

func (p Pattern) String() string {
	return part(p.Schema) + "." + part(p.Table)
}

func part(s string) string {
	if s == "" {
		return "*"
	}
	if strings.ContainsAny(s, `.,*" `) {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// ParsePatterns parses a comma-separated list of schema.table patterns. A part is `*`, a bare
// name (taken literally, case kept, no folding), or a double-quoted name ("" for a quote) that
// may hold dots, commas, spaces or `*`. Examples: `*.*`, `public.*,sales.orders`,
// `"my.schema"."Order Items"`.
func ParsePatterns(list string) ([]Pattern, error) {
	var out []Pattern
	s := list
	for {
		p, rest, err := parsePattern(strings.TrimLeft(s, " "))
		if err != nil {
			return nil, fmt.Errorf("tables %q: %w", list, err)
		}
		out = append(out, p)
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			return out, nil
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("tables %q: expected a comma before %q", list, rest)
		}
		s = rest[1:]
	}
}

func parsePattern(s string) (Pattern, string, error) {
	schema, rest, err := parsePart(s)
	if err != nil {
		return Pattern{}, "", err
	}
	if !strings.HasPrefix(rest, ".") {
		return Pattern{}, "", fmt.Errorf("pattern %q: want schema.table (use *.name for any schema)", strings.TrimSpace(s))
	}
	table, rest, err := parsePart(rest[1:])
	if err != nil {
		return Pattern{}, "", err
	}
	return Pattern{Schema: schema, Table: table}, rest, nil
}

// parsePart reads one part; "" means the wildcard.
func parsePart(s string) (string, string, error) {
	switch {
	case strings.HasPrefix(s, "*"):
		return "", s[1:], nil
	case strings.HasPrefix(s, `"`):
		return quoted(s)
	}
	end := strings.IndexAny(s, `., "*`)
	if end < 0 {
		end = len(s)
	}
	if end == 0 {
		return "", "", fmt.Errorf("empty name in %q", s)
	}
	if end < len(s) && (s[end] == '*' || s[end] == '"') {
		return "", "", fmt.Errorf("%q: `*` matches a whole name, quote names holding * or \"", s)
	}
	return s[:end], s[end:], nil
}

func quoted(s string) (string, string, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '"' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		if b.Len() == 0 {
			return "", "", errors.New(`empty quoted name ""`)
		}
		return b.String(), s[i+1:], nil
	}
	return "", "", fmt.Errorf("unterminated quote in %q", s)
}

// MatchAny reports whether any pattern selects schema.table.
func MatchAny(ps []Pattern, schema, table string) bool {
	for _, p := range ps {
		if p.Match(schema, table) {
			return true
		}
	}
	return false
}
