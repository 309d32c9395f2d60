package migrations_test

import (
	"encoding/json"
	"sort"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// A row's versions must grow in the order its changes committed: each UPDATE increments a
// counter, so sorted by version the captured counter values must be 1, 2, 3…
func TestVersionsIncreasePerRowAcrossTransactions(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(`CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL);
		INSERT INTO counter SELECT g, 0 FROM generate_series(1, 3) g;
		SELECT pgfanout.track('counter')`)
	const clients, updates = 4, 60
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(ctxT(t), s.url)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close(ctxT(t))
			for i := range updates {
				id := 1 + (c+i)%3
				if _, err := conn.Exec(ctxT(t), `UPDATE counter SET n = n + 1 WHERE id = $1`, id); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	byKey := map[string][]change{}
	for _, c := range s.changes() {
		byKey[c.Key] = append(byKey[c.Key], c)
	}
	require.Len(t, byKey, 3)
	total := 0
	for key, cs := range byKey {
		sort.Slice(cs, func(i, j int) bool { return cs[i].Version < cs[j].Version })
		for i, c := range cs {
			var row struct{ N int }
			require.NoError(t, json.Unmarshal([]byte(c.Row), &row))
			require.Equal(t, i+1, row.N, "key %s: change %d by version holds counter %d", key, i, row.N)
		}
		total += len(cs)
	}
	require.Equal(t, clients*updates, total)
}
