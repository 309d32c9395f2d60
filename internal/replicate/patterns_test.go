package replicate

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParsePatterns(t *testing.T) {
	cases := []struct {
		in      string
		want    []Pattern
		binding []string
	}{
		{"*.*", []Pattern{{}}, []string{"*.*"}},
		{"public.*, sales.orders", []Pattern{{Schema: "public"}, {Schema: "sales", Table: "orders"}}, []string{"public.*", "sales.orders"}},
		{`"my.schema"."Order ""Items""",*.t`, []Pattern{{Schema: "my.schema", Table: `Order "Items"`}, {Table: "t"}},
			[]string{`my%2Eschema.Order%20"Items"`, "*.t"}},
		{`"a*b".ü`, []Pattern{{Schema: "a*b", Table: "ü"}}, []string{"a%2Ab.%C3%BC"}},
		{`CamelCase.x`, []Pattern{{Schema: "CamelCase", Table: "x"}}, []string{"CamelCase.x"}},
	}
	for _, c := range cases {
		got, err := ParsePatterns(c.in)
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, got, c.in)
		for i, p := range got {
			require.Equal(t, c.binding[i], p.BindingKey(), c.in)
		}
	}
	for _, bad := range []string{"", "orders", "public.", "pub*.x", `"unterminated.x`, `"".x`, "a.b,", "a.b c.d", "a.b.c"} {
		_, err := ParsePatterns(bad)
		require.Error(t, err, bad)
	}
}

func TestPatternMatch(t *testing.T) {
	ps, err := ParsePatterns("public.*,sales.orders")
	require.NoError(t, err)
	require.True(t, MatchAny(ps, "public", "anything"))
	require.True(t, MatchAny(ps, "sales", "orders"))
	require.False(t, MatchAny(ps, "sales", "customers"))
	require.False(t, MatchAny(ps, "Public", "x"), "names are case-sensitive")
	require.Equal(t, `public.*,sales.orders`, patternList(ps).String())
}

type fakeAcks struct{ acks [][2]uint64 } // tag, multiple (1/0)

func (f *fakeAcks) Ack(tag uint64, multiple bool) error {
	m := uint64(0)
	if multiple {
		m = 1
	}
	f.acks = append(f.acks, [2]uint64{tag, m})
	return nil
}

func TestAckerNeverAcksHeldMessages(t *testing.T) {
	f := &fakeAcks{}
	a := newAcker(f)
	for tag := uint64(1); tag <= 8; tag++ {
		a.delivered(tag)
	}
	require.NoError(t, a.ack([]uint64{1, 2, 3}))
	require.Equal(t, [][2]uint64{{3, 1}}, f.acks, "nothing older pending: one multiple ack")

	f.acks = nil // 4 is held for a retry
	require.NoError(t, a.ack([]uint64{5, 6}))
	require.Equal(t, [][2]uint64{{5, 0}, {6, 0}}, f.acks, "4 still pending: one by one")

	f.acks = nil
	require.NoError(t, a.ack([]uint64{4}))
	require.Equal(t, [][2]uint64{{4, 1}}, f.acks, "4 was the oldest: multiple is safe (5 and 6 already acked)")

	f.acks = nil // 7 held; 8 and a late one below it
	a.delivered(9)
	require.NoError(t, a.ack([]uint64{8, 9}))
	require.Equal(t, [][2]uint64{{8, 0}, {9, 0}}, f.acks)
	require.NoError(t, a.ack(nil))
}
