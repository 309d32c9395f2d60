package changelog

import "fmt"

// scanner walks JSON that PostgreSQL already validated, finding where values end.
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

// value moves past any JSON value and returns its bytes.
func (s *scanner) value() ([]byte, error) {
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
		// A number, true, false or null: up to the next delimiter.
		for s.pos < len(s.buf) && !delimiter(s.buf[s.pos]) {
			s.pos++
		}
		if s.pos == start {
			return nil, s.errorf("expected a value")
		}
	}
	return s.buf[start:s.pos], nil
}

// quoted moves past the string that must come next (after whitespace) and returns it,
// quotes and escapes included; what names the string in the error.
func (s *scanner) quoted(what string) ([]byte, error) {
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

func delimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ':', '{', '[', '"', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}
