package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/bench/internal/logicalrep"
)

// markerTable is the native pipelines' progress marker: the apply worker commits in source
// commit order, so a marker row committed after a run's writes is visible on a subscriber
// only once everything before it is.
const markerTable = "bench_marker"

const markerDDL = `CREATE TABLE ` + markerTable + ` (id bigint PRIMARY KEY)`

// natPipe is native logical replication: a publication of the tables in the source
// database, and one subscription (with its own publication and slot) per subscriber database.
type natPipe struct {
	srv    *servers
	srcDB  string
	srcURL string
	ctl    *pgx.Conn // to the source database: markers, publications, slots
	tables []pgx.Identifier
	subs   []*natReplica
	marker int64
}

type natReplica struct {
	db, url string
	conn    *pgx.Conn // the subscription's control connection, and the tracker's
	sub     *logicalrep.Subscription
}

// newNatPipe subscribes subscriber database repDB (existing, with the same tables and the
// marker table) to tables of source database srcDB and starts the apply worker. Only changes
// from now on travel (no initial copy): both sides start equal.
func newNatPipe(ctx context.Context, srv *servers, srcDB, repDB string, tables []string) (*natPipe, error) {
	p := &natPipe{srv: srv, srcDB: srcDB, srcURL: srv.natSrc.URL(srcDB)}
	for _, t := range append(tables, markerTable) {
		p.tables = append(p.tables, pgx.Identifier{"public", t})
	}
	var err error
	if p.ctl, err = connect(ctx, p.srcURL, controlApp); err != nil {
		return nil, err
	}
	if err := p.subscribe(ctx, repDB); err != nil {
		p.close(ctx)
		return nil, err
	}
	return p, nil
}

func (p *natPipe) subscribe(ctx context.Context, db string) error {
	r := &natReplica{db: db, url: p.srv.natSub.URL(db)}
	var err error
	if r.conn, err = connect(ctx, r.url, controlApp); err != nil {
		return err
	}
	if r.sub, err = logicalrep.Create(ctx, p.ctl, r.conn, logicalrep.Config{Name: p.subName(db), Tables: p.tables,
		ConnInfo: p.srv.natSrc.ConnInfo(p.srcDB)}); err != nil {
		r.conn.Close(ctx)
		return err
	}
	p.subs = append(p.subs, r)
	if err := r.sub.Enable(ctx); err != nil {
		return err
	}
	return p.streaming(ctx, db)
}

// subName names a subscription, its publication and its slot after the two databases.
func (p *natPipe) subName(db string) string { return "bench_" + p.srcDB + "_" + db }

// streaming waits until the subscription's walsender holds its slot.
func (p *natPipe) streaming(ctx context.Context, db string) error {
	for deadline := time.Now().Add(time.Minute); ; {
		var active bool
		err := p.ctl.QueryRow(ctx, `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, p.subName(db)).Scan(&active)
		if err != nil {
			return fmt.Errorf("slot of %s: %w", db, err)
		}
		if active {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("subscription of %s not streaming within a minute", db)
		}
		time.Sleep(50 * time.Millisecond) // polling the slot
	}
}

func (p *natPipe) name() string      { return "native" }
func (p *natPipe) sourceURL() string { return p.srcURL }

func (p *natPipe) replicaURLs() []string {
	var out []string
	for _, r := range p.subs {
		out = append(out, r.url)
	}
	return out
}

func (p *natPipe) pause(ctx context.Context) error { return p.subs[0].sub.Disable(ctx) }

func (p *natPipe) resume(ctx context.Context) error { return p.subs[0].sub.Enable(ctx) }

func (p *natPipe) addReplica(ctx context.Context, ddl []string) error {
	db := fmt.Sprintf("rep%d", len(p.subs)+1)
	if err := createDB(ctx, p.srv.natSub, db, "", append(ddl, markerDDL)...); err != nil {
		return err
	}
	return p.subscribe(ctx, db)
}

func (p *natPipe) dropReplicas(ctx context.Context) error {
	extra := p.subs[1:]
	p.subs = p.subs[:1]
	for _, r := range extra {
		if err := logicalrep.Drop(ctx, p.ctl, r.conn, p.subName(r.db)); err != nil {
			return err
		}
		r.conn.Close(ctx)
		if err := dropDB(ctx, p.srv.natSub, r.db); err != nil {
			return err
		}
	}
	return nil
}

// close drops every subscription with its slot and publication.
func (p *natPipe) close(ctx context.Context) {
	for _, r := range p.subs {
		_ = logicalrep.Drop(ctx, p.ctl, r.conn, p.subName(r.db))
		r.conn.Close(ctx)
	}
	p.subs = nil
	if p.ctl != nil {
		p.ctl.Close(ctx)
	}
}

func (p *natPipe) scope() cpuScope {
	return cpuScope{clusters: []scopeCluster{{"native: source", p.srv.natSrc}, {"native: subscriber", p.srv.natSub}}}
}

// natTracker waits for a marker row.
type natTracker struct {
	p  *natPipe
	id int64
}

func (p *natPipe) begin(context.Context) (tracker, error) { return &natTracker{p: p}, nil }

func (t *natTracker) committed(ctx context.Context, _ int64) error {
	t.p.marker++
	t.id = t.p.marker
	if _, err := t.p.ctl.Exec(ctx, `INSERT INTO `+markerTable+` VALUES ($1)`, t.id); err != nil {
		return fmt.Errorf("commit marker %d: %w", t.id, err)
	}
	return nil
}

func (t *natTracker) applied(ctx context.Context, i int) (bool, error) {
	var ok bool
	err := t.p.subs[i].conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM `+markerTable+` WHERE id = $1)`, t.id).Scan(&ok)
	return ok, err
}
