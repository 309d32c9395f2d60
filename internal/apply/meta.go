package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfanout/pgfanout/internal/dml"
	queries "github.com/pgfanout/pgfanout/sql"
)

// tableName identifies a table by the names the source captured.
type tableName struct{ schema, name string }

func (n tableName) String() string { return pgx.Identifier{n.schema, n.name}.Sanitize() }

func (n tableName) less(o tableName) bool {
	if n.schema != o.schema {
		return n.schema < o.schema
	}
	return n.name < o.name
}

// table is a replica table's catalog description plus what the apply path derives from it.
type table struct {
	dml.Table
	relid    uint32
	index    map[string]int // column name → position in Columns
	writable []string
	all      []string

	// SQL built once per table (and column set): pgx caches prepared statements by text.
	claimSQL, deleteRowsSQL       string
	keylessEventsSQL, truncateSQL string
	keylessApplySQL               string
	mu                            sync.Mutex
	upsertSQL                     map[string]string
	copySQL                       map[copyShape]string
	digestIndex                   bool // keyless: pgfanout's digest index exists

	// Names older row images may use (internal/follow records them when the source renames
	// or drops a column): an old name maps to the current one; a dropped column is ignored.
	aliases map[string]string
	ignored map[string]bool
}

// copyShape is what a chunk's statement depends on.
type copyShape struct {
	cols   string // the columns, joined
	bounds dml.Bounds
}

func newTable(relid uint32, t dml.Table) *table {
	tb := &table{Table: t, relid: relid, index: make(map[string]int, len(t.Columns))}
	for i, c := range t.Columns {
		tb.index[c.Name] = i
	}
	tb.writable = tb.Writable()
	tb.all = tb.AllColumns()
	tb.upsertSQL = map[string]string{}
	tb.copySQL = map[copyShape]string{}
	if tb.Keyless() {
		tb.keylessEventsSQL = dml.KeylessEvents(&tb.Table)
		tb.keylessApplySQL = dml.KeylessApply(&tb.Table)
		tb.truncateSQL = dml.TruncateKeyless(&tb.Table)
	} else {
		tb.claimSQL = dml.Claim(&tb.Table)
		tb.deleteRowsSQL = dml.DeleteRows(&tb.Table)
		tb.truncateSQL = dml.TruncateKeyed(&tb.Table)
	}
	return tb
}

// upsert returns the upsert statement for the columns of signature sig.
func (t *table) upsert(sig string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.upsertSQL[sig]
	if !ok {
		s = dml.Upsert(&t.Table, t.groupColumns(sig))
		t.upsertSQL[sig] = s
	}
	return s
}

func (t *table) hasDigestIndex() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.digestIndex
}

func (t *table) setDigestIndex() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.digestIndex = true
}

// copy returns the statement applying a chunk whose rows carry cols.
func (t *table) copy(cols []string, r dml.Bounds) string {
	k := copyShape{cols: strings.Join(cols, "\x00"), bounds: r}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.copySQL[k]
	if !ok {
		s = dml.CopyChunk(&t.Table, cols, r)
		t.copySQL[k] = s
	}
	return s
}

// catalog caches table descriptions; entries are dropped when applying to the table fails, so a
// column added on the replica is picked up by the retry.
type catalog struct {
	pool   *pgxpool.Pool
	mu     sync.Mutex
	tables map[tableName]*table
}

func newCatalog(pool *pgxpool.Pool) *catalog {
	return &catalog{pool: pool, tables: make(map[tableName]*table)}
}

// lookup returns the cached description or loads it. A missing table is a *DataError.
func (c *catalog) lookup(ctx context.Context, n tableName) (*table, error) {
	c.mu.Lock()
	t, ok := c.tables[n]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := c.load(ctx, n)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.tables[n] = t
	c.mu.Unlock()
	return t, nil
}

func (c *catalog) forget(names []tableName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range names {
		delete(c.tables, n)
	}
}

func (c *catalog) load(ctx context.Context, n tableName) (*table, error) {
	rows, err := c.pool.Query(ctx, dml.Catalog, n.schema, n.name)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", n, err)
	}
	relid, t, err := dml.ScanCatalog(rows, n.schema, n.name)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", n, err)
	}
	if t == nil {
		return nil, dataErrorf("table %s does not exist on the replica", n)
	}
	tb := newTable(relid, *t)
	if err := c.loadNames(ctx, n, tb); err != nil {
		return nil, fmt.Errorf("describe %s: %w", n, err)
	}
	return tb, nil
}

// loadNames reads the names older images of the table may use (none for a table whose shape
// never changed).
func (c *catalog) loadNames(ctx context.Context, n tableName, tb *table) error {
	var raw []byte
	err := c.pool.QueryRow(ctx, queries.ShapeNames, n.schema, n.name).Scan(&raw)
	var pgErr *pgconn.PgError
	if errors.Is(err, pgx.ErrNoRows) || errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return nil // never renamed or dropped anything; or no bookkeeping yet (verify reads only)
	}
	if err != nil {
		return err
	}
	var names struct {
		Aliases map[string]string `json:"aliases"`
		Ignored []string          `json:"ignored"`
	}
	if err := json.Unmarshal(raw, &names); err != nil {
		return err
	}
	for old, cur := range names.Aliases {
		if _, ok := tb.index[cur]; ok {
			if tb.aliases == nil {
				tb.aliases = map[string]string{}
			}
			tb.aliases[old] = cur
		}
	}
	for _, name := range names.Ignored {
		if _, live := tb.index[name]; !live {
			if tb.ignored == nil {
				tb.ignored = map[string]bool{}
			}
			tb.ignored[name] = true
		}
	}
	return nil
}
