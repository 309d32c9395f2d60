package rawjson

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Unquote returns the text of the JSON string q, quotes included as Quoted and Object return
// it. A string without escapes (nearly every column name) comes back as q's own bytes, so a
// map lookup by string(text) allocates nothing; only a string with escapes is decoded into a
// copy of its own.
func Unquote(q []byte) ([]byte, error) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return nil, fmt.Errorf("not a JSON string: %.40q", q)
	}
	text := q[1 : len(q)-1 : len(q)-1]
	if bytes.IndexByte(text, '\\') < 0 {
		return text, nil
	}
	var decoded string
	if err := json.Unmarshal(q, &decoded); err != nil {
		return nil, fmt.Errorf("JSON string %.40q: %w", q, err)
	}
	return []byte(decoded), nil
}
