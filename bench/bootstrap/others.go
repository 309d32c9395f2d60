package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/bench/internal/logicalrep"
)

// dumpMethod is `pg_dump --data-only -t public.bench | psql` into the empty table: one
// snapshot's rows through COPY, nothing followed after.
type dumpMethod struct{ b *bench }

func (m *dumpMethod) streams() bool                               { return false }
func (m *dumpMethod) prepare(context.Context, *runDBs) error      { return nil }
func (m *dumpMethod) done(context.Context, *runDBs) (bool, error) { return true, nil }
func (m *dumpMethod) close(context.Context, *runDBs)              {}
func (m *dumpMethod) start(ctx context.Context, r *runDBs, progs *programs) error {
	s := m.b.srv
	dump := exec.CommandContext(ctx, s.pgDump, "--data-only", "-t", benchRows.Name.Sanitize(), "-d", r.srcURL)
	load := exec.CommandContext(ctx, s.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", r.dstURL)
	pipe, err := dump.StdoutPipe()
	if err != nil {
		return err
	}
	load.Stdin = pipe
	var dumpErr, loadErr bytes.Buffer
	dump.Stderr, load.Stderr = &dumpErr, &loadErr
	if err := load.Start(); err != nil {
		return fmt.Errorf("psql: %w", err)
	}
	progs.add(load.Process.Pid)
	if err := dump.Start(); err != nil {
		_ = load.Process.Kill()
		_ = load.Wait()
		return fmt.Errorf("pg_dump: %w", err)
	}
	progs.add(dump.Process.Pid)
	derr := dump.Wait()
	lerr := load.Wait()
	if derr != nil {
		return fmt.Errorf("pg_dump: %w: %s", derr, dumpErr.String())
	}
	if lerr != nil {
		return fmt.Errorf("psql: %w: %s", lerr, loadErr.String())
	}
	return nil
}

// natMethod is native logical replication's initial copy: a publication of the table and a
// subscription with copy_data = true, its slot made beforehand; the clock starts at ENABLE,
// and the copy is done when pg_subscription_rel says the table is ready ('r').
type natMethod struct {
	b        *bench
	name     string
	ctl, sub *pgx.Conn
	s        *logicalrep.Subscription
}

func (m *natMethod) streams() bool { return true }

func (m *natMethod) prepare(ctx context.Context, r *runDBs) error {
	var err error
	if m.ctl, err = connect(ctx, r.srcURL); err != nil {
		return err
	}
	if m.sub, err = connect(ctx, r.dstURL); err != nil {
		return err
	}
	m.name = fmt.Sprintf("boot%d", r.n)
	m.s, err = logicalrep.Create(ctx, m.ctl, m.sub, logicalrep.Config{Name: m.name, Tables: []pgx.Identifier{benchRows.Name},
		ConnInfo: m.b.srv.src.ConnInfo(r.srcDB), CopyData: true})
	if err != nil {
		m.name = ""
	}
	return err
}

func (m *natMethod) start(ctx context.Context, _ *runDBs, _ *programs) error { return m.s.Enable(ctx) }

func (m *natMethod) done(ctx context.Context, _ *runDBs) (bool, error) {
	var state string
	err := m.sub.QueryRow(ctx, `SELECT srsubstate::text FROM pg_subscription_rel WHERE srrelid = $1::regclass`,
		benchRows.Name.Sanitize()).Scan(&state)
	return state == "r", err
}

func (m *natMethod) close(ctx context.Context, _ *runDBs) {
	if m.name != "" {
		if err := logicalrep.Drop(ctx, m.ctl, m.sub, m.name); err != nil {
			fmt.Println("native: drop the subscription:", err)
		}
	}
	for _, c := range []*pgx.Conn{m.ctl, m.sub} {
		if c != nil {
			_ = c.Close(ctx)
		}
	}
}
