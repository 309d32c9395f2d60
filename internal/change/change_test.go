package change

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAppendBodyKeepsRawJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	row := json.RawMessage(`{"id":1,"doc":{"a" : 1, "a":2},"n":123456789012345678901234567890.123456789}`)
	body := AppendBody(nil, []Change{
		{Version: 7, Op: Insert, Schema: `we"ird`, Table: "t.1", Key: json.RawMessage(`{"id":1}`), Row: row, TxID: 99, CommittedAt: at},
		{Version: 8, Op: Truncate, Schema: "s", Table: "t", CommittedAt: at},
	})
	require.Contains(t, string(body), string(row), "row image must pass through byte-exact")
	got, err := Decode(body)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, string(row), string(got[0].Row))
	require.Equal(t, `we"ird`, got[0].Schema)
	require.Equal(t, uint64(99), got[0].TxID)
	require.True(t, at.Equal(got[0].CommittedAt))
	require.Equal(t, Truncate, got[1].Op)
	require.Equal(t, "null", string(got[1].Key))
}

func TestDecodeRejects(t *testing.T) {
	cases := map[string]string{
		"not json":          `{`,
		"empty array":       `[]`,
		"object not array":  `{"version":1}`,
		"zero version":      `[{"version":0,"op":"insert","schema":"s","table":"t","key":null,"row":{}}]`,
		"unknown op":        `[{"version":1,"op":"upsert","schema":"s","table":"t","key":null,"row":{}}]`,
		"insert row null":   `[{"version":1,"op":"insert","schema":"s","table":"t","key":null,"row":null}]`,
		"insert row array":  `[{"version":1,"op":"insert","schema":"s","table":"t","key":null,"row":[1]}]`,
		"delete no key":     `[{"version":1,"op":"delete","schema":"s","table":"t","key":null,"row":null}]`,
		"delete with row":   `[{"version":1,"op":"delete","schema":"s","table":"t","key":{"id":1},"row":{"id":1}}]`,
		"truncate with key": `[{"version":1,"op":"truncate","schema":"s","table":"t","key":{"id":1},"row":null}]`,
		"missing table":     `[{"version":1,"op":"truncate","schema":"s","key":null,"row":null}]`,
		"trailing data":     `[{"version":1,"op":"truncate","schema":"s","table":"t","key":null,"row":null}] []`,
		"string version":    `[{"version":"1","op":"truncate","schema":"s","table":"t","key":null,"row":null}]`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(body))
			require.Error(t, err)
		})
	}
}

func TestRoutingKey(t *testing.T) {
	cases := []struct{ schema, table, want string }{
		{"public", "orders", "public.orders"},
		{"my.schema", "a*b#c", "my%2Eschema.a%2Ab%23c"},
		{"Weird Schema", `Order "Items"`, `Weird%20Schema.Order%20"Items"`},
		{"s", "100%", "s.100%25"},
		{"ü", "t", "%C3%BC.t"},
	}
	for _, c := range cases {
		require.Equal(t, c.want, RoutingKey(c.schema, c.table))
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`[{"version":1,"op":"insert","schema":"s","table":"t","key":{"id":1},"row":{"id":1}}]`))
	f.Add([]byte(`[{"version":2,"op":"truncate","schema":"s","table":"t","key":null,"row":null}]`))
	f.Add([]byte(`[null]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		changes, err := Decode(body)
		if err != nil {
			return
		}
		// Whatever decodes must survive a round trip unchanged.
		again, err := Decode(AppendBody(nil, changes))
		require.NoError(t, err)
		require.Equal(t, len(changes), len(again))
		for i := range changes {
			require.Equal(t, changes[i].Version, again[i].Version)
			require.Equal(t, changes[i].Op, again[i].Op)
		}
	})
}
