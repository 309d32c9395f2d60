package verify

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/sourcetest"
)

// BenchmarkVerify compares a table of ~300-byte rows (1M unless PGFANOUT_BENCH_VERIFY_ROWS
// says) with an equal replica on the same server, and reports the rows compared per second:
//
//	go test -run '^$' -bench Verify -benchtime 3x ./internal/verify
func BenchmarkVerify(b *testing.B) {
	rows := 1_000_000
	if s := os.Getenv("PGFANOUT_BENCH_VERIFY_ROWS"); s != "" {
		var err error
		rows, err = strconv.Atoi(s)
		require.NoError(b, err)
	}
	ddl := `CREATE TABLE big (id bigint PRIMARY KEY, k int NOT NULL, pad text, n numeric)`
	fill := fmt.Sprintf(`INSERT INTO big SELECT g, g %% 1000, repeat(md5(g::text), 8), g / 7.0 FROM generate_series(1, %d) g`, rows)
	r := newRig(b, ddl)
	sourcetest.Exec(b, r.src, fill, `VACUUM ANALYZE big`, `SELECT pgfanout.track('big')`)
	sourcetest.Exec(b, r.rep, fill, `VACUUM ANALYZE big`)
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			var comparing time.Duration
			n := 0
			for b.Loop() {
				rep := r.verify(b, Config{Workers: workers})
				require.True(b, rep.Equal(), "%+v", rep.Tables)
				require.Equal(b, int64(rows), rep.Tables[0].Rows)
				comparing += rep.Comparing
				n++
			}
			// The comparison alone; ns/op also counts planning (listing, describing and
			// cutting the table into ranges).
			b.ReportMetric(float64(n*rows)/comparing.Seconds(), "rows/s")
		})
	}
}
