package change

import "strings"

// RoutingKey is "<schema>.<table>" with each part escaped so that a topic binding such as
// "public.*" or "sales.orders" still matches exactly one table: '.', '*', '#' and '%' and
// every byte outside printable ASCII are percent-encoded (upper-case hex).
func RoutingKey(schema, table string) string {
	return EscapeWord(schema) + "." + EscapeWord(table)
}

// EscapeWord escapes one routing-key word.
func EscapeWord(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > ' ' && c < 0x7f && c != '.' && c != '*' && c != '#' && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
