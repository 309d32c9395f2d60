// Package rawjson walks JSON text that was already validated (by PostgreSQL's json type, or by
// change.Decode), finding where values end without decoding them: the callers pass row images
// through byte for byte and only need their boundaries and member names, so a decoder would
// cost time and allocations for nothing.
//
// The scan is structural only. On malformed input it returns an error or cuts values
// wrongly, but it never panics, never reads out of bounds and always terminates: every step
// consumes input or fails.
package rawjson

import (
	"bytes"
	"fmt"
)

// SyntaxError says where the scan found something it did not expect.
type SyntaxError struct {
	Offset int // byte offset into the scanned text
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("JSON at byte %d: %s", e.Offset, e.Msg) }

// Scanner reads JSON text from the front. The slices it returns point into that text.
type Scanner struct {
	buf []byte
	pos int
}

// New returns a scanner at the start of b.
func New(b []byte) Scanner { return Scanner{buf: b} }

// Offset is the index of the next unread byte.
func (s *Scanner) Offset() int { return s.pos }

// Errorf returns a *SyntaxError at the current offset, for what a caller finds wrong with a
// value it reads (a string where it needs an object, say).
func (s *Scanner) Errorf(format string, args ...any) error {
	return &SyntaxError{Offset: s.pos, Msg: fmt.Sprintf(format, args...)}
}

func (s *Scanner) space() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// Peek returns the next byte after whitespace without consuming it, 0 at the end.
func (s *Scanner) Peek() byte {
	s.space()
	if s.pos == len(s.buf) {
		return 0
	}
	return s.buf[s.pos]
}

// Skip consumes c (after whitespace) if it comes next.
func (s *Scanner) Skip(c byte) bool {
	if s.Peek() == c && s.pos < len(s.buf) {
		s.pos++
		return true
	}
	return false
}

// Expect consumes c (after whitespace), which must come next.
func (s *Scanner) Expect(c byte) error {
	if !s.Skip(c) {
		return s.Errorf("expected %q", c)
	}
	return nil
}

// End checks that only whitespace is left.
func (s *Scanner) End() error {
	if s.space(); s.pos != len(s.buf) {
		return s.Errorf("trailing data")
	}
	return nil
}

// Value consumes the value that comes next (after whitespace) and returns its bytes.
func (s *Scanner) Value() ([]byte, error) {
	end := -1
	switch s.Peek() {
	case '{', '[':
		end = compoundEnd(s.buf, s.pos)
	case '"':
		end = stringEnd(s.buf, s.pos)
	default:
		// A number, true, false or null: up to the next delimiter.
		for end = s.pos; end < len(s.buf) && !delimiter(s.buf[end]); end++ {
		}
		if end == s.pos {
			return nil, s.Errorf("expected a value")
		}
	}
	if end < 0 {
		return nil, s.Errorf("unterminated value")
	}
	start := s.pos
	s.pos = end
	return s.buf[start:end:end], nil
}

// Quoted consumes the string that must come next (after whitespace) and returns it, quotes
// and escapes included.
func (s *Scanner) Quoted() ([]byte, error) {
	if s.Peek() != '"' {
		return nil, s.Errorf("expected a string")
	}
	end := stringEnd(s.buf, s.pos)
	if end < 0 {
		return nil, s.Errorf("unterminated string")
	}
	start := s.pos
	s.pos = end
	return s.buf[start:end:end], nil
}

// Array consumes the array that comes next, calling each once per element with the scanner
// at that element; each must consume exactly the element.
func (s *Scanner) Array(each func() error) error {
	if err := s.Expect('['); err != nil {
		return err
	}
	if s.Skip(']') {
		return nil
	}
	for {
		if err := each(); err != nil {
			return err
		}
		if s.Skip(',') {
			continue
		}
		return s.Expect(']')
	}
}

// Object consumes the object that comes next, calling each with every member's name (quotes
// and escapes included, see Unquote) and value, in order. It returns the object's bytes.
func (s *Scanner) Object(each func(name, value []byte) error) ([]byte, error) {
	s.space()
	start := s.pos
	if err := s.Expect('{'); err != nil {
		return nil, err
	}
	if !s.Skip('}') {
		for {
			if err := s.member(each); err != nil {
				return nil, err
			}
			if s.Skip(',') {
				continue
			}
			if err := s.Expect('}'); err != nil {
				return nil, err
			}
			break
		}
	}
	return s.buf[start:s.pos:s.pos], nil
}

func (s *Scanner) member(each func(name, value []byte) error) error {
	name, err := s.Quoted()
	if err != nil {
		return err
	}
	if err := s.Expect(':'); err != nil {
		return err
	}
	value, err := s.Value()
	if err != nil {
		return err
	}
	return each(name, value)
}

// stringEnd returns the index just past the string whose opening quote is b[i], -1 if it is
// unterminated. It jumps from quote to quote (bytes.IndexByte is vectorised; row images are
// mostly long strings) and treats a quote as closing when an even number of backslashes
// precedes it, which is exactly where a left-to-right escape scan would stop.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
	}
	return -1
}

// compoundEnd returns the index just past the object or array starting at b[i], -1 if it is
// unterminated. It counts brackets, stepping over strings so that brackets inside them do not
// count; it does not check that they pair up, nor recurse, so deep nesting costs no stack.
func compoundEnd(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		case '"':
			end := stringEnd(b, i)
			if end < 0 {
				return -1
			}
			i = end - 1
		}
	}
	return -1
}

// delimiter reports whether c ends a number or literal.
func delimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ':', '{', '[', '"', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}
