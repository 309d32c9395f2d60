package publish

import (
	"github.com/rs/xid"

	"github.com/pgfanout/pgfanout/internal/change"
)

// messageLimits cut a table's changes into messages. A single change larger than Bytes
// still makes one message of its own.
type messageLimits struct {
	Changes int
	Bytes   int
}

type tableName struct{ schema, table string }

// eachMessage groups changes per table (tables in order of first appearance, each table's
// changes in their order) and calls send with one message per chunk. The body buffer is
// reused once send returns.
func eachMessage(changes []change.Change, lim messageLimits, send func(change.Message) error) error {
	var order []tableName
	groups := make(map[tableName][]change.Change)
	for _, c := range changes {
		k := tableName{c.Schema, c.Table}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	var buf []byte
	for _, k := range order {
		group := groups[k]
		for len(group) > 0 {
			var n int
			buf, n = appendChunk(buf[:0], group, lim)
			if err := send(change.NewMessage(xid.New().String(), k.schema, k.table, group[:n], buf)); err != nil {
				return err
			}
			group = group[n:]
		}
	}
	return nil
}

// appendChunk writes the JSON array of the longest prefix of changes within lim (at least
// one change) and returns it with the prefix length.
func appendChunk(buf []byte, changes []change.Change, lim messageLimits) ([]byte, int) {
	buf = append(buf, '[')
	n := 0
	for n < len(changes) && n < lim.Changes {
		mark := len(buf)
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = change.AppendChange(buf, &changes[n])
		if n > 0 && len(buf)+1 > lim.Bytes {
			buf = buf[:mark] // this change starts the next message
			break
		}
		n++
	}
	return append(buf, ']'), n
}
