package migrations_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

const maxEntryBytes = 16 << 20

func TestLargeStatementsSplitIntoEntries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		insert     string
		rows       int
		minEntries int
	}{
		{"more than 5000 rows", `INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 12001) g`, 12001, 3},
		{"more than 16 MiB", `INSERT INTO t SELECT g, repeat(chr(65 + g % 26), 20000) FROM generate_series(1, 1200) g`, 1200, 2},
		{"just under the fast path's limits", `INSERT INTO t SELECT g, repeat('x', 3000) FROM generate_series(1, 5000) g`, 5000, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSource(t)
			s.exec(keyed)
			s.exec(tt.insert)
			entries := s.entries()
			require.GreaterOrEqual(t, len(entries), tt.minEntries)
			total, last := 0, int64(0)
			for _, e := range entries {
				require.LessOrEqual(t, e.N, 5000)
				require.LessOrEqual(t, e.Size, maxEntryBytes+25000, "an entry ends with the row crossing 16 MiB")
				require.Equal(t, "I", e.Op)
				for _, it := range e.Items {
					require.Greater(t, it.Version, last, "versions increase across the statement's entries")
					last = it.Version
				}
				total += e.N
			}
			require.Equal(t, tt.rows, total)
			require.Len(t, s.changes(), tt.rows)
		})
	}
}

// A 10 MB row must neither fail the source write (row mode would exceed NOTIFY's 8000-byte
// payload) nor be truncated in the log.
func TestTenMegabyteRows(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"wakeup", "row", "off"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s := newSource(t)
			l := newListener(t, s.url)
			s.exec(`CREATE TABLE big (id int PRIMARY KEY, t text, b bytea); SELECT pgfanout.track('big')`)
			s.exec(`SELECT pgfanout.set_notify($1)`, mode)
			l.idle(t, true) // a publisher waits
			s.exec(`INSERT INTO big (id, t) SELECT 1, string_agg(md5(g::text), '') FROM generate_series(1, 327680) g`)
			s.exec(`INSERT INTO big (id, b) SELECT 2, decode(string_agg(md5(g::text), ''), 'hex') FROM generate_series(1, 655360) g`)

			var text, hex string
			s.scalar(&text, `SELECT t FROM big WHERE id = 1`)
			s.scalar(&hex, `SELECT '\x' || encode(b, 'hex') FROM big WHERE id = 2`)
			require.Len(t, text, 10485760)
			require.Len(t, hex, 2+2*10485760)

			var versions []int64
			for i, c := range s.changes() {
				var row struct{ T, B *string }
				require.NoError(t, json.Unmarshal([]byte(c.Row), &row))
				if i == 0 {
					require.True(t, row.T != nil && *row.T == text, "captured text equals the stored one")
				} else {
					require.True(t, row.B != nil && *row.B == hex, "captured bytea equals the stored one")
				}
				versions = append(versions, c.Version)
			}
			require.Len(t, versions, 2)
			switch mode {
			case "row":
				require.Equal(t, []string{strconv.FormatInt(versions[0], 10), strconv.FormatInt(versions[1], 10)},
					l.drain(t, s), "too large for a payload: announced by version")
			case "wakeup":
				require.Equal(t, []string{"", ""}, l.drain(t, s))
			default:
				require.Empty(t, l.drain(t, s))
			}
		})
	}
}
