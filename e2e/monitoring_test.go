package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/pgfanout/pgfanout/internal/pgadmin"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

const repoRoot = ".."

// stack is docker-compose.yml on this machine's binaries: private PostgreSQL and RabbitMQ
// servers set up by the compose stack's own SQL files, and the programs run as the stack
// runs them, with its roles and queue names.
type stack struct {
	t                 *testing.T
	pg                *testenv.Postgres
	srcURL, repURL    string // as the superuser
	amqpURL           string
	passwords         map[string]string
	publisher, status string // HTTP addresses
	replicators       []string
	src, rep          *pgx.Conn
}

// as is url with user role (the private server trusts local connections, so the password
// only needs to be there, as in the stack).
func as(t *testing.T, rawURL, role, password string) string {
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	u.User = url.UserPassword(role, password)
	return u.String()
}

// psql runs a file of the stack with psql, as the postgres image's initdb does: the
// passwords in the environment, read by \getenv.
func (s *stack) psql(dbURL, file string) {
	s.t.Helper()
	cmd := exec.Command("psql", dbURL, "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-q", "-f", file)
	cmd.Env = append(cmd.Environ(), s.envList()...)
	out, err := cmd.CombinedOutput()
	require.NoError(s.t, err, "psql -f %s:\n%s", file, out)
	for _, pw := range s.passwords {
		require.NotContains(s.t, string(out), pw, "a password in psql's output")
	}
}

func (s *stack) envList() []string {
	var env []string
	for name, pw := range s.passwords {
		env = append(env, name+"="+pw)
	}
	return env
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{t: t, pg: testenv.StartPostgres(t), amqpURL: testenv.StartRabbitMQ(t).URL(), passwords: map[string]string{
		"OWNER_DB_PASSWORD": "pw-owner", "PUBLISHER_DB_PASSWORD": "pw-publisher", "COPIER_DB_PASSWORD": "pw-copier",
		"WRITER_DB_PASSWORD": "pw-writer", "REPLICATOR_DB_PASSWORD": "pw-replicator"}}
	ctx := context.Background()
	for _, db := range []string{"app", "replica"} {
		require.NoError(t, pgadmin.Exec(ctx, s.pg.URL, "CREATE DATABASE "+db))
	}
	var err error
	s.srcURL, err = pgadmin.WithDatabase(s.pg.URL, "app")
	require.NoError(t, err)
	s.repURL, err = pgadmin.WithDatabase(s.pg.URL, "replica")
	require.NoError(t, err)
	// The source's and the replica's first start (/docker-entrypoint-initdb.d).
	s.psql(s.srcURL, filepath.Join(repoRoot, "deploy/demo/schema.sql"))
	s.psql(s.srcURL, filepath.Join(repoRoot, "deploy/source/initdb/20-roles.sql"))
	s.psql(s.repURL, filepath.Join(repoRoot, "deploy/replica/initdb/10-roles.sql"))
	// The replica stays empty: the replicator creates the demo tables.
	// The one-shot jobs: migrate, grants and track as the capture owner.
	owner := as(t, s.srcURL, "pgfanout_owner", s.passwords["OWNER_DB_PASSWORD"])
	runCmd(t, bins.publisher, "migrate", "--source-url", owner, "--log-level", "warn")
	s.psql(owner, filepath.Join(repoRoot, "deploy/source/grants.sql"))
	s.psql(owner, filepath.Join(repoRoot, "deploy/demo/track.sql"))
	s.src, s.rep = sourcetest.Connect(t, s.srcURL), sourcetest.Connect(t, s.repURL)
	return s
}

// programEnv is the environment docker-compose.yml gives each program.
func (s *stack) programEnv(vars ...string) []string {
	return append(os.Environ(), append([]string{"PGFANOUT_AMQP_URL=" + s.amqpURL, "PGFANOUT_HTTP_ADDR=127.0.0.1:0",
		"PGFANOUT_LOG_LEVEL=info"}, vars...)...)
}

