package apply

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/rawjson"
)

// plan is one batch's work grouped by table, tables in name order: every transaction locks
// tables in the same order, so overlapping batches of several replicators cannot deadlock on
// them.
type plan struct {
	tables []*tablePlan
}

// imageList holds changes as the parallel arrays the statements take. images point into
// the messages' bodies (pgx sends each as text), which outlive the batch's statements.
type imageList struct {
	versions []int64
	images   [][]byte
}

func (im *imageList) add(version int64, raw []byte) {
	im.versions = append(im.versions, version)
	im.images = append(im.images, raw)
}

// claimList is every keyed change of a table, for the statement that takes the keys'
// bookkeeping: images hold at least the key columns.
type claimList struct {
	imageList
	txids   []int64 // source transactions (xid8, which stays far below 2^63)
	deleted []bool
}

func (cl *claimList) grow(n int) {
	cl.versions = make([]int64, 0, n)
	cl.images = make([][]byte, 0, n)
	cl.txids = make([]int64, 0, n)
	cl.deleted = make([]bool, 0, n)
}

func (cl *claimList) add(c *change.Change, img []byte, deleted bool) {
	cl.imageList.add(c.Version, img)
	cl.txids = append(cl.txids, int64(c.TxID))
	cl.deleted = append(cl.deleted, deleted)
}

// tablePlan is the batch's changes of one table.
type tablePlan struct {
	name     tableName
	t        *table
	changes  int
	truncate int64                   // newest truncate version, 0 if none
	truncTx  int64                   // its source transaction
	upserts  map[string]*upsertGroup // keyed: by the set of columns the rows carry
	deletes  imageList               // keyed: key images
	claims   claimList               // keyed: every change, upserts and deletes
	keyless  imageList               // keyless: row images (+1) and old-row images (-1)
	ktxids   []int64
	deltas   []int32
	kdeletes bool        // a keyless event removes a copy: the table needs its digest index
	images   imageCounts // keyless: images whose new events change their count
	scratch  []byte
	stopped  bool // the table's stream is stopped: its changes are dropped (stops.go)
}

// imageCounts are the images of a keyless table whose count this batch changes.
type imageCounts struct {
	digests [][]byte
	deltas  []int32
	texts   []*string // an image text to insert copies from (nil when none is added)
}

type upsertGroup struct {
	sig string
	imageList
}

type lookupFunc func(tableName) (*table, error)

// buildPlan groups changes by table and validates each against the replica's columns. An
// invalid change is a *DataError naming the table and version.
func buildPlan(changes []change.Change, lookup lookupFunc) (*plan, error) {
	byName := map[tableName]*tablePlan{}
	p := &plan{}
	counts := map[tableName]int{} // to size each table's claims once
	for i := range changes {
		counts[tableName{changes[i].Schema, changes[i].Table}]++
	}
	for i := range changes {
		c := &changes[i]
		n := tableName{c.Schema, c.Table}
		tp := byName[n]
		if tp == nil {
			t, err := lookup(n)
			if err != nil {
				return nil, err
			}
			tp = &tablePlan{name: n, t: t, upserts: map[string]*upsertGroup{}}
			if !t.Keyless() {
				tp.claims.grow(counts[n])
			}
			byName[n] = tp
			p.tables = append(p.tables, tp)
		}
		if err := tp.add(c); err != nil {
			return nil, &DataError{Err: fmt.Errorf("%s version %d: %w", n, c.Version, err)}
		}
	}
	sort.Slice(p.tables, func(i, j int) bool { return p.tables[i].name.less(p.tables[j].name) })
	return p, nil
}

