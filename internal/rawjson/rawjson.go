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

// failAt moves to offset i and reports msg there.
func (s *Scanner) failAt(i int, msg string) error {
	s.pos = i
	return &SyntaxError{Offset: i, Msg: msg}
}

// Peek returns the next byte after whitespace without consuming it, 0 at the end.
func (s *Scanner) Peek() byte {
	if s.pos = skipSpace(s.buf, s.pos); s.pos == len(s.buf) {
		return 0
	}
	return s.buf[s.pos]
}

// Skip consumes c (after whitespace) if it comes next.
func (s *Scanner) Skip(c byte) bool {
	s.pos = skipSpace(s.buf, s.pos)
	if s.pos < len(s.buf) && s.buf[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// Expect consumes c (after whitespace), which must come next.
func (s *Scanner) Expect(c byte) error {
	if s.Skip(c) {
		return nil
	}
	return s.failAt(s.pos, fmt.Sprintf("expected %q", c))
}

// End checks that only whitespace is left.
func (s *Scanner) End() error {
	if s.pos = skipSpace(s.buf, s.pos); s.pos != len(s.buf) {
		return s.failAt(s.pos, "trailing data")
	}
	return nil
}

// Value consumes the value that comes next (after whitespace) and returns its bytes.
func (s *Scanner) Value() ([]byte, error) {
	i := skipSpace(s.buf, s.pos)
	end := valueEnd(s.buf, i)
	if end < 0 {
		return nil, s.valueError(i)
	}
	s.pos = end
	return s.buf[i:end:end], nil
}

// valueError says why valueEnd found no value at s.buf[i]: a string, object or array that
// does not end, or nothing that can start a value.
func (s *Scanner) valueError(i int) error {
	if i < len(s.buf) {
		switch s.buf[i] {
		case '"', '{', '[':
			return s.failAt(i, "unterminated value")
		}
	}
	return s.failAt(i, "expected a value")
}

// Quoted consumes the string that must come next (after whitespace) and returns it, quotes
// and escapes included.
func (s *Scanner) Quoted() ([]byte, error) {
	i := skipSpace(s.buf, s.pos)
	if i == len(s.buf) || s.buf[i] != '"' {
		return nil, s.failAt(i, "expected a string")
	}
	end := stringEnd(s.buf, i)
	if end < 0 {
		return nil, s.failAt(i, "unterminated string")
	}
	s.pos = end
	return s.buf[i:end:end], nil
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

// skipSpace returns the index of the first byte at or after i that is not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the index just past the value starting at b[i], -1 if there is none.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '{', '[':
		return compoundEnd(b, i)
	case '"':
		return stringEnd(b, i)
	}
	// A number, true, false or null: up to the next delimiter.
	j := i
	for j < len(b) && !delimiter(b[j]) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// stringEnd returns the index just past the string whose opening quote is b[i], -1 if it is
// unterminated. Names and most values are short, so it first steps through a few bytes
// itself; a longer string (row images are mostly long text) it crosses from quote to quote
// with bytes.IndexByte, which is vectorised, taking a quote as closing when an even number
// of backslashes precedes it: exactly where a left-to-right escape scan would stop.
func stringEnd(b []byte, i int) int {
	j := i + 1
	for short := min(len(b), j+shortString); j < short; j++ {
		switch b[j] {
		case '"':
			return j + 1
		case '\\':
			j++ // the escaped byte; j then resumes after a whole escape
		}
	}
	for j < len(b) {
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
		j++
	}
	return -1
}

// shortString is how far stringEnd steps byte by byte before it calls bytes.IndexByte.
const shortString = 8

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