func (s *stack) start(bin string, env []string, args ...string) string {
	s.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	p := startProc(s.t, cmd)
	addr, err := p.Addr(30 * time.Second)
	require.NoError(s.t, err, p.Output())
	return addr
}

func (s *stack) run() {
	t := s.t
	publisherURL := as(t, s.srcURL, "pgfanout_publisher", s.passwords["PUBLISHER_DB_PASSWORD"])
	replicaEnv := s.programEnv("PGFANOUT_REPLICA_URL="+as(t, s.repURL, "pgfanout_replicator", s.passwords["REPLICATOR_DB_PASSWORD"]),
		"PGFANOUT_REPLICA_NAME=replica1", "PGFANOUT_SOURCE_URL="+as(t, s.srcURL, "pgfanout_copier", s.passwords["COPIER_DB_PASSWORD"]))
	declare := exec.Command(bins.replicator, "declare")
	declare.Env = replicaEnv
	out, err := declare.CombinedOutput()
	require.NoError(t, err, "replicator declare: %s", out)
	s.publisher = s.start(bins.publisher, s.programEnv("PGFANOUT_SOURCE_URL="+publisherURL))
	for range 2 { // `--scale replicator=2`
		s.replicators = append(s.replicators, s.start(bins.replicator, replicaEnv))
	}
	s.status = s.start(bins.publisher, s.programEnv("PGFANOUT_SOURCE_URL="+publisherURL, "PGFANOUT_REPLICAS=replica1,replica2",
		"PGFANOUT_HTTP_ADDR="), "status", "--listen", "127.0.0.1:0")
}

// workload runs the demo workload (profile demo) as the application role until the test ends
// or stop is called.
func (s *stack) workload() (stop func()) {
	u, err := url.Parse(s.srcURL)
	require.NoError(s.t, err)
	cmd := exec.Command("pgbench", "-n", "-c2", "-T", "600", "-R", "100", "-f", filepath.Join(repoRoot, "deploy/demo/workload.sql"))
	cmd.Env = append(os.Environ(), "PGHOST="+u.Hostname(), "PGPORT="+u.Port(), "PGUSER=pgfanout_writer",
		"PGPASSWORD="+s.passwords["WRITER_DB_PASSWORD"], "PGDATABASE=app")
	p := startProc(s.t, cmd)
	return func() { _ = p.Terminate(10 * time.Second) }
}

// prometheusConfig is deploy/monitoring/prometheus.yml with each job's DNS discovery
// replaced by the addresses of the processes it would find, written beside alerts.yml.
func (s *stack) prometheusConfig(dir string) string {
	t := s.t
	raw, err := os.ReadFile(filepath.Join(repoRoot, "deploy/monitoring/prometheus.yml"))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	targets := map[string][]string{"publisher": {s.publisher}, "replicator": s.replicators, "replicator2": nil, "status": {s.status}}
	for _, j := range cfg["scrape_configs"].([]any) {
		job := j.(map[string]any)
		name := job["job_name"].(string)
		addrs, known := targets[name]
		require.Truef(t, known, "scrape job %q: the test does not know what it scrapes", name)
		require.Containsf(t, job, "dns_sd_configs", "job %s", name)
		delete(job, "dns_sd_configs")
		job["static_configs"] = []any{map[string]any{"targets": addrs}}
		delete(targets, name)
	}
	require.Empty(t, targets, "jobs missing from prometheus.yml")
	out, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	path := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(path, out, 0o644))
	alerts, err := os.ReadFile(filepath.Join(repoRoot, "deploy/monitoring/alerts.yml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts.yml"), alerts, 0o644))
	return path
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// promQuery runs an instant query; it returns the number of series and the error, if any.
func promQuery(prom, expr string) (int, error) {
	resp, err := http.Get("http://" + prom + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Status, Error string
		Data          struct{ Result []json.RawMessage }
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		return 0, fmt.Errorf("%s: %s", err, b)
	}
	if body.Status != "success" {
		return 0, fmt.Errorf("%s", body.Error)
	}
	return len(body.Data.Result), nil
}

