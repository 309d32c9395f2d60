package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TerminateBackends ends the sessions of database whose application_name is LIKE appPattern
// (pg_terminate_backend), waits until they have left pg_stat_activity and returns how many
// it ended. pg_terminate_backend only signals: the backend exits a little later, and until
// then it is listed, holds its locks and its lease, and looks like a live client.
func TerminateBackends(t testing.TB, admin *pgx.Conn, database, appPattern string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// In the select list, not the WHERE clause: there the planner may call the function
	// before the other conditions, on any session of the server.
	rows, err := admin.Query(ctx, `SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = $1 AND application_name LIKE $2`, database, appPattern)
	if err != nil {
		t.Fatalf("terminate the sessions of %s: %v", appPattern, err)
	}
	var pids []int32
	for rows.Next() {
		var pid int32
		var signalled bool
		if err := rows.Scan(&pid, &signalled); err != nil {
			t.Fatalf("terminate the sessions of %s: %v", appPattern, err)
		}
		if signalled {
			pids = append(pids, pid)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("terminate the sessions of %s: %v", appPattern, err)
	}
	WaitBackendsGone(t, admin, pids...)
	return len(pids)
}

// WaitBackendsGone waits until no backend of pids is in pg_stat_activity any more, e.g. after
// a client closed its connection: Close returns before the server's backend has exited and
// released the session's locks.
func WaitBackendsGone(t testing.TB, admin *pgx.Conn, pids ...int32) {
	t.Helper()
	if len(pids) == 0 {
		return
	}
	Eventually(t, fmt.Sprintf("backends %v to exit", pids), 10*time.Second, func() bool {
		var listed bool
		err := admin.QueryRow(context.Background(),
			`SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = ANY($1))`, pids).Scan(&listed)
		if err != nil {
			t.Fatalf("read pg_stat_activity: %v", err)
		}
		return !listed
	})
}
