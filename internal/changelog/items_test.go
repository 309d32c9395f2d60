package changelog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/rawjson"
)

type triple struct {
	version  int64
	key, row string
}

func collect(t *testing.T, it Items) ([]triple, error) {
	t.Helper()
	var got []triple
	err := it.Each(func(v int64, key, row []byte) {
		got = append(got, triple{v, string(key), string(row)})
	})
	return got, err
}

func TestItems(t *testing.T) {
	for _, tc := range []struct {
		name string
		it   Items
		want []triple
	}{{
		// The shapes PostgreSQL writes: json_agg's ", " separators, json_build_object's " : ",
		// a json column with its own whitespace and duplicate keys, brackets inside strings.
		name: "triples keep their bytes",
		it: Items{First: 1, Op: change.Insert, KeyColumns: []string{"id"}, JSON: []byte(`[[1, {"id" : 1}, {"id":1,"doc":{"a" : 1, "a":2},"s":"x]}\"{"}], 
 [2, null, null], [3, {"id" : 2}, null]]`)},
		want: []triple{
			{1, `{"id" : 1}`, `{"id":1,"doc":{"a" : 1, "a":2},"s":"x]}\"{"}`},
			{2, "null", "null"},
			{3, `{"id" : 2}`, "null"},
		},
	}, {
		name: "rows: versions by position, keys in key order",
		it: Items{First: 8193, Op: change.Update, KeyColumns: []string{"b", "id"},
			JSON: []byte(`[{"id":1,"b":"x","c":{"id":7}}, {"c":[1,"]"],"id":-2.5e3,"b":"y\"\\"}]`)},
		want: []triple{
			{8193, `{"b" : "x", "id" : 1}`, `{"id":1,"b":"x","c":{"id":7}}`},
			{8194, `{"b" : "y\"\\", "id" : -2.5e3}`, `{"c":[1,"]"],"id":-2.5e3,"b":"y\"\\"}`},
		},
	}, {
		name: "keys of a delete",
		it:   Items{First: 5, Op: change.Delete, KeyColumns: []string{"id"}, JSON: []byte(`[{"id" : 1}, {"id" : 2}]`)},
		want: []triple{{5, `{"id" : 1}`, "null"}, {6, `{"id" : 2}`, "null"}},
	}, {
		name: "keyless rows have no key",
		it:   Items{First: 9, Op: change.Insert, JSON: []byte(`[{"a":1}, {"a":1}]`)},
		want: []triple{{9, "null", `{"a":1}`}, {10, "null", `{"a":1}`}},
	}, {
		name: "key columns named like escapes",
		it: Items{First: 1, Op: change.Insert, KeyColumns: []string{"a\"b\\c\td\x01é"},
			JSON: []byte(`[{"x":"a\"b\\c\td\u0001é","a\"b\\c\td\u0001é":true}]`)},
		want: []triple{{1, `{"a\"b\\c\td\u0001é" : true}`, `{"x":"a\"b\\c\td\u0001é","a\"b\\c\td\u0001é":true}`}},
	}, {
		name: "empty",
		it:   Items{First: 1, Op: change.Insert, JSON: []byte(" [ ] ")},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := collect(t, tc.it)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestItemsRejects(t *testing.T) {
	for name, it := range map[string]Items{
		"empty":                {JSON: []byte(``)},
		"object":               {JSON: []byte(`{}`)},
		"unterminated array":   {JSON: []byte(`[[1, null, null]`)},
		"trailing":             {JSON: []byte(`[[1, null, null]] x`)},
		"zero version":         {JSON: []byte(`[[0, null, null]]`)},
		"negative version":     {JSON: []byte(`[[-1, null, null]]`)},
		"string version":       {JSON: []byte(`[["1", null, null]]`)},
		"huge version":         {JSON: []byte(`[[99999999999999999999, null, null]]`)},
		"array key":            {JSON: []byte(`[[1, [1], null]]`)},
		"missing row":          {JSON: []byte(`[[1, null]]`)},
		"extra element":        {JSON: []byte(`[[1, null, null, null]]`)},
		"unterminated object":  {JSON: []byte(`[[1, {"a":1, null]]`)},
		"unterminated string":  {JSON: []byte(`[[1, {"a":"1}, null]]`)},
		"bare string":          {JSON: []byte(`["x"]`)},
		"bare null":            {JSON: []byte(`[null]`)},
		"bare truncate":        {JSON: []byte(`[{"id":1}]`), Op: change.Truncate},
		"row without its key":  {JSON: []byte(`[{"idx":1}]`), KeyColumns: []string{"id"}},
		"key column twice":     {JSON: []byte(`[{"id":1,"id":2}]`), KeyColumns: []string{"id"}},
		"member without value": {JSON: []byte(`[{"id":}]`), KeyColumns: []string{"id"}},
		"no entry version":     {JSON: []byte(`[{"id":1}]`), First: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if it.First == 0 {
				it.First = 1
			}
			if it.Op == "" {
				it.Op = change.Insert
			}
			_, err := collect(t, it)
			require.Error(t, err)
		})
	}
}

func FuzzItems(f *testing.F) {
	f.Add([]byte(`[[1, {"id" : 1}, {"id":1,"s":"a\"]"}], [2, null, null]]`), false)
	f.Add([]byte(`[]`), false)
	f.Add([]byte(`[[1,{},{"a":[{"b":"}"}]}]]`), false)
	f.Add([]byte(`[{"id":1,"s":"a\"]"}, {"s":null,"id":"x"}]`), false)
	f.Add([]byte(`[{"id" : 1}, [7, {"id" : 2}, null]]`), true)
	f.Fuzz(func(t *testing.T, items []byte, del bool) {
		it := Items{JSON: items, First: 100, Op: change.Insert, KeyColumns: []string{"id"}}
		if del {
			it.Op = change.Delete
		}
		var got [][2][]byte
		err := it.Each(func(_ int64, key, row []byte) { got = append(got, [2][]byte{key, row}) })
		if err != nil {
			return
		}
		// Whatever the scanner accepts from valid JSON, encoding/json must cut identically.
		var want []json.RawMessage
		if json.Unmarshal(items, &want) != nil {
			return
		}
		require.Len(t, got, len(want))
		for i, elem := range want {
			key, row := string(got[i][0]), string(got[i][1])
			var parts [3]json.RawMessage
			switch {
			case json.Unmarshal(elem, &parts) == nil:
				require.Equal(t, string(parts[1]), key)
				require.Equal(t, string(parts[2]), row)
			case del:
				require.Equal(t, string(elem), key)
				require.Equal(t, "null", row)
			case bytes.Contains(elem, []byte(`\u`)):
				// encoding/json unescapes member names; row_to_json never writes \u in them
				// unless the column name has a control character.
				require.Equal(t, string(elem), row)
			default:
				require.Equal(t, string(elem), row)
				var members, keyMembers map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(elem, &members))
				require.NoError(t, json.Unmarshal([]byte(key), &keyMembers))
				require.Equal(t, map[string]json.RawMessage{"id": members["id"]}, keyMembers)
			}
		}
	})
}

func TestKeyMakersFromFetchedNames(t *testing.T) {
	m := keyMakers{}
	k, err := m.get([]byte(`["b", "we\"ird"]`))
	require.NoError(t, err)
	key, err := keyOf(k, `{"we\"ird":[1],"a":0,"b":"x"}`)
	require.NoError(t, err)
	require.Equal(t, `{"b" : "x", "we\"ird" : [1]}`, string(key))
	again, err := m.get([]byte(`["b", "we\"ird"]`))
	require.NoError(t, err)
	require.Same(t, k, again, "one maker per key-column list")

	none, err := m.get([]byte(`[]`))
	require.NoError(t, err)
	key, err = keyOf(none, `{"a":1}`)
	require.NoError(t, err)
	require.Equal(t, "null", string(key), "keyless")

	for _, bad := range []string{``, `{}`, `[1]`, `["a" "b"]`, `["a"`, `["a"] x`} {
		_, err := keyMakers{}.get([]byte(bad))
		require.Error(t, err, bad)
	}
}

func keyOf(k *keyMaker, row string) ([]byte, error) {
	s := rawjson.New([]byte(row))
	_, key, err := k.rowKey(&s)
	if err == nil {
		err = s.End()
	}
	return key, err
}

// BenchmarkItemsEach cuts a fast-path entry of 1000 ~300-byte rows, deriving each key.
func BenchmarkItemsEach(b *testing.B) {
	rows := make([]string, 1000)
	for i := range rows {
		rows[i] = fmt.Sprintf(`{"id":%d,"customer":"Ada Lovelace","created_at":"2026-11-21T10:15:02.123456+00:00",`+
			`"doc":{"a" : 1, "b":[1,2,{"c":"x]"}]},"note":null,"payload":"%s"}`, i+1, strings.Repeat("0123456789abcdef", 10))
	}
	it := Items{JSON: []byte("[" + strings.Join(rows, ", ") + "]"), First: 1, Op: change.Insert, KeyColumns: []string{"id"}}
	b.SetBytes(int64(len(it.JSON)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := it.Each(func(int64, []byte, []byte) { n++ }); err != nil || n != len(rows) {
			b.Fatal(n, err)
		}
	}
}
