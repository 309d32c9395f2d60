package rawjson

import (
	"encoding/json"
	"fmt"
)

// A Member is one name/value pair of an object.
type Member struct {
	Name    []byte // quotes and escapes included, as in the text
	Value   []byte
	escaped bool // Name holds a backslash
}

// Text returns the member's name unescaped. A name without escapes (nearly every column name)
// comes back as Name's own bytes without the quotes, so a map lookup by string(text)
// allocates nothing; only a name with escapes is decoded into a copy of its own.
func (m Member) Text() ([]byte, error) {
	if !m.escaped {
		return m.Name[1 : len(m.Name)-1 : len(m.Name)-1], nil
	}
	return decodeName(m.Name)
}

// decodeName is Text's rare case, out of line so that Text inlines.
func decodeName(name []byte) ([]byte, error) {
	var text string
	if err := json.Unmarshal(name, &text); err != nil {
		return nil, fmt.Errorf("member name %.40q: %w", name, err)
	}
	return []byte(text), nil
}

// Object consumes the object that comes next, calling each with every member in order; each
// must not use the scanner. It returns the object's bytes.
func (s *Scanner) Object(each func(Member) error) ([]byte, error) {
	b := s.buf
	start := skipSpace(b, s.pos)
	if start == len(b) || b[start] != '{' {
		return nil, s.failAt(start, "expected '{'")
	}
	i := skipSpace(b, start+1)
	if i < len(b) && b[i] == '}' {
		s.pos = i + 1
		return b[start:s.pos:s.pos], nil
	}
	for {
		nameEnd, valueStart, escaped, err := s.member(i)
		if err != nil {
			return nil, err
		}
		m := Member{Name: b[i:nameEnd:nameEnd], Value: b[valueStart:s.pos:s.pos], escaped: escaped}
		if err := each(m); err != nil {
			return nil, err
		}
		switch i = skipSpace(b, s.pos); {
		case i < len(b) && b[i] == ',':
			i = skipSpace(b, i+1)
		case i < len(b) && b[i] == '}':
			s.pos = i + 1
			return b[start:s.pos:s.pos], nil
		default:
			return nil, s.failAt(i, "expected ',' or '}'")
		}
	}
}

// member reads `"name" : value` at s.buf[i], moves past it and returns where the name ends
// and the value starts. Indexes, not slices or a Member: the results stay in registers, and
// the per-member loop is the hot one.
func (s *Scanner) member(i int) (nameEnd, valueStart int, escaped bool, err error) {
	b := s.buf
	if i == len(b) || b[i] != '"' {
		return 0, 0, false, s.failAt(i, "expected a member name")
	}
	if nameEnd, escaped = stringEndNoted(b, i); nameEnd < 0 {
		return 0, 0, false, s.failAt(i, "unterminated string")
	}
	j := skipSpace(b, nameEnd)
	if j == len(b) || b[j] != ':' {
		return 0, 0, false, s.failAt(j, "expected ':'")
	}
	valueStart = skipSpace(b, j+1)
	end := valueEnd(b, valueStart)
	if end < 0 {
		return 0, 0, false, s.valueError(valueStart)
	}
	s.pos = end
	return nameEnd, valueStart, escaped, nil
}

// stringEndNoted is stringEnd for a member name, which is short: one plain pass that also
// notes whether the name holds escapes, so that Text need not look again.
func stringEndNoted(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, false
}
