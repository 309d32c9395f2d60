package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The tracked tables, the same on the source and both replicas. events has no primary key;
// beat is the lag probe's (lag_test.go).
const schemaDDL = `
CREATE TABLE accounts (id bigint PRIMARY KEY, owner int NOT NULL, balance numeric NOT NULL, note text,
                       updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE docs (id int PRIMARY KEY, rev int NOT NULL, body text, meta jsonb);
CREATE TABLE events (kind text NOT NULL, ref bigint, payload text);
CREATE TABLE scratch (id bigint PRIMARY KEY, v text);
CREATE TABLE beat (id int PRIMARY KEY, n bigint NOT NULL, at timestamptz NOT NULL);`

func trackedTables() []string { return []string{"accounts", "docs", "events", "scratch", "beat"} }

// captureCounter counts, on the source, every change the capture writes to the change log,
// by table and op, in the writing transaction: what was committed, exactly, in-doubt commits
// included. The publisher deletes the log; this table is not tracked.
const captureCounter = `
CREATE TABLE chaos_captured (table_name text, op "char", n int);
CREATE FUNCTION chaos_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.chaos_captured VALUES (NEW.table_name, NEW.op, NEW.n);
    RETURN NULL;
END $$;
CREATE TRIGGER chaos_count AFTER INSERT ON pgfanout.changes FOR EACH ROW EXECUTE FUNCTION chaos_count();`

// seedRows is what the source holds before the replicators start: they copy it (bootstrap).
const seedRows = `
INSERT INTO accounts (id, owner, balance, note)
    SELECT c * 1000000000000 + g, c, g % 1000, md5(g::text) FROM generate_series(0, 3) c, generate_series(1, 5000) g;
INSERT INTO docs SELECT g, 1, repeat(md5(g::text), 100 + g * 2), jsonb_build_object('seed', g) FROM generate_series(1, 200) g;
INSERT INTO events SELECT 'seed', (g % 4) * 1000000 + g % 500, 'p' || g % 7 FROM generate_series(1, 2000) g;
INSERT INTO scratch SELECT g, 'seed' FROM generate_series(1, 500) g;
INSERT INTO beat VALUES (1, 0, now());`

// Per client: accounts ids from clientBase*c, events refs from c*1e6; 5000 seeded accounts.
const (
	clientBase  = 1_000_000_000_000
	seededPerID = 5000
	bigDocBase  = 100_000 // docs of 5 MB: ids from here
)

// workStats are the workload's counts, as the clients saw them.
type workStats struct {
	tx          atomic.Int64 // transactions committed (acknowledged)
	changes     atomic.Int64 // rows they changed, a truncate counting 1
	interrupted atomic.Int64 // statements cut off by a fault (the source went away)
	inDoubt     atomic.Int64 // of those, commits whose outcome the client cannot know
	aborted     atomic.Int64 // deadlocks and serialization failures
	truncates   atomic.Int64
	big         atomic.Int64 // 5 MB rows written
	over8k      atomic.Int64 // rows over 8 kB written
	mu          sync.Mutex
	unexpected  []string // any other error: a failure of the run
}

func (s *workStats) unexpectedErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.unexpected) < 20 {
		s.unexpected = append(s.unexpected, err.Error())
	}
}

// workload is the four clients.
type workload struct {
	url    string
	seed   uint64
	length time.Duration // how long the plan of truncates and 5 MB rows spans
	stats  workStats
}

// run runs every client until ctx ends.
func (w *workload) run(ctx context.Context, clients int) {
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() { w.client(ctx, c) })
	}
	wg.Wait()
}

// clientState is one client's view: its own rand, connection and next fresh id.
type clientState struct {
	id   int
	r    *rand.Rand
	conn *pgx.Conn
	base int64
	next int64 // fresh account ids: base + next, next + 1, …
	w    *workload
}

// planned are a client's occasional writes: client 1 truncates scratch every 20–40 s,
// client 2 events every 45–75 s, client 0 writes the 5 MB rows, spread over the run.
type planned struct {
	at time.Duration
	op func(ctx context.Context, c *clientState) (int64, error)
}

