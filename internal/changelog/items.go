package changelog

import (
	"errors"
	"fmt"

	"github.com/pgfanout/pgfanout/internal/change"
)

// Items is one change-log entry's items array with what it takes to read it. The array mixes
// two element forms (docs/capture.md, "The change log"):
//
//   - a bare object, written by the capture's fast path: the new row of an insert or update,
//     or the key of a delete. The element at index i has version First+i, and a row's key is
//     its KeyColumns members, spelled the way json_build_object spells them;
//   - a [version, key, row] triple, written by the slow path and by TRUNCATE.
type Items struct {
	JSON       []byte
	First      int64     // the entry's version
	Op         change.Op // a bare object is a delete's key, an insert's or update's row
	KeyColumns []string  // primary key in key order; none: a keyless table's row has no key

	keys *keyMaker // set by Store.Fetch, shared by entries with the same key columns
}

// Each calls fn for every change in order. key and row are byte-exact sub-slices of JSON
// (a derived key is built once in a buffer owned by the caller's changes from then on);
// each is a JSON object or null. The scan is structural only (PostgreSQL's json type already
// validated the text on insert): it finds where each value ends without decoding it, which
// is what keeps large row images cheap.
func (it Items) Each(fn func(version int64, key, row []byte)) error {
	if it.First <= 0 {
		return errors.New("items: entry version must be positive")
	}
	s := scanner{buf: it.JSON}
	if err := s.expect('['); err != nil {
		return err
	}
	if s.skip(']') {
		return s.end()
	}
	keys := it.keys
	if keys == nil {
		keys = newKeyMaker(it.KeyColumns)
	}
	for i := int64(0); ; i++ {
		if err := s.element(it, keys, it.First+i, fn); err != nil {
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

func (s *scanner) element(it Items, keys *keyMaker, version int64, fn func(version int64, key, row []byte)) error {
	s.ws()
	if s.pos < len(s.buf) && s.buf[s.pos] == '[' {
		return s.triple(fn)
	}
	start := s.pos
	obj, err := s.objectOrNull()
	if err != nil {
		return err
	}
	switch {
	case obj[0] != '{':
		return s.errorf("expected an object or a [version, key, row] array")
	case it.Op == change.Truncate:
		return s.errorf("a truncate is a [version, null, null] array")
	case it.Op == change.Delete:
		fn(version, obj, null)
		return nil
	}
	key, err := keys.key(obj)
	if err != nil {
		return fmt.Errorf("items JSON element at byte %d: %w", start, err)
	}
	fn(version, key, obj)
	return nil
}

var null = []byte("null")

func (s *scanner) triple(fn func(version int64, key, row []byte)) error {
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
