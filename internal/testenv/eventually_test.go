package testenv

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// fakeTB records the failure Eventually reports; Fatalf ends the goroutine as testing's does.
type fakeTB struct {
	testing.TB
	failure string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failure = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls Eventually on a goroutine of its own (Fatalf ends it) and returns the failure.
func run(what string, timeout time.Duration, cond func() bool) string {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Eventually(f, what, timeout, cond)
	}()
	<-done
	return f.failure
}

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	t.Parallel()
	calls := 0
	failure := run("the third call", 10*time.Second, func() bool { calls++; return calls == 3 })
	if failure != "" || calls != 3 {
		t.Fatalf("failure %q after %d calls, want none after 3", failure, calls)
	}
}

func TestEventuallyFailsNamingWhatItWaitedFor(t *testing.T) {
	t.Parallel()
	start := time.Now()
	failure := run("the impossible", 100*time.Millisecond, func() bool { return false })
	if want := "timed out after 100ms waiting for the impossible"; failure != want {
		t.Fatalf("failure %q, want %q", failure, want)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Fatalf("gave up after %s, before the timeout", waited)
	}
}

func TestTerminateBackendsWaitsUntilTheyExited(t *testing.T) {
	t.Parallel()
	dbURL := NewDatabase(t)
	connectAs := func(app string) *pgx.Conn {
		cfg, err := pgx.ParseConfig(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RuntimeParams["application_name"] = app
		return ConnectConfig(t, cfg)
	}
	victim, bystander := connectAs("pgfanout-test-victim"), connectAs("pgfanout-test-bystander")
	admin := Connect(t, PGURL(t))
	if n := TerminateBackends(t, admin, victim.Config().Database, "pgfanout-test-vic%"); n != 1 {
		t.Fatalf("terminated %d sessions, want 1", n)
	}
	var listed bool
	if err := admin.QueryRow(context.Background(), `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)`,
		victim.PgConn().PID()).Scan(&listed); err != nil {
		t.Fatal(err)
	}
	if listed {
		t.Fatal("the terminated backend is still listed")
	}
	if err := bystander.Ping(context.Background()); err != nil {
		t.Fatalf("a session of another application was cut: %v", err)
	}
}
