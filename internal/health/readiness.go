package health

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Causes of not being ready: the values of the cause label of pgfanout_<program>_not_ready
// and of the log lines WatchReadiness writes.
const (
	// CauseCredentials: a server refused the login (a rotated or revoked password, a role
	// that may no longer log in). Restarting does not help; the process retries by itself and
	// is ready again as soon as the credentials work.
	CauseCredentials = "credentials"
	// CausePermission: logged in, but a privilege or permission is missing (a GRANT, a
	// RabbitMQ permission or virtual host).
	CausePermission = "permission"
	// CauseOther: anything else (a server unreachable, starting, a resource alarm).
	CauseOther = "other"
)

var causes = []string{CauseCredentials, CausePermission, CauseOther}

// Cause classifies a readiness reason. The reasons carry the failing call's error text as
// pgx and amqp091 print it, and those print the server's verdict in fixed forms: a
// PostgreSQL error ends in "(SQLSTATE xxxxx)", an AMQP one reads `Exception (code) Reason:
// "…"`. Class 28 is PostgreSQL's "invalid authorization specification" (28P01 a wrong
// password, 28000 a role that may not log in); AMQP's 403 is a refused login when RabbitMQ
// says so during the handshake, and a missing permission otherwise.
func Cause(reason string) string {
	switch {
	case strings.Contains(reason, "(SQLSTATE 28"),
		strings.Contains(reason, `Exception (403) Reason: "username or password not allowed"`),
		strings.Contains(reason, "ACCESS_REFUSED - Login was refused"):
		return CauseCredentials
	case strings.Contains(reason, "(SQLSTATE 42501)"),
		strings.Contains(reason, "Exception (403)"),
		strings.Contains(reason, "Exception (530)"):
		return CausePermission
	}
	return CauseOther
}

// ExportReadiness adds pgfanout_<program>_ready (1 while ready) and
// pgfanout_<program>_not_ready{cause} (1 for the cause while not ready, 0 for the others)
// to the registry, read from the readiness function at each scrape.
// A program name such as "publisher status" becomes publisher_status.
func (s *Server) ExportReadiness(program string) {
	prefix := "pgfanout_" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, program)
	s.registry.MustRegister(&readinessCollector{s: s,
		ready: prometheus.NewDesc(prefix+"_ready", "1 while /readyz answers 200, 0 otherwise.", nil, nil),
		notReady: prometheus.NewDesc(prefix+"_not_ready",
			"1 while the process is not ready, for the cause /readyz names: credentials (a server refused the login), "+
				"permission (a privilege or permission is missing) or other; 0 otherwise.", []string{"cause"}, nil)})
}

type readinessCollector struct {
	s               *Server
	ready, notReady *prometheus.Desc
}

func (c *readinessCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.ready
	ch <- c.notReady
}

func (c *readinessCollector) Collect(ch chan<- prometheus.Metric) {
	ok, reason := c.s.Ready()
	cause := ""
	if !ok {
		cause = Cause(reason)
	}
	ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, gauge(ok))
	for _, k := range causes {
		ch <- prometheus.MustNewConstMetric(c.notReady, prometheus.GaugeValue, gauge(k == cause), k)
	}
}

func gauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// WatchReadiness asks the readiness function every interval until ctx ends and logs each
// change between ready and a cause of not being ready, with the reason: a process that
// cannot log in says so once (and again should the cause change), and once when it is back.
func (s *Server) WatchReadiness(ctx context.Context, interval time.Duration) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last := CauseOther // starting: not worth a line until it lasts past ready or turns into a refusal
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		ok, reason := s.Ready()
		state := "ready"
		if !ok {
			state = Cause(reason)
		}
		if state == last {
			continue
		}
		last = state
		if ok {
			s.log.Info().Str("reason", reason).Msg("ready")
			continue
		}
		ev := s.log.Warn().Str("cause", state).Str("reason", reason)
		switch state {
		case CauseCredentials:
			ev = ev.Str("hint", "a server refused the login: check the user and password in the URL; the process retries and recovers by itself once they work")
		case CausePermission:
			ev = ev.Str("hint", "a privilege or RabbitMQ permission is missing: see docs/replicator.md and docs/capture.md, Security")
		}
		ev.Msg("not ready")
	}
}