func (w *workload) plan(c int, r *rand.Rand) []planned {
	var out []planned
	switch c {
	case 1, 2:
		lo, hi := 20*time.Second, 40*time.Second
		op := truncateScratch
		if c == 2 {
			lo, hi, op = 45*time.Second, 75*time.Second, truncateEvents
		}
		for t := between(r, lo, hi); t < w.length; t += between(r, lo, hi) {
			out = append(out, planned{at: t, op: op})
		}
	case 0:
		n := max(2, int(w.length/(80*time.Second)))
		for i := range n {
			out = append(out, planned{at: w.length * time.Duration(2*i+1) / time.Duration(2*n), op: bigDocOp(i)})
		}
	}
	return out
}

func (w *workload) client(ctx context.Context, id int) {
	r := rand.New(rand.NewPCG(w.seed, uint64(100+id)))
	c := &clientState{id: id, r: r, base: int64(id) * clientBase, next: seededPerID + 1, w: w}
	defer func() {
		if c.conn != nil {
			_ = c.conn.Close(context.Background())
		}
	}()
	todo := w.plan(id, r)
	start := time.Now()
	pace := time.NewTicker(15 * time.Millisecond) // the workload's rate: about 65 transactions/s per client
	defer pace.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			return
		case <-pace.C:
		}
		if c.conn == nil && !c.connect(ctx) {
			continue
		}
		op := randomOp(r)
		if len(todo) > 0 && time.Since(start) >= todo[0].at {
			op, todo = todo[0].op, todo[1:]
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := op(sctx, c)
		cancel()
		c.done(ctx, n, err)
	}
}

func (c *clientState) connect(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, c.w.url)
	if err != nil {
		return false // the source is down: the pace ticker retries
	}
	c.conn = conn
	return true
}

// done counts an operation's outcome. A connection error drops the connection; an error on
// a commit (or a lone statement, which commits itself) leaves its outcome unknown to the
// client: the source's own count (chaos_captured) knows.
func (c *clientState) done(ctx context.Context, n int64, err error) {
	s := &c.w.stats
	if err == nil {
		s.tx.Add(1)
		s.changes.Add(n)
		return
	}
	if ctx.Err() != nil {
		return
	}
	var pgErr *pgconn.PgError
	byServer := errors.As(err, &pgErr)
	switch {
	case byServer && (pgErr.Code == "40P01" || pgErr.Code == "40001"):
		s.aborted.Add(1)
		return
	case byServer && !slices.Contains([]string{"57", "08", "53"}, pgErr.Code[:2]),
		// Not the server's verdict and the connection still open: the statement never left
		// the client (say, an argument pgx cannot encode), which no fault explains. A cut
		// connection or a timeout closes it.
		!byServer && !c.conn.IsClosed():
		s.unexpectedErr(fmt.Errorf("client %d: %w", c.id, err))
		return
	}
	// The server shutting down (57P01, 57P02), refusing connections, or the connection gone.
	s.interrupted.Add(1)
	var doubt inDoubt
	if !byServer && errors.As(err, &doubt) {
		s.inDoubt.Add(1)
	}
	_ = c.conn.Close(context.Background())
	c.conn = nil
}

// inDoubt marks an error from a commit.
type inDoubt struct{ err error }

func (e inDoubt) Error() string { return e.err.Error() }
func (e inDoubt) Unwrap() error { return e.err }

// exec runs one statement in a transaction of its own.
func (c *clientState) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := c.conn.Exec(ctx, sql, args...)
	if err != nil {
		return 0, inDoubt{err}
	}
	return tag.RowsAffected(), nil
}

// own is a random account id of this client's (it may have been deleted or moved: then the
// statement changes nothing).
func (c *clientState) own() int64 { return c.base + 1 + c.r.Int64N(c.next) }

func (c *clientState) fresh(n int64) int64 {
	id := c.base + c.next
	c.next += n
	return id
}

