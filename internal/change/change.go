// Package change defines the message format pgfanout publishes: a JSON array of row changes
// of one table. Key and row images are carried byte-exact as PostgreSQL's to_json wrote them,
// so json values keep their whitespace and duplicate keys and numbers keep every digit.
package change

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Op is what happened to a row.
type Op string

const (
	Insert   Op = "insert"
	Update   Op = "update"
	Delete   Op = "delete"
	Truncate Op = "truncate"
)

// ValueSettings are the session settings under which the capture printed row images (its
// trigger functions pin them): money in the C locale, ISO dates, postgres-style intervals,
// shortest-exact floats, hex bytea. A reader that parses or prints values under the same
// settings (the replicator does) rebuilds them exactly; TimeZone makes text output of
// timestamptz comparable.
func ValueSettings() map[string]string {
	return map[string]string{
		"lc_monetary":        "C",
		"DateStyle":          "ISO, YMD",
		"IntervalStyle":      "postgres",
		"TimeZone":           "UTC",
		"extra_float_digits": "3",
		"bytea_output":       "hex",
	}
}

// Change is one captured row change.
type Change struct {
	Version     int64           `json:"version"`
	Op          Op              `json:"op"`
	Schema      string          `json:"schema"`
	Table       string          `json:"table"`
	Key         json.RawMessage `json:"key"`
	Row         json.RawMessage `json:"row"`
	TxID        uint64          `json:"txid"`
	CommittedAt time.Time       `json:"committed_at"`
}

// OpFromCode maps the change log's one-letter operation code.
func OpFromCode(code byte) (Op, error) {
	switch code {
	case 'I':
		return Insert, nil
	case 'U':
		return Update, nil
	case 'D':
		return Delete, nil
	case 'T':
		return Truncate, nil
	}
	return "", fmt.Errorf("unknown operation code %q", code)
}

// AppendBody appends the JSON array of changes. It writes key and row verbatim: encoding/json
// would compact them and so alter json column values.
func AppendBody(buf []byte, changes []Change) []byte {
	buf = append(buf, '[')
	for i := range changes {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = AppendChange(buf, &changes[i])
	}
	return append(buf, ']')
}

// AppendChange appends one change object.
func AppendChange(buf []byte, c *Change) []byte {
	buf = append(buf, `{"version":`...)
	buf = strconv.AppendInt(buf, c.Version, 10)
	buf = append(buf, `,"op":"`...)
	buf = append(buf, c.Op...)
	buf = append(buf, `","schema":`...)
	buf = appendString(buf, c.Schema)
	buf = append(buf, `,"table":`...)
	buf = appendString(buf, c.Table)
	buf = append(buf, `,"key":`...)
	buf = appendRaw(buf, c.Key)
	buf = append(buf, `,"row":`...)
	buf = appendRaw(buf, c.Row)
	buf = append(buf, `,"txid":`...)
	buf = strconv.AppendUint(buf, c.TxID, 10)
	buf = append(buf, `,"committed_at":"`...)
	buf = c.CommittedAt.UTC().AppendFormat(buf, time.RFC3339Nano)
	return append(buf, `"}`...)
}

func appendRaw(buf []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(buf, "null"...)
	}
	return append(buf, raw...)
}

func appendString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s) // cannot fail for a string
	return append(buf, b...)
}

// Decode parses and validates a message body. It never panics, whatever the input.
func Decode(body []byte) ([]Change, error) {
	var changes []Change
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&changes); err != nil {
		return nil, fmt.Errorf("decode body: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode body: trailing data after the array")
	}
	if len(changes) == 0 {
		return nil, errors.New("decode body: no changes")
	}
	for i := range changes {
		if err := changes[i].Validate(); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
	}
	return changes, nil
}

// Validate checks that a change has the shape its operation needs.
func (c *Change) Validate() error {
	if c.Version <= 0 {
		return fmt.Errorf("version %d: must be positive", c.Version)
	}
	if c.Schema == "" || c.Table == "" {
		return errors.New("schema and table are required")
	}
	key, row := kind(c.Key), kind(c.Row)
	switch c.Op {
	case Insert, Update:
		if row != '{' {
			return fmt.Errorf("%s %d: row must be an object", c.Op, c.Version)
		}
		if key != 'n' && key != '{' {
			return fmt.Errorf("%s %d: key must be an object or null", c.Op, c.Version)
		}
	case Delete:
		if key != '{' {
			return fmt.Errorf("delete %d: key must be an object", c.Version)
		}
		if row != 'n' {
			return fmt.Errorf("delete %d: row must be null", c.Version)
		}
	case Truncate:
		if key != 'n' || row != 'n' {
			return fmt.Errorf("truncate %d: key and row must be null", c.Version)
		}
	default:
		return fmt.Errorf("version %d: unknown op %q", c.Version, c.Op)
	}
	return nil
}

// kind reports '{' for an object, 'n' for null or absent, and 0 for anything else.
func kind(raw json.RawMessage) byte {
	t := bytes.TrimSpace(raw)
	switch {
	case len(t) == 0 || bytes.Equal(t, []byte("null")):
		return 'n'
	case t[0] == '{':
		return '{'
	}
	return 0
}
