package rawjson

// The two scanners rawjson replaced, kept verbatim (renamed) as the "before" of the
// benchmarks: internal/changelog/scanner.go with the changelog's two-pass row walk (cut the
// row, then scan it again for its key), and internal/apply/jsonkeys.go's objectKeys.

import (
	"encoding/json"
	"errors"
	"fmt"
)

type legacyScanner struct {
	buf []byte
	pos int
}

func (s *legacyScanner) errorf(format string, args ...any) error {
	return fmt.Errorf("items JSON at byte %d: %s", s.pos, fmt.Sprintf(format, args...))
}

func (s *legacyScanner) ws() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *legacyScanner) skip(c byte) bool {
	s.ws()
	if s.pos < len(s.buf) && s.buf[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

func (s *legacyScanner) expect(c byte) error {
	if !s.skip(c) {
		return s.errorf("expected %q", c)
	}
	return nil
}

func (s *legacyScanner) value() ([]byte, error) {
	s.ws()
	start := s.pos
	if s.pos == len(s.buf) {
		return nil, s.errorf("expected a value")
	}
	switch s.buf[s.pos] {
	case '{', '[':
		if err := s.compound(); err != nil {
			return nil, err
		}
	case '"':
		if err := s.str(); err != nil {
			return nil, err
		}
	default:
		for s.pos < len(s.buf) && !delimiter(s.buf[s.pos]) {
			s.pos++
		}
		if s.pos == start {
			return nil, s.errorf("expected a value")
		}
	}
	return s.buf[start:s.pos], nil
}

func (s *legacyScanner) quoted(what string) ([]byte, error) {
	s.ws()
	if s.pos == len(s.buf) || s.buf[s.pos] != '"' {
		return nil, s.errorf("expected %s", what)
	}
	start := s.pos
	if err := s.str(); err != nil {
		return nil, err
	}
	return s.buf[start:s.pos:s.pos], nil
}

func (s *legacyScanner) compound() error {
	depth := 0
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				s.pos++
				return nil
			}
		case '"':
			if err := s.str(); err != nil {
				return err
			}
			continue
		}
		s.pos++
	}
	return s.errorf("unterminated value")
}

func (s *legacyScanner) str() error {
	for i := s.pos + 1; i < len(s.buf); i++ {
		switch s.buf[i] {
		case '\\':
			i++
		case '"':
			s.pos = i + 1
			return nil
		}
	}
	return s.errorf("unterminated value")
}

// legacyItems is the old Items.Each for an array of bare rows of a keyed table.
func legacyItems(items []byte, k *benchKeys, fn func(key, row []byte)) error {
	s := legacyScanner{buf: items}
	if err := s.expect('['); err != nil {
		return err
	}
	if s.skip(']') {
		return nil
	}
	for {
		row, err := s.value()
		if err != nil {
			return err
		}
		if err := legacyFind(k, row); err != nil {
			return err
		}
		fn(k.build(), row)
		if s.skip(',') {
			continue
		}
		return s.expect(']')
	}
}

// legacyFind is the old keyMaker.find: the second pass over a row.
func legacyFind(k *benchKeys, row []byte) error {
	clear(k.vals)
	s := legacyScanner{buf: row}
	if err := s.expect('{'); err != nil {
		return err
	}
	if !s.skip('}') {
		for {
			name, err := s.quoted("a member name")
			if err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			val, err := s.value()
			if err != nil {
				return err
			}
			if err := k.member(name, val); err != nil {
				return err
			}
			if s.skip(',') {
				continue
			}
			if err := s.expect('}'); err != nil {
				return err
			}
			break
		}
	}
	return k.complete()
}

var errNotObject = errors.New("not a JSON object")

func legacyObjectKeys(raw []byte, fn func(key []byte) error) error {
	i := legacySkipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return errNotObject
	}
	i = legacySkipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return nil
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return errNotObject
		}
		end, escaped := legacyStringEnd(raw, i)
		if end < 0 {
			return errNotObject
		}
		key := raw[i+1 : end-1]
		if escaped {
			var unescaped string
			if err := json.Unmarshal(raw[i:end], &unescaped); err != nil {
				return err
			}
			key = []byte(unescaped)
		}
		if err := fn(key); err != nil {
			return err
		}
		i = legacySkipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return errNotObject
		}
		if i = legacySkipValue(raw, legacySkipSpace(raw, i+1)); i < 0 {
			return errNotObject
		}
		i = legacySkipSpace(raw, i)
		if i < len(raw) && raw[i] == '}' {
			return nil
		}
		if i >= len(raw) || raw[i] != ',' {
			return errNotObject
		}
		i = legacySkipSpace(raw, i+1)
	}
}

func legacySkipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func legacyStringEnd(b []byte, i int) (int, bool) {
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

func legacySkipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := legacyStringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := legacyStringEnd(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' &&
		b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
