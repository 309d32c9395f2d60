package rawjson

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// The seed corpora are under testdata/fuzz. Each target checks that the scanner never panics
// (nor, by finishing, loops) on any input and that every slice it returns lies inside the
// input, and, where the input is valid JSON, that it cuts exactly where encoding/json does.

func FuzzValue(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s := New(data)
		v, err := s.Value()
		if err == nil {
			require.NotEmpty(t, v)
			require.Equal(t, data[s.Offset()-len(v):s.Offset()], v)
		}
		if !json.Valid(data) {
			return
		}
		require.NoError(t, err)
		require.Equal(t, string(bytes.Trim(data, " \t\r\n")), string(v))
		require.NoError(t, s.End())
	})
}

// FuzzMembers walks the top-level members of an object or elements of an array.
func FuzzMembers(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		type member struct{ name, value string }
		var got []member
		s := New(data)
		var err error
		if s.Peek() == '[' {
			err = s.Array(func() error {
				v, err := s.Value()
				got = append(got, member{value: string(v)})
				return err
			})
		} else {
			var raw []byte
			raw, err = s.Object(func(m Member) error {
				text, err := m.Text()
				got = append(got, member{string(text), string(m.Value)})
				return err
			})
			if err == nil {
				require.Equal(t, data[s.Offset()-len(raw):s.Offset()], raw)
			}
		}
		if !json.Valid(data) || !utf8.Valid(data) {
			return // encoding/json replaces invalid UTF-8 in names; the scanner keeps bytes
		}
		want, isCompound := decodeMembers(t, data)
		if !isCompound {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
		require.NoError(t, s.End())
		require.Len(t, got, len(want))
		for i := range want {
			require.Equal(t, want[i][0], got[i].name)
			require.Equal(t, want[i][1], got[i].value)
		}
	})
}

// decodeMembers lists the members (name, raw value) of valid JSON data with encoding/json's
// decoder, in order and with duplicates; false if data is neither an object nor an array.
func decodeMembers(t *testing.T, data []byte) ([][2]string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // a number like 1e700 is valid JSON but no float64
	tok, err := dec.Token()
	require.NoError(t, err)
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil, false
	}
	var members [][2]string
	for dec.More() {
		var name string
		if delim == '{' {
			tok, err := dec.Token()
			require.NoError(t, err)
			name = tok.(string)
		}
		var v json.RawMessage
		require.NoError(t, dec.Decode(&v))
		members = append(members, [2]string{name, string(v)})
	}
	return members, true
}
