package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/bench/internal/checksum"
	"github.com/pgfanout/pgfanout/bench/internal/workload"
)

// The copied table: bench/internal/workload's 5-column row table, ~300 bytes of JSON a row.
var (
	benchRows  = workload.Rows{Name: pgx.Identifier{"public", "bench"}}
	benchSpec  = checksum.Spec{Table: benchRows.Name, Columns: []string{"id", "account", "amount", "note", "created_at"}}
	noteBytes  = workload.NoteBytes(300)
	templateDB = "tmpl"
)

// Loads: the source idle, or written to by the writers throughout the copy.
const (
	loadIdle    = "idle"
	loadWriters = "4 writers"
)

type bench struct {
	o       options
	srv     *servers
	env     environment
	began   time.Time
	elapsed time.Duration
	seq     int // numbers the runs' databases
	results []result
	verify  *verifyResult
	tuple   int64 // the loaded table's bytes on disk (heap), for the report
}

// result is one measured copy.
type result struct {
	method, load string
	rows         int64         // the source table's rows when the copy began
	copy         time.Duration // from the start until the copy was done (idle: and equal)
	catchUp      time.Duration // writers: from their stop until the target equalled the source
	writes       int64         // the writers' statements during the copy
	cpu          cpuUsage
}

func (r result) rate() float64 { return float64(r.rows) / r.copy.Seconds() }

// method is one way of copying the table into an empty target database.
type method interface {
	// prepare sets up what the copy needs, untimed (capture, publisher, publication).
	prepare(ctx context.Context, r *runDBs) error
	// start begins the copy: the clock runs from its call.
	start(ctx context.Context, r *runDBs, progs *programs) error
	// done reports whether the copy is complete.
	done(ctx context.Context, r *runDBs) (bool, error)
	// streams: the target follows the source after the copy, so it ends equal under writes.
	streams() bool
	close(ctx context.Context, r *runDBs)
}

// runDBs are a run's databases: a fresh copy of the template on the source, an empty table
// on the target.
type runDBs struct {
	n              int
	srcDB, dstDB   string
	srcURL, dstURL string
}

func (b *bench) runAll(ctx context.Context) error {
	if err := b.loadTemplate(ctx); err != nil {
		return err
	}
	loads := []string{loadIdle, loadWriters}
	if b.o.idleOnly {
		loads = loads[:1]
	}
	for _, load := range loads {
		for _, m := range b.o.methods {
			res, err := b.runOne(ctx, m, load)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", m, load, err)
			}
			b.results = append(b.results, res)
			fmt.Printf("%-8s %-9s %8d rows in %7.2f s: %8.0f rows/s; catch-up %.2f s, %d writes; CPU %.1f s\n", m, load, res.rows,
				res.copy.Seconds(), res.rate(), res.catchUp.Seconds(), res.writes, res.cpu.total().Seconds())
		}
	}
	return nil
}

// loadTemplate creates the template database with the table's rows, frozen and analysed so
// that no copy of it pays for hint bits or statistics.
func (b *bench) loadTemplate(ctx context.Context) error {
	n := b.o.rows()
	fmt.Printf("loading %d rows into the template …\n", n)
	t0 := time.Now()
	if err := createDB(ctx, b.srv.src, templateDB, "", benchRows.Create()); err != nil {
		return err
	}
	conn, err := connect(ctx, b.srv.src.URL(templateDB))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := benchRows.Load(ctx, conn, n, 10_000, noteBytes); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `VACUUM (FREEZE, ANALYZE) `+benchRows.Name.Sanitize()); err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, `SELECT pg_relation_size($1::regclass)`, benchRows.Name.Sanitize()).Scan(&b.tuple); err != nil {
		return err
	}
	fmt.Printf("loaded in %s (%.0f MiB of heap)\n", time.Since(t0).Round(time.Second), float64(b.tuple)/(1<<20))
	return nil
}

func (b *bench) newMethod(name string) method {
	switch name {
	case methodPgfanout:
		return &fanMethod{b: b}
	case methodDump:
		return &dumpMethod{b: b}
	default:
		return &natMethod{b: b}
	}
}

