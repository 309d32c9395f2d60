package rawjson

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValue(t *testing.T) {
	for _, tc := range []struct{ in, want, rest string }{
		{` 12.5e3 ,`, `12.5e3`, ` ,`},
		{`null]`, `null`, `]`},
		{`"a\"b\\"x`, `"a\"b\\"`, `x`},
		{`"\\\\"`, `"\\\\"`, ``},
		{`"\\\"\\"`, `"\\\"\\"`, ``},
		{`{"a":[1,{"b":"}]"}],"c":"\""} ]`, `{"a":[1,{"b":"}]"}],"c":"\""}`, ` ]`},
		{"[\n1 ,\t\"[\"\r]", "[\n1 ,\t\"[\"\r]", ``},
		{`"é😀"`, `"é😀"`, ``},
	} {
		s := New([]byte(tc.in))
		v, err := s.Value()
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, string(v), tc.in)
		require.Equal(t, tc.rest, tc.in[s.Offset():], tc.in)
	}
}

func TestValueRejects(t *testing.T) {
	for _, in := range []string{``, `  `, `,`, `}`, `:1`, `"abc`, `"abc\"`, `"\`, `{"a":1`, `[[]`, `{"a":"}"`} {
		s := New([]byte(in))
		_, err := s.Value()
		var se *SyntaxError
		require.True(t, errors.As(err, &se), "%q: %v", in, err)
	}
}

func TestObject(t *testing.T) {
	type member struct{ name, text, value string }
	for _, tc := range []struct {
		in   string
		want []member
		ok   bool
	}{
		{`{}`, nil, true},
		{` { } `, nil, true},
		{` { "a" : 1 , "b":[1,{"c":"}"}],"c":{"d":"\""}, "e\"f":null, "ü\u00fc":true } `, []member{
			{`"a"`, "a", "1"}, {`"b"`, "b", `[1,{"c":"}"}]`}, {`"c"`, "c", `{"d":"\""}`},
			{`"e\"f"`, `e"f`, "null"}, {`"ü\u00fc"`, "üü", "true"}}, true},
		{`{"a":"x\\"}`, []member{{`"a"`, "a", `"x\\"`}}, true},
		{`[1]`, nil, false},
		{`{"a":}`, nil, false},
		{`{"a":1`, []member{{`"a"`, "a", "1"}}, false},
		{`{"a":1,}`, []member{{`"a"`, "a", "1"}}, false},
		{`{"a" 1}`, nil, false},
		{`{a:1}`, nil, false},
		{`{"a":"unterminated}`, nil, false},
		{``, nil, false},
	} {
		var got []member
		s := New([]byte(tc.in))
		raw, err := s.Object(func(m Member) error {
			text, err := m.Text()
			require.NoError(t, err)
			got = append(got, member{string(m.Name), string(text), string(m.Value)})
			return nil
		})
		require.Equal(t, tc.ok, err == nil, "%s: %v", tc.in, err)
		require.Equal(t, tc.want, got, tc.in)
		if tc.ok {
			require.NoError(t, s.End())
			require.Equal(t, trimRight(trimLeft(tc.in)), string(raw))
		}
	}
}

func trimLeft(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r') {
		s = s[1:]
	}
	return s
}

func trimRight(s string) string {
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t' || s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

func TestObjectStopsAtCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	s := New([]byte(`{"a":1,"b":2}`))
	_, err := s.Object(func(Member) error { n++; return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, n)
}

func TestArray(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{`[]`, nil, true},
		{` [ "a" , "b\"" ] `, []string{`"a"`, `"b\""`}, true},
		{`["a" "b"]`, []string{`"a"`}, false},
		{`["a",]`, []string{`"a"`}, false},
		{`["a"`, []string{`"a"`}, false},
		{`{}`, nil, false},
		{`[1]`, nil, false},
	} {
		var got []string
		s := New([]byte(tc.in))
		err := s.Array(func() error {
			q, err := s.Quoted()
			if err == nil {
				got = append(got, string(q))
			}
			return err
		})
		if err == nil {
			err = s.End()
		}
		require.Equal(t, tc.ok, err == nil, "%s: %v", tc.in, err)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestEndAndExpect(t *testing.T) {
	s := New([]byte(" [ ] x"))
	require.NoError(t, s.Expect('['))
	require.False(t, s.Skip(','))
	require.Equal(t, byte(']'), s.Peek())
	require.NoError(t, s.Expect(']'))
	require.EqualError(t, s.End(), "JSON at byte 5: trailing data")
	empty := New(nil)
	require.Equal(t, byte(0), empty.Peek())
	require.False(t, empty.Skip(0), "the end is not a NUL byte")
	require.Error(t, empty.Expect('['))
	require.NoError(t, empty.End())
}

func TestMemberText(t *testing.T) {
	for name, want := range map[string]string{
		`""`: "", `"abc"`: "abc", `"a\"b"`: `a"b`, `"\u00e9\n\/"`: "é\n/", `"\ud83d\ude00"`: "😀", `"a\\"`: `a\`,
	} {
		var got []byte
		s := New([]byte(`{` + name + `:1}`))
		_, err := s.Object(func(m Member) error {
			var err error
			got, err = m.Text()
			return err
		})
		require.NoError(t, err, name)
		require.Equal(t, want, string(got), name)
	}
	for _, name := range []string{`"\x"`, `"\u12"`, `"\ud83d\"`} {
		s := New([]byte(`{` + name + `:1}`))
		_, err := s.Object(func(m Member) error { _, err := m.Text(); return err })
		require.Error(t, err, name)
	}
}

func TestObjectAllocatesNothing(t *testing.T) {
	row := []byte(`{"id":1,"a":"x\"y","b":[1,{"c":null}],"d":{"e":"]"}}`)
	cols := map[string]int{"id": 1, "a": 2, "b": 3, "d": 4}
	sum := 0
	allocs := testing.AllocsPerRun(100, func() {
		s := New(row)
		_, err := s.Object(func(m Member) error {
			text, err := m.Text()
			sum += cols[string(text)]
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
	require.Equal(t, 1010, sum)
}