func (tp *tablePlan) add(c *change.Change) error {
	tp.changes++
	if len(tp.t.aliases) > 0 {
		var err error
		if c, err = tp.t.currentNames(c); err != nil {
			return err
		}
	}
	switch c.Op {
	case change.Truncate:
		if c.Version > tp.truncate {
			tp.truncate, tp.truncTx = c.Version, int64(c.TxID)
		}
		return nil
	case change.Insert, change.Update:
		if tp.t.Keyless() {
			return tp.addKeyless(c, c.Row, 1)
		}
		return tp.addUpsert(c)
	case change.Delete:
		if tp.t.Keyless() {
			return tp.addKeyless(c, c.Key, -1)
		}
		if _, err := tp.columns(c.Key, true); err != nil {
			return fmt.Errorf("delete key: %w", err)
		}
		tp.deletes.add(c.Version, c.Key)
		tp.claims.add(c, c.Key, true)
		return nil
	}
	return fmt.Errorf("unknown op %q", c.Op)
}

func (tp *tablePlan) addUpsert(c *change.Change) error {
	set, err := tp.columns(c.Row, true)
	if err != nil {
		return fmt.Errorf("%s row: %w", c.Op, err)
	}
	g := tp.upserts[string(set)] // no allocation: most rows join an existing group
	if g == nil {
		g = &upsertGroup{sig: string(set)}
		tp.upserts[g.sig] = g
	}
	g.add(c.Version, c.Row)
	// The bookkeeping needs only the key: parse the small key object when it holds the
	// replica's key columns (it does when both sides have the same primary key).
	key := c.Row
	if _, err := tp.columns(c.Key, true); err == nil {
		key = c.Key
	}
	tp.claims.add(c, key, false)
	return nil
}

func (tp *tablePlan) addKeyless(c *change.Change, img []byte, delta int32) error {
	if delta > 0 && !isNull(c.Key) {
		return errors.New("the source table has a primary key but the replica table has none")
	}
	if _, err := tp.columns(img, false); err != nil {
		return fmt.Errorf("%s image: %w", c.Op, err)
	}
	tp.keyless.add(c.Version, img)
	tp.ktxids = append(tp.ktxids, int64(c.TxID))
	tp.deltas = append(tp.deltas, delta)
	tp.kdeletes = tp.kdeletes || delta < 0
	return nil
}

// columns checks that every key of the JSON object raw is a replica column and, if needKey,
// that the primary key columns are all there. It returns the set of writable columns present
// as a bitmap, the signature upserts are grouped by; the bitmap is reused by the next call.
func (tp *tablePlan) columns(raw []byte, needKey bool) ([]byte, error) {
	n := (len(tp.t.Columns) + 7) / 8
	if cap(tp.scratch) < n {
		tp.scratch = make([]byte, n)
	}
	set := tp.scratch[:n]
	clear(set)
	// A member's name points into raw (only a name with escapes is decoded into a copy), so
	// the lookup by string(key) allocates nothing.
	s := rawjson.New(raw)
	_, err := s.Object(func(m rawjson.Member) error {
		key, err := m.Text()
		if err != nil {
			return err
		}
		i, ok := tp.t.index[string(key)]
		if !ok {
			switch cur, renamed := tp.t.aliases[string(key)]; {
			case renamed: // an image from before a RENAME: add renames its members first
				i = tp.t.index[cur]
			case tp.t.ignored[string(key)]:
				return nil // a column the source dropped, in an image from before
			default:
				return fmt.Errorf("column %q does not exist in the replica table", key)
			}
		}
		if !tp.t.Columns[i].Generated {
			set[i/8] |= 1 << (i % 8)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if needKey {
		for _, k := range tp.t.Key {
			if i := tp.t.index[k]; set[i/8]&(1<<(i%8)) == 0 {
				return nil, fmt.Errorf("primary key column %q is missing", k)
			}
		}
	}
	return set, nil
}

// groupColumns lists the columns of a signature in table order.
func (t *table) groupColumns(sig string) []string {
	var cols []string
	for i, c := range t.Columns {
		if i/8 < len(sig) && sig[i/8]&(1<<(i%8)) != 0 {
			cols = append(cols, c.Name)
		}
	}
	return cols
}

func isNull(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// sortedGroups returns the upsert groups in signature order, so statements are issued in a
// stable order.
func (tp *tablePlan) sortedGroups() []*upsertGroup {
	gs := make([]*upsertGroup, 0, len(tp.upserts))
	for _, g := range tp.upserts {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].sig < gs[j].sig })
	return gs
}