// runOne copies the table once with method name under load, into fresh databases: a copy of
// the template on the source, an empty table on the target. After pgfanout's idle copy,
// `replicator verify` compares the two.
func (b *bench) runOne(ctx context.Context, name, load string) (result, error) {
	b.seq++
	r := &runDBs{n: b.seq, srcDB: fmt.Sprintf("src%d", b.seq), dstDB: fmt.Sprintf("dst%d", b.seq)}
	r.srcURL, r.dstURL = b.srv.src.URL(r.srcDB), b.srv.dst.URL(r.dstDB)
	if err := createDB(ctx, b.srv.src, r.srcDB, templateDB); err != nil {
		return result{}, err
	}
	defer func() { _ = dropDB(context.Background(), b.srv.src, r.srcDB) }()
	if err := createDB(ctx, b.srv.dst, r.dstDB, "", benchRows.Create()); err != nil {
		return result{}, err
	}
	defer func() { _ = dropDB(context.Background(), b.srv.dst, r.dstDB) }()
	m := b.newMethod(name)
	defer m.close(context.Background(), r)
	if err := m.prepare(ctx, r); err != nil {
		return result{}, err
	}
	res, err := b.measure(ctx, name, m, r, load)
	if err != nil {
		if o, ok := m.(interface{ output() string }); ok {
			err = fmt.Errorf("%w\nthe replicator's log:\n%s", err, o.output())
		}
		return res, err
	}
	if name == methodPgfanout && load == loadIdle && b.verify == nil {
		if b.verify, err = b.runVerify(ctx, r); err != nil {
			return res, err
		}
	}
	return res, nil
}

// measure times one copy: the writers started (and running a second before the clock
// starts), then the copy timed until it is done (idle: and the target equals the source by
// checksum); with writers, the time until the target equals the source after they stop is
// the catch-up.
func (b *bench) measure(ctx context.Context, name string, m method, r *runDBs, load string) (res result, err error) {
	if err := b.srv.checkpoint(ctx); err != nil {
		return res, err
	}
	res = result{method: name, load: load}
	if res.rows, err = count(ctx, r.srcURL); err != nil {
		return res, err
	}
	var w *writers
	if load == loadWriters {
		if w, err = startWriters(ctx, r.srcURL, b.o.rows(), b.o.writerRate); err != nil {
			return res, err
		}
		defer func() { _ = w.stop() }()
		if err := sleep(ctx, time.Second); err != nil {
			return res, err
		}
	}
	progs := &programs{}
	cpu, err := b.startCPU(ctx, progs)
	if err != nil {
		return res, err
	}
	defer func() {
		u, cerr := cpu.stop()
		res.cpu = u
		if err == nil && cerr != nil {
			err = fmt.Errorf("CPU accounting: %w", cerr)
		}
	}()
	started := w.statements()
	start := time.Now()
	if err := m.start(ctx, r, progs); err != nil {
		return res, err
	}
	if err := until(ctx, b.o.timeout, 50*time.Millisecond, func() (bool, error) { return m.done(ctx, r) }); err != nil {
		return res, fmt.Errorf("the copy: %w", err)
	}
	res.copy = time.Since(start)
	if w == nil {
		equal, err := b.equal(ctx, r, m.streams())
		if err != nil {
			return res, err
		}
		res.copy = equal.Sub(start)
		return res, nil
	}
	res.writes = w.statements() - started
	stopped := time.Now()
	if err := w.stop(); err != nil {
		return res, err
	}
	if !m.streams() {
		return res, nil // a snapshot's copy: nothing follows the source after it
	}
	equal, err := b.equal(ctx, r, true)
	if err != nil {
		return res, err
	}
	res.catchUp = equal.Sub(stopped)
	return res, nil
}

func (w *writers) statements() int64 {
	if w == nil {
		return 0
	}
	return w.count.Load()
}

// equal waits until the target table equals the source's by checksum (the source no longer
// changes) and returns the start of the first matching read: when the target's state was
// taken. A target that does not follow the source must be equal at once.
func (b *bench) equal(ctx context.Context, r *runDBs, follows bool) (time.Time, error) {
	src, err := connect(ctx, r.srcURL)
	if err != nil {
		return time.Time{}, err
	}
	defer src.Close(context.Background())
	dst, err := connect(ctx, r.dstURL)
	if err != nil {
		return time.Time{}, err
	}
	defer dst.Close(context.Background())
	type sum struct {
		s   checksum.Sum
		err error
	}
	want := make(chan sum, 1)
	go func() { s, err := checksum.Table(ctx, src, benchSpec); want <- sum{s, err} }()
	var w *sum
	deadline := time.Now().Add(b.o.timeout)
	for {
		at := time.Now()
		got, err := checksum.Table(ctx, dst, benchSpec)
		if err != nil {
			return time.Time{}, err
		}
		if w == nil {
			s := <-want
			if s.err != nil {
				return time.Time{}, s.err
			}
			w = &s
		}
		if got == w.s {
			return at, nil
		}
		took := time.Since(at)
		if !follows || time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("the target differs from the source: source %s, target %s", w.s, got)
		}
		if err := sleep(ctx, max(500*time.Millisecond, 2*took)); err != nil {
			return time.Time{}, err
		}
	}
}

func count(ctx context.Context, url string) (int64, error) {
	conn, err := connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int64
	err = conn.QueryRow(ctx, `SELECT count(*) FROM `+benchRows.Name.Sanitize()).Scan(&n)
	return n, err
}

// until polls cond every interval until it holds, fails, or timeout passes.
func until(ctx context.Context, timeout, interval time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done within %s", timeout)
		}
		if err := sleep(ctx, interval); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

var errFailed = errors.New("the copy failed")
