package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgfanout/pgfanout/internal/proctest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// fanMethod is pgfanout's copy: the source database gets the capture and its table tracked,
// a publisher runs (changes made during the copy reach the replica through it), and the
// clock starts as the replicator is started with --source-url on the empty target. Done
// when the target's pgfanout.copy_tables says so.
type fanMethod struct {
	b        *bench
	exchange string
	pub, rep *proctest.Proc
	repName  string
}

func (m *fanMethod) streams() bool { return true }

func (m *fanMethod) prepare(ctx context.Context, r *runDBs) error {
	s := m.b.srv
	if out, err := exec.CommandContext(ctx, s.publisher, "migrate", "--source-url", r.srcURL).CombinedOutput(); err != nil {
		return fmt.Errorf("publisher migrate: %w: %s", err, out)
	}
	if err := execAll(ctx, r.srcURL, `SELECT pgfanout.track('`+benchRows.Name.Sanitize()+`')`); err != nil {
		return err
	}
	m.exchange, m.repName = fmt.Sprintf("bench%d", r.n), r.dstDB
	pub, err := proctest.Start(s.publisher, "--source-url", r.srcURL, "--amqp-url", s.rabbit.URL(), "--exchange", m.exchange,
		"--http-addr", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start the publisher: %w", err)
	}
	m.pub = pub
	return readyz(ctx, pub, "publisher")
}

func (m *fanMethod) start(_ context.Context, r *runDBs, progs *programs) error {
	s := m.b.srv
	args := []string{"--replica-url", r.dstURL, "--amqp-url", s.rabbit.URL(), "--exchange", m.exchange,
		"--replica-name", m.repName, "--source-url", r.srcURL, "--http-addr", "127.0.0.1:0"}
	if m.b.o.copyWorkers > 0 {
		args = append(args, "--copy-workers", strconv.Itoa(m.b.o.copyWorkers))
	}
	rep, err := proctest.Start(s.replicator, append(args, m.b.o.extraArgs...)...)
	if err != nil {
		return fmt.Errorf("start the replicator: %w", err)
	}
	m.rep = rep
	progs.add(m.pub.Pid())
	progs.add(rep.Pid())
	return nil
}

func (m *fanMethod) done(ctx context.Context, r *runDBs) (bool, error) {
	if !m.rep.Running() {
		return false, fmt.Errorf("the replicator exited:\n%s", tail(m.rep.Output()))
	}
	conn, err := connect(ctx, r.dstURL)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var state string
	var reason *string
	err = conn.QueryRow(ctx, `SELECT state, reason FROM pgfanout.copy_tables WHERE schema_name = $1 AND table_name = $2`,
		benchRows.Name[0], benchRows.Name[1]).Scan(&state, &reason)
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows), errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000"):
		return false, nil // the replicator has not got that far
	case err != nil:
		return false, err
	case state == "failed":
		return false, fmt.Errorf("%w: %v\n%s", errFailed, deref(reason), tail(m.rep.Output()))
	}
	return state == "done", nil
}

func (m *fanMethod) close(context.Context, *runDBs) {
	for _, p := range []*proctest.Proc{m.rep, m.pub} {
		if p != nil {
			_ = p.Terminate(15 * time.Second)
		}
	}
	if m.exchange != "" {
		q := "pgfanout." + m.repName
		testenv.DeleteAMQP(m.b.srv.rabbit.URL(), []string{m.exchange, m.exchange + ".dead"}, []string{q, q + ".dead"})
	}
}

// output is the replicator's log, for a failed run.
func (m *fanMethod) output() string {
	if m.rep == nil {
		return ""
	}
	return tail(m.rep.Output())
}

// readyz waits until a program answers /readyz with 200.
func readyz(ctx context.Context, p *proctest.Proc, label string) error {
	addr, err := p.Addr(30 * time.Second)
	if err != nil {
		return fmt.Errorf("%s did not start: %w\n%s", label, err, tail(p.Output()))
	}
	c := http.Client{Timeout: 5 * time.Second}
	return until(ctx, time.Minute, 50*time.Millisecond, func() (bool, error) {
		if !p.Running() {
			return false, fmt.Errorf("%s exited:\n%s", label, tail(p.Output()))
		}
		resp, err := c.Get("http://" + addr + "/readyz")
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

func tail(s string) string {
	const keep = 4000
	if len(s) > keep {
		return "…" + s[len(s)-keep:]
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
