package rawjson

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The benchmarks run the two callers' uses over the same inputs before (legacy_test.go) and
// after: cutting a 1000-row items array into rows while deriving each row's key (the
// publisher, internal/changelog), and listing the keys of 1000 row objects with a map lookup
// each (the replicator's planner, internal/apply).

// wideRow is a ~280-byte row_to_json image of a 10-column table: numbers, text, a timestamp, a
// bool, an array, a json column with its own whitespace, a null and md5 filler.
func wideRow(i int) string {
	h := md5hex(i)
	return fmt.Sprintf(`{"id":%d,"customer":"Ada Lovelace","email":"ada%d@example.com","amount":1234.%02d,`+
		`"created_at":"2026-11-21T10:15:02.123456+00:00","active":true,"tags":["a","b\"c"],`+
		`"doc":{"a" : 1, "b":[1,2,{"c":"x]"}]},"note":null,"payload":"%s%s"}`, i, i, i%100, h, h[:26])
}

// narrowRow is the benchmarks' table (id bigint, payload text) at ~300 bytes.
func narrowRow(i int) string {
	return fmt.Sprintf(`{"id":%d,"payload":"%s"}`, i, strings.Repeat(md5hex(i), 9)[:280])
}

func md5hex(i int) string {
	sum := md5.Sum([]byte(fmt.Sprint(i)))
	return hex.EncodeToString(sum[:])
}

var benchInputs = []struct {
	name string
	row  func(int) string
}{{"wide", wideRow}, {"narrow", narrowRow}}

func benchRows(row func(int) string) [][]byte {
	rows := make([][]byte, 1000)
	for i := range rows {
		rows[i] = []byte(row(i + 1))
	}
	return rows
}

// itemsOf joins rows as json_agg does.
func itemsOf(rows [][]byte) []byte {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = string(r)
	}
	return []byte("[" + strings.Join(parts, ", ") + "]")
}

// benchKeys is the changelog's key derivation, trimmed to what both versions share.
type benchKeys struct {
	names, vals [][]byte
	buf         []byte
}

func (k *benchKeys) member(name, val []byte) error {
	for i := range k.names {
		if string(k.names[i]) == string(name) {
			if k.vals[i] != nil {
				return fmt.Errorf("key column %s twice", name)
			}
			k.vals[i] = val
		}
	}
	return nil
}

func (k *benchKeys) keep(m Member) error { return k.member(m.Name, m.Value) }

func (k *benchKeys) complete() error {
	for i, v := range k.vals {
		if v == nil {
			return fmt.Errorf("no key column %s", k.names[i])
		}
	}
	return nil
}

func (k *benchKeys) build() []byte {
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

// items is the new changelog walk: one pass per row finds both its end and its key.
func items(b []byte, k *benchKeys, fn func(key, row []byte)) error {
	s := New(b)
	err := s.Array(func() error {
		clear(k.vals)
		row, err := s.Object(k.keep)
		if err == nil {
			err = k.complete()
		}
		if err == nil {
			fn(k.build(), row)
		}
		return err
	})
	if err == nil {
		err = s.End()
	}
	return err
}

// columnsOf lists a row's keys as the planner does (internal/apply, tablePlan.columns).
func columnsOf(raw []byte, cols map[string]int) (int, error) {
	sum := 0
	s := New(raw)
	_, err := s.Object(func(m Member) error {
		key, err := m.Text()
		if err != nil {
			return err
		}
		sum += cols[string(key)]
		return nil
	})
	return sum, err
}

// legacyColumnsOf is the same over the old objectKeys.
func legacyColumnsOf(raw []byte, cols map[string]int) (int, error) {
	sum := 0
	err := legacyObjectKeys(raw, func(key []byte) error {
		sum += cols[string(key)]
		return nil
	})
	return sum, err
}

func TestBenchmarkedVersionsAgree(t *testing.T) {
	for _, in := range benchInputs {
		rows := benchRows(in.row)
		b := itemsOf(rows)
		var cutBefore, cutAfter []string
		kb := &benchKeys{names: [][]byte{[]byte(`"id"`)}, vals: make([][]byte, 1)}
		require.NoError(t, legacyItems(b, kb, func(key, row []byte) { cutBefore = append(cutBefore, string(key)+string(row)) }))
		require.NoError(t, items(b, kb, func(key, row []byte) { cutAfter = append(cutAfter, string(key)+string(row)) }))
		require.Len(t, cutAfter, 1000)
		require.Equal(t, cutBefore, cutAfter)
		require.Equal(t, `{"id" : 7}`+string(rows[6]), cutAfter[6])

		before, err := legacyColumnsOf(rows[6], benchColumns)
		require.NoError(t, err)
		after, err := columnsOf(rows[6], benchColumns)
		require.NoError(t, err)
		require.Equal(t, before, after)
		require.Equal(t, map[string]int{"wide": 55, "narrow": 1 + 10}[in.name], after, "every column, once")
	}
}

func BenchmarkItems(b *testing.B) {
	for _, in := range benchInputs {
		buf := itemsOf(benchRows(in.row))
		for _, version := range []string{"before", "after"} {
			b.Run(in.name+"/"+version, func(b *testing.B) {
				k := &benchKeys{names: [][]byte{[]byte(`"id"`)}, vals: make([][]byte, 1)}
				b.SetBytes(int64(len(buf)))
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					k.buf = k.buf[:0]
					var err error
					if version == "before" {
						err = legacyItems(buf, k, func(_, _ []byte) { n++ })
					} else {
						err = items(buf, k, func(_, _ []byte) { n++ })
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if n == 0 {
					b.Fatal("no rows")
				}
			})
		}
	}
}

// benchColumns are wideRow's columns; narrowRow has the first and the last.
var benchColumns = map[string]int{"id": 1, "customer": 2, "email": 3, "amount": 4, "created_at": 5, "active": 6,
	"tags": 7, "doc": 8, "note": 9, "payload": 10}

// BenchmarkObjectKeys: one op looks up the keys of 1000 rows.
func BenchmarkObjectKeys(b *testing.B) {
	for _, in := range benchInputs {
		rows := benchRows(in.row)
		size := 0
		for _, r := range rows {
			size += len(r)
		}
		for _, version := range []string{"before", "after"} {
			columns := columnsOf
			if version == "before" {
				columns = legacyColumnsOf
			}
			b.Run(in.name+"/"+version, func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				sum := 0
				for b.Loop() {
					for _, r := range rows {
						n, err := columns(r, benchColumns)
						if err != nil {
							b.Fatal(err)
						}
						sum += n
					}
				}
				if sum == 0 {
					b.Fatal("no keys")
				}
			})
		}
	}
}
