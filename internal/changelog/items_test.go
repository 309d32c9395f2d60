package changelog

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

type triple struct {
	version  int64
	key, row string
}

func collect(t *testing.T, items string) ([]triple, error) {
	t.Helper()
	var got []triple
	err := EachItem([]byte(items), func(v int64, key, row []byte) {
		got = append(got, triple{v, string(key), string(row)})
	})
	return got, err
}

func TestEachItemKeepsBytes(t *testing.T) {
	// The shapes PostgreSQL writes: json_agg's ", " separators, json_build_object's " : ",
	// a json column with its own whitespace and duplicate keys, brackets inside strings.
	items := `[[1, {"id" : 1}, {"id":1,"doc":{"a" : 1, "a":2},"s":"x]}\"{"}], 
 [2, null, null], [3, {"id" : 2}, null]]`
	got, err := collect(t, items)
	require.NoError(t, err)
	require.Equal(t, []triple{
		{1, `{"id" : 1}`, `{"id":1,"doc":{"a" : 1, "a":2},"s":"x]}\"{"}`},
		{2, "null", "null"},
		{3, `{"id" : 2}`, "null"},
	}, got)
}

func TestEachItemEmptyArray(t *testing.T) {
	got, err := collect(t, " [ ] ")
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestEachItemRejects(t *testing.T) {
	for name, items := range map[string]string{
		"empty":               ``,
		"object":              `{}`,
		"unterminated array":  `[[1, null, null]`,
		"trailing":            `[[1, null, null]] x`,
		"zero version":        `[[0, null, null]]`,
		"negative version":    `[[-1, null, null]]`,
		"string version":      `[["1", null, null]]`,
		"huge version":        `[[99999999999999999999, null, null]]`,
		"array key":           `[[1, [1], null]]`,
		"missing row":         `[[1, null]]`,
		"extra element":       `[[1, null, null, null]]`,
		"unterminated object": `[[1, {"a":1, null]]`,
		"unterminated string": `[[1, {"a":"1}, null]]`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := collect(t, items)
			require.Error(t, err)
		})
	}
}

func FuzzEachItem(f *testing.F) {
	f.Add([]byte(`[[1, {"id" : 1}, {"id":1,"s":"a\"]"}], [2, null, null]]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[[1,{},{"a":[{"b":"}"}]}]]`))
	f.Fuzz(func(t *testing.T, items []byte) {
		var got [][2][]byte
		err := EachItem(items, func(_ int64, key, row []byte) { got = append(got, [2][]byte{key, row}) })
		if err != nil {
			return
		}
		// Whatever the scanner accepts from valid JSON, encoding/json must cut identically.
		var want [][3]json.RawMessage
		if json.Unmarshal(items, &want) != nil {
			return
		}
		require.Len(t, got, len(want))
		for i := range want {
			require.Equal(t, string(want[i][1]), string(got[i][0]))
			require.Equal(t, string(want[i][2]), string(got[i][1]))
		}
	})
}
