package health

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	dto "github.com/prometheus/client_model/go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

// The reasons as the programs build them: a prefix naming the part, then the error text of
// pgx or amqp091, printed by the libraries themselves.
func TestCauseClassifiesTheLibrariesErrors(t *testing.T) {
	pg := func(code string) string {
		err := fmt.Errorf("failed to connect to `user=u database=d`: 127.0.0.1:5432 (127.0.0.1): server error: %w",
			&pgconn.PgError{Severity: "FATAL", Message: "refused", Code: code})
		return "source PostgreSQL: " + err.Error()
	}
	mq := func(err *amqp.Error) string {
		return "RabbitMQ: " + fmt.Errorf("connect to RabbitMQ at amqp://u:xxxxx@h:5672/: %w", err).Error()
	}
	cases := map[string]string{
		pg("28P01"):             CauseCredentials, // wrong password
		pg("28000"):             CauseCredentials, // role may not log in
		pg("42501"):             CausePermission,
		pg("3D000"):             CauseOther, // database missing
		mq(amqp.ErrCredentials): CauseCredentials,
		mq(&amqp.Error{Code: amqp.AccessRefused, Reason: "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN"}): CauseCredentials,
		mq(&amqp.Error{Code: amqp.AccessRefused, Reason: "ACCESS_REFUSED - access to queue 'q' in vhost '/' refused for user 'u'"}):  CausePermission,
		mq(amqp.ErrVhost): CausePermission,
		mq(&amqp.Error{Code: amqp.NotAllowed, Reason: "NOT_ALLOWED - access to vhost 'v' refused for user 'u'"}): CausePermission,
		"RabbitMQ: dial tcp 127.0.0.1:5672: connect: connection refused":                                         CauseOther,
		"starting": CauseOther,
	}
	for reason, want := range cases {
		require.Equal(t, want, Cause(reason), reason)
	}
}

// syncBuffer is a log sink read while the watcher writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestReadinessIsExportedAndItsChangesLogged(t *testing.T) {
	var logs syncBuffer
	s := NewServer("", zerolog.New(&logs))
	s.ExportReadiness("publisher status")
	var mu sync.Mutex
	ok, reason := false, "connecting to the source"
	s.SetReadiness(func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return ok, reason
	})
	set := func(o bool, r string) {
		mu.Lock()
		defer mu.Unlock()
		ok, reason = o, r
	}
	gauges := func() map[string]float64 {
		mfs, err := s.Registry().Gather()
		require.NoError(t, err)
		out := map[string]float64{}
		for _, mf := range mfs {
			if !strings.HasPrefix(mf.GetName(), "pgfanout_publisher_status_") {
				continue
			}
			for _, m := range mf.GetMetric() {
				out[mf.GetName()+labels(m)] = m.GetGauge().GetValue()
			}
		}
		return out
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.WatchReadiness(ctx, time.Millisecond) }()

	require.Equal(t, map[string]float64{"pgfanout_publisher_status_ready": 0,
		"pgfanout_publisher_status_not_ready{cause=credentials}": 0, "pgfanout_publisher_status_not_ready{cause=permission}": 0,
		"pgfanout_publisher_status_not_ready{cause=other}": 1}, gauges())
	refused := `source PostgreSQL: FATAL: password authentication failed for user "u" (SQLSTATE 28P01)`
	set(false, refused)
	require.Equal(t, 1.0, gauges()["pgfanout_publisher_status_not_ready{cause=credentials}"])
	require.Equal(t, 0.0, gauges()["pgfanout_publisher_status_not_ready{cause=other}"])
	testenv.Eventually(t, "the refusal logged", 10*time.Second, func() bool {
		return strings.Contains(logs.String(), `"cause":"credentials"`)
	})
	set(true, "leading")
	require.Equal(t, 1.0, gauges()["pgfanout_publisher_status_ready"])
	testenv.Eventually(t, "the recovery logged", 10*time.Second, func() bool {
		return strings.Contains(logs.String(), `"message":"ready"`)
	})
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, 1, strings.Count(logs.String(), `"message":"not ready"`), "one line per change:\n%s", logs.String())
	require.NotContains(t, logs.String(), "connecting to the source", "starting is not worth a line")
}

func labels(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return "{" + strings.Join(parts, ",") + "}"
}
