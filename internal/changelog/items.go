package changelog

import "fmt"

// EachItem calls fn for every [version, key, row] triple of an entry's items array, in
// order. key and row are sub-slices of items, byte-exact as PostgreSQL wrote them; both are
// a JSON object or null. The scan is structural only (PostgreSQL's json type already
// validated the text on insert): it finds where each value ends without decoding it, which
// is what keeps large row images cheap.
func EachItem(items []byte, fn func(version int64, key, row []byte)) error {
	s := scanner{buf: items}
	if err := s.expect('['); err != nil {
		return err
	}
	if s.skip(']') {
		return s.end()
	}
	for {
		if err := s.item(fn); err != nil {
			return err
		}
		if s.skip(',') {
			continue
		}
		if err := s.expect(']'); err != nil {
			return err
		}
		return s.end()
	}
}

type scanner struct {
	buf []byte
	pos int
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("items JSON at byte %d: %s", s.pos, fmt.Sprintf(format, args...))
}

func (s *scanner) ws() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// skip consumes c (after whitespace) if it comes next.
func (s *scanner) skip(c byte) bool {
	s.ws()
	if s.pos < len(s.buf) && s.buf[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

func (s *scanner) expect(c byte) error {
	if !s.skip(c) {
		return s.errorf("expected %q", c)
	}
	return nil
}

func (s *scanner) end() error {
	s.ws()
	if s.pos != len(s.buf) {
		return s.errorf("trailing data")
	}
	return nil
}

func (s *scanner) item(fn func(version int64, key, row []byte)) error {
	if err := s.expect('['); err != nil {
		return err
	}
	version, err := s.version()
	if err != nil {
		return err
	}
	if err := s.expect(','); err != nil {
		return err
	}
	key, err := s.objectOrNull()
	if err != nil {
		return err
	}
	if err := s.expect(','); err != nil {
		return err
	}
	row, err := s.objectOrNull()
	if err != nil {
		return err
	}
	if err := s.expect(']'); err != nil {
		return err
	}
	fn(version, key, row)
	return nil
}

func (s *scanner) version() (int64, error) {
	s.ws()
	var v int64
	start := s.pos
	for s.pos < len(s.buf) && s.buf[s.pos] >= '0' && s.buf[s.pos] <= '9' {
		if v > (1<<63-1-9)/10 {
			return 0, s.errorf("version out of range")
		}
		v = v*10 + int64(s.buf[s.pos]-'0')
		s.pos++
	}
	if s.pos == start || v == 0 {
		return 0, s.errorf("expected a positive version")
	}
	return v, nil
}

func (s *scanner) objectOrNull() ([]byte, error) {
	s.ws()
	start := s.pos
	rest := s.buf[s.pos:]
	if len(rest) >= 4 && string(rest[:4]) == "null" {
		s.pos += 4
		return s.buf[start:s.pos], nil
	}
	if len(rest) == 0 || rest[0] != '{' {
		return nil, s.errorf("expected an object or null")
	}
	if err := s.compound(); err != nil {
		return nil, err
	}
	return s.buf[start:s.pos], nil
}

// compound moves past the object or array starting at pos, counting nesting and stepping
// over strings so that brackets inside them do not count.
func (s *scanner) compound() error {
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

// str moves past the string starting at pos.
func (s *scanner) str() error {
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
