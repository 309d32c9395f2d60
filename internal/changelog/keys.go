package changelog

import (
	"fmt"

	"github.com/pgfanout/pgfanout/internal/rawjson"
)

// keyMaker derives a row's key from its image: the key columns' members, in key order,
// spelled as json_build_object spells them (`{"a" : 1, "b" : "x"}`), so that a key reads the
// same whether the capture wrote it (deletes, the slow path) or the publisher derived it.
type keyMaker struct {
	names [][]byte // each key column as PostgreSQL's escape_json writes it, quotes included
	vals  [][]byte // scratch: the current row's key values, by key position
	buf   []byte   // keys are carved from here; a full buffer is replaced, never reused
}

// newKeyMaker takes the key column names as Go strings.
func newKeyMaker(columns []string) *keyMaker {
	names := make([][]byte, len(columns))
	for i, c := range columns {
		names[i] = escapeJSON(c)
	}
	return keyMakerOf(names)
}

// keyMakerOf takes the names already escaped, quotes included.
func keyMakerOf(names [][]byte) *keyMaker {
	return &keyMaker{names: names, vals: make([][]byte, len(names))}
}

// keyMakers caches a keyMaker per key-column list, given as the JSON array of names the
// fetch returns (its strings are the names exactly as row_to_json escapes them).
type keyMakers map[string]*keyMaker

func (m keyMakers) get(namesJSON []byte) (*keyMaker, error) {
	if k := m[string(namesJSON)]; k != nil {
		return k, nil
	}
	var names [][]byte
	s := rawjson.New(namesJSON)
	err := s.Array(func() error {
		name, err := s.Quoted()
		names = append(names, name)
		return err
	})
	if err == nil {
		err = s.End()
	}
	if err != nil {
		return nil, err
	}
	k := keyMakerOf(names)
	m[string(namesJSON)] = k
	return k, nil
}

// rowKey consumes the row object that comes next in s and returns it and its key, finding
// both in one pass over the row.
func (k *keyMaker) rowKey(s *rawjson.Scanner) (row, key []byte, err error) {
	clear(k.vals)
	if row, err = s.Object(k.member); err != nil {
		return nil, nil, err
	}
	if len(k.names) == 0 {
		return row, null, nil
	}
	for i, v := range k.vals {
		if v == nil {
			return nil, nil, fmt.Errorf("row has no key column %s", k.names[i])
		}
	}
	return row, k.build(), nil
}

// member keeps the value of a key column. Names compare as written: row_to_json and the
// fetched key-column list escape a name alike.
func (k *keyMaker) member(m rawjson.Member) error {
	for i := range k.names {
		if string(k.names[i]) == string(m.Name) {
			if k.vals[i] != nil {
				return fmt.Errorf("row has key column %s twice", m.Name)
			}
			k.vals[i] = m.Value
		}
	}
	return nil
}

// build spells the key from vals.
func (k *keyMaker) build() []byte {
	size := 1
	for i := range k.names {
		size += len(k.names[i]) + 3 + len(k.vals[i]) + 2
	}
	if cap(k.buf)-len(k.buf) < size {
		// Earlier keys keep the old array alive; appending below never moves them. Chunks
		// double, so a one-row entry allocates little and a 5000-row one a few times.
		k.buf = make([]byte, 0, max(size, min(2*cap(k.buf), 16<<10), 8*size))
	}
	start := len(k.buf)
	k.buf = append(k.buf, '{')
	for i := range k.names {
		if i > 0 {
			k.buf = append(k.buf, ", "...)
		}
		k.buf = append(k.buf, k.names[i]...)
		k.buf = append(k.buf, " : "...)
		k.buf = append(k.buf, k.vals[i]...)
	}
	k.buf = append(k.buf, '}')
	return k.buf[start:len(k.buf):len(k.buf)]
}

// escapeJSON quotes s the way PostgreSQL's escape_json does, so that a column name compares
// byte for byte with the member names row_to_json writes.
func escapeJSON(s string) []byte {
	out := []byte{'"'}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\b':
			out = append(out, `\b`...)
		case '\f':
			out = append(out, `\f`...)
		case '\n':
			out = append(out, `\n`...)
		case '\r':
			out = append(out, `\r`...)
		case '\t':
			out = append(out, `\t`...)
		case '"':
			out = append(out, `\"`...)
		case '\\':
			out = append(out, `\\`...)
		default:
			if c < ' ' {
				out = fmt.Appendf(out, `\u%04x`, c)
			} else {
				out = append(out, c)
			}
		}
	}
	return append(out, '"')
}
