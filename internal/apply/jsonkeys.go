package apply

import (
	"encoding/json"
	"errors"
)

var errNotObject = errors.New("not a JSON object")

// objectKeys calls fn with each top-level key of the JSON object raw. It exists because decoding
// every row into a map just to learn its column names would cost an allocation per value; raw has
// already been validated as JSON by change.Decode, but objectKeys still never panics or loops on
// malformed input. key points into raw, so a map lookup by string(key) allocates nothing; only a
// name with escapes is unescaped into a copy of its own.
func objectKeys(raw []byte, fn func(key []byte) error) error {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return errNotObject
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return nil
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return errNotObject
		}
		end, escaped := stringEnd(raw, i)
		if end < 0 {
			return errNotObject
		}
		key := raw[i+1 : end-1]
		if escaped {
			var unescaped string // declared here: taking its address makes it a heap allocation
			if err := json.Unmarshal(raw[i:end], &unescaped); err != nil {
				return err
			}
			key = []byte(unescaped)
		}
		if err := fn(key); err != nil {
			return err
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return errNotObject
		}
		if i = skipValue(raw, skipSpace(raw, i+1)); i < 0 {
			return errNotObject
		}
		i = skipSpace(raw, i)
		if i < len(raw) && raw[i] == '}' {
			return nil
		}
		if i >= len(raw) || raw[i] != ',' {
			return errNotObject
		}
		i = skipSpace(raw, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at b[i] == '"', and whether it
// holds escapes; -1 if unterminated.
func stringEnd(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, false
}

// skipValue returns the index just past the value starting at b[i]; -1 if malformed.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := stringEnd(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' &&
		b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
