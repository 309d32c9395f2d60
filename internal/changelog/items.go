package changelog

import (
	"errors"
	"fmt"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/rawjson"
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
	keys := it.keys
	if keys == nil {
		keys = newKeyMaker(it.KeyColumns)
	}
	s := rawjson.New(it.JSON)
	version := it.First
	err := s.Array(func() error {
		err := element(&s, it.Op, keys, version, fn)
		version++
		return err
	})
	if err == nil {
		err = s.End()
	}
	if err != nil {
		return fmt.Errorf("items: %w", err)
	}
	return nil
}

func element(s *rawjson.Scanner, op change.Op, keys *keyMaker, version int64, fn func(version int64, key, row []byte)) error {
	switch c := s.Peek(); {
	case c == '[':
		return readTriple(s, fn)
	case c != '{':
		return s.Errorf("expected an object or a [version, key, row] array")
	case op == change.Truncate:
		return s.Errorf("a truncate is a [version, null, null] array")
	case op == change.Delete:
		key, err := s.Value()
		if err != nil {
			return err
		}
		fn(version, key, null)
		return nil
	case len(keys.names) == 0:
		row, err := s.Value()
		if err != nil {
			return err
		}
		fn(version, null, row)
		return nil
	}
	start := s.Offset()
	row, key, err := keys.rowKey(s)
	if err != nil {
		return fmt.Errorf("element at byte %d: %w", start, err)
	}
	fn(version, key, row)
	return nil
}

var null = []byte("null")

func readTriple(s *rawjson.Scanner, fn func(version int64, key, row []byte)) error {
	if err := s.Expect('['); err != nil {
		return err
	}
	version, err := readVersion(s)
	if err != nil {
		return err
	}
	if err := s.Expect(','); err != nil {
		return err
	}
	key, err := objectOrNull(s)
	if err != nil {
		return err
	}
	if err := s.Expect(','); err != nil {
		return err
	}
	row, err := objectOrNull(s)
	if err != nil {
		return err
	}
	if err := s.Expect(']'); err != nil {
		return err
	}
	fn(version, key, row)
	return nil
}

// readVersion reads a positive integer.
func readVersion(s *rawjson.Scanner) (int64, error) {
	s.Peek() // to the value, so that an error names its offset
	start := s.Offset()
	digits, err := s.Value()
	if err != nil {
		return 0, err
	}
	var v int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			v = 0
			break
		}
		if v > (1<<63-1-9)/10 {
			return 0, &rawjson.SyntaxError{Offset: start, Msg: "version out of range"}
		}
		v = v*10 + int64(c-'0')
	}
	if v == 0 {
		return 0, &rawjson.SyntaxError{Offset: start, Msg: "expected a positive version"}
	}
	return v, nil
}

func objectOrNull(s *rawjson.Scanner) ([]byte, error) {
	if c := s.Peek(); c != '{' && c != 'n' {
		return nil, s.Errorf("expected an object or null")
	}
	v, err := s.Value()
	if err == nil && v[0] == 'n' && string(v) != "null" {
		return nil, s.Errorf("expected an object or null")
	}
	return v, err
}