type op func(ctx context.Context, c *clientState) (int64, error)

// randomOp draws the next operation by weight.
func randomOp(r *rand.Rand) op {
	ops := []struct {
		weight int
		op     op
	}{
		{22, insertAccounts}, {22, updateAccount}, {6, updateAccounts}, {8, deleteAccount}, {2, deleteAccounts},
		{6, moveKeys}, {8, upsertDoc}, {2, deleteDoc}, {10, insertEvents}, {4, deleteEvent}, {2, updateEvents},
		{6, insertScratch}, {4, multiTable},
	}
	weights := make([]int, len(ops))
	for i, o := range ops {
		weights[i] = o.weight
	}
	return ops[pick(r, weights)].op
}

func insertAccounts(ctx context.Context, c *clientState) (int64, error) {
	n := 1 + c.r.Int64N(5)
	width := 1 // × 32 characters of note
	if c.r.IntN(20) == 0 {
		width = 300 + c.r.IntN(300) // 9.6–19 kB
		c.w.stats.over8k.Add(n)
	}
	return c.exec(ctx, `INSERT INTO accounts (id, owner, balance, note)
		SELECT $1::bigint + g, $2::int, round((random() * 1000)::numeric, 2), repeat(md5($1::text || g), $3::int)
		FROM generate_series(0, $4::int - 1) g`, c.fresh(n), c.id, width, n)
}

func updateAccount(ctx context.Context, c *clientState) (int64, error) {
	width := 0
	if c.r.IntN(20) == 0 {
		width = 300 + c.r.IntN(300)
		c.w.stats.over8k.Add(1)
	}
	return c.exec(ctx, `UPDATE accounts SET balance = balance + $2, updated_at = clock_timestamp(),
		note = CASE WHEN $3::int > 0 THEN repeat(md5(id::text || $2), $3::int) ELSE note END WHERE id = $1`,
		c.own(), c.r.IntN(100)-50, width)
}

func updateAccounts(ctx context.Context, c *clientState) (int64, error) {
	return c.exec(ctx, `UPDATE accounts SET balance = balance * 1.01, updated_at = clock_timestamp()
		WHERE id BETWEEN $1 AND $1 + 20`, c.own())
}

func deleteAccount(ctx context.Context, c *clientState) (int64, error) {
	return c.exec(ctx, `DELETE FROM accounts WHERE id = $1`, c.own())
}

func deleteAccounts(ctx context.Context, c *clientState) (int64, error) {
	return c.exec(ctx, `DELETE FROM accounts WHERE id BETWEEN $1 AND $1 + 5`, c.own())
}

// moveKeys changes primary keys: one row, or four at once, to fresh ids (each a delete of the
// old key and an upsert of the new one on the replica).
func moveKeys(ctx context.Context, c *clientState) (int64, error) {
	from := c.own()
	if c.r.IntN(2) == 0 {
		return c.exec(ctx, `UPDATE accounts SET id = $2 WHERE id = $1`, from, c.fresh(1))
	}
	return c.exec(ctx, `UPDATE accounts SET id = id - $1 + $2 WHERE id BETWEEN $1 AND $1 + 3`, from, c.fresh(4))
}

// upsertDoc writes a row over 8 kB (8–41 kB of text) into one of 300 shared docs.
func upsertDoc(ctx context.Context, c *clientState) (int64, error) {
	n, err := c.exec(ctx, `INSERT INTO docs (id, rev, body, meta)
		VALUES ($1, 1, repeat(md5($2::bigint::text), $3::int), jsonb_build_object('client', $4::int, 'n', $2::bigint))
		ON CONFLICT (id) DO UPDATE SET rev = docs.rev + 1, body = excluded.body, meta = excluded.meta`,
		1+c.r.IntN(300), c.r.Int64(), 250+c.r.IntN(1050), c.id)
	c.w.stats.over8k.Add(n)
	return n, err
}

func deleteDoc(ctx context.Context, c *clientState) (int64, error) {
	return c.exec(ctx, `DELETE FROM docs WHERE id = $1`, 1+c.r.IntN(300))
}