// promTargets summarizes Prometheus' scrape targets: job, address, health and last error.
func promTargets(prom string) string {
	resp, err := http.Get("http://" + prom + "/api/v1/targets")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			ActiveTargets []struct {
				ScrapeURL, Health, LastError string
				Labels                       map[string]string
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return err.Error()
	}
	var parts []string
	for _, tg := range body.Data.ActiveTargets {
		parts = append(parts, fmt.Sprintf("%s %s %s %s", tg.Labels["job"], tg.ScrapeURL, tg.Health, tg.LastError))
	}
	return strings.Join(parts, "; ")
}

// dashboardQueries are the expressions of every panel of the Grafana dashboard, with
// Grafana's interval variables as Grafana would set them for a 5 s scrape interval.
func dashboardQueries(t *testing.T) []string {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "deploy/monitoring/grafana/dashboards/pgfanout.json"))
	require.NoError(t, err)
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	require.NoError(t, json.Unmarshal(raw, &d))
	vars := strings.NewReplacer("$__rate_interval", "1m", "$__interval", "5s", "$__range", "1h")
	var exprs []string
	for _, p := range d.Panels {
		require.NotEmptyf(t, p.Targets, "panel %q has no query", p.Title)
		for _, tg := range p.Targets {
			exprs = append(exprs, vars.Replace(tg.Expr))
		}
	}
	require.NotRegexp(t, regexp.MustCompile(`\$\w`), strings.Join(exprs, "\n"), "a Grafana variable the test does not set")
	return exprs
}

func skipUnlessCI(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why + "; .ci/run installs it")
	}
	t.Skip(why)
}

// TestMonitoringDashboard runs Prometheus with the stack's scrape config and alert rules
// against the stack's programs under the demo workload, and requires every dashboard query
// to return data and every rule to load.
func TestMonitoringDashboard(t *testing.T) {
	t.Parallel()
	// Debian's packages; .ci/run installs them, and CI fails rather than skips without them.
	for _, tool := range []string{"psql", "pgbench"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipUnlessCI(t, tool+" is not installed (Debian: apt-get install postgresql)")
		}
	}
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		skipUnlessCI(t, "prometheus is not installed (Debian: apt-get install prometheus)")
	}
	s := newStack(t)
	s.run()
	stop := s.workload()
	dir := t.TempDir()
	prom := freeAddr(t)
	startProc(t, exec.Command(bin, "--config.file="+s.prometheusConfig(dir), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+prom, "--log.level=warn"))

	queries := dashboardQueries(t)
	missing := queries
	testenv.Eventually(t, "every dashboard query to return data", 90*time.Second, func() bool {
		var still []string
		why := ""
		for _, q := range missing {
			if n, err := promQuery(prom, q); err != nil || n == 0 {
				still = append(still, q)
				if why == "" {
					why = fmt.Sprintf("%s: %d series, %v", q, n, err)
				}
			}
		}
		changed := len(still) != len(missing)
		missing = still
		if len(still) > 0 && changed {
			t.Logf("waiting for %d of %d queries, e.g. %s; targets: %s", len(still), len(queries), why, promTargets(prom))
		}
		return len(still) == 0
	})

	// Every alert rule loaded and evaluates without error.
	resp, err := http.Get("http://" + prom + "/api/v1/rules")
	require.NoError(t, err)
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct{ Name, Health, LastError string }
			}
		}
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rules))
	resp.Body.Close()
	n := 0
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			n++
			require.NotEqualf(t, "err", r.Health, "rule %s: %s", r.Name, r.LastError)
		}
	}
	require.GreaterOrEqual(t, n, 10, "alert rules loaded")

	// And the stack's roles replicate: the replica ends equal to the source.
	stop()
	for _, table := range []string{"demo.customers", "demo.orders", "demo.events"} {
		want := tableDigest(t, s.src, table)
		testenv.Eventually(t, table+" to match the source", 60*time.Second, func() bool { return tableDigest(t, s.rep, table) == want })
	}
}