// eventRef is a ref of this client's events: few, so that images repeat.
func (c *clientState) eventRef() int64 { return int64(c.id)*1_000_000 + c.r.Int64N(500) }

// insertEvents inserts 1–3 copies of one image into the keyless table.
func insertEvents(ctx context.Context, c *clientState) (int64, error) {
	kinds := []string{"click", "view", "buy"}
	return c.exec(ctx, `INSERT INTO events SELECT $1, $2::bigint, $3 FROM generate_series(1, $4::int)`,
		kinds[c.r.IntN(3)], c.eventRef(), fmt.Sprintf("p%d", c.r.IntN(7)), 1+c.r.IntN(3))
}

// deleteEvent deletes one copy of an image.
func deleteEvent(ctx context.Context, c *clientState) (int64, error) {
	return c.exec(ctx, `DELETE FROM events WHERE ctid = (SELECT ctid FROM events WHERE ref = $1 LIMIT 1)`, c.eventRef())
}

func updateEvents(ctx context.Context, c *clientState) (int64, error) {
	return c.exec(ctx, `UPDATE events SET payload = $2 WHERE ref = $1`, c.eventRef(), fmt.Sprintf("u%d", c.r.IntN(7)))
}

func insertScratch(ctx context.Context, c *clientState) (int64, error) {
	n := 1 + c.r.Int64N(10)
	return c.exec(ctx, `INSERT INTO scratch SELECT $1::bigint + g, $2 FROM generate_series(0, $3::int - 1) g`,
		c.fresh(n), fmt.Sprintf("c%d", c.id), n)
}

func truncateScratch(ctx context.Context, c *clientState) (int64, error) {
	return c.truncate(ctx, "scratch")
}
func truncateEvents(ctx context.Context, c *clientState) (int64, error) {
	return c.truncate(ctx, "events")
}

func (c *clientState) truncate(ctx context.Context, table string) (int64, error) {
	if _, err := c.exec(ctx, "TRUNCATE "+pgx.Identifier{table}.Sanitize()); err != nil {
		return 0, err
	}
	c.w.stats.truncates.Add(1)
	return 1, nil
}

// multiTable changes three tables in one transaction.
func multiTable(ctx context.Context, c *clientState) (int64, error) {
	tx, err := c.conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	var n int64
	for _, s := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO accounts (id, owner, balance, note) VALUES ($1, $2, 0, 'multi')`, []any{c.fresh(1), c.id}},
		{`INSERT INTO events VALUES ('multi', $1, 'm')`, []any{c.eventRef()}},
		{`UPDATE docs SET rev = rev + 1, meta = jsonb_build_object('multi', $2::int) WHERE id = $1`, []any{1 + c.r.IntN(300), c.id}},
	} {
		tag, err := tx.Exec(ctx, s.sql, s.args...)
		if err != nil {
			return 0, err
		}
		n += tag.RowsAffected()
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, inDoubt{err}
	}
	return n, nil
}

// bigDocOp is the i-th write of a 5 MB row: even ones insert a new row, the others update
// or delete the row the one before inserted, in turn.
func bigDocOp(i int) op {
	return func(ctx context.Context, c *clientState) (int64, error) {
		const size = 5 << 20 / 32 // × 32 characters
		id := bigDocBase + i - i%2
		switch i % 4 {
		case 0, 2:
			n, err := c.exec(ctx, `INSERT INTO docs VALUES ($1, 1, repeat(md5($2::bigint::text), $3::int), '{"big": true}')`, id, c.r.Int64(), size)
			c.w.stats.big.Add(n)
			return n, err
		case 1:
			n, err := c.exec(ctx, `UPDATE docs SET rev = rev + 1, body = repeat(md5($2::bigint::text), $3::int) WHERE id = $1`, id, c.r.Int64(), size)
			c.w.stats.big.Add(n)
			return n, err
		default:
			return c.exec(ctx, `DELETE FROM docs WHERE id = $1`, id)
		}
	}
}
