package deploycheck

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// promtool finds Debian's promtool (package prometheus); the test is skipped without it,
// except in CI, which installs it (.ci/run).
func promtool(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not installed; .ci/run installs Debian's prometheus package")
		}
		t.Skip("promtool is not installed (Debian: apt-get install prometheus)")
	}
	return bin
}

func TestPromtoolChecksRulesAndConfig(t *testing.T) {
	bin := promtool(t)
	out, err := exec.Command(bin, "check", "rules", filepath.Join(repoRoot, "deploy/monitoring/alerts.yml")).CombinedOutput()
	require.NoError(t, err, "promtool check rules:\n%s", out)
	require.Contains(t, string(out), "SUCCESS")
	// The config names its rule file relative to itself, as mounted in the container.
	out, err = exec.Command(bin, "check", "config", filepath.Join(repoRoot, "deploy/monitoring/prometheus.yml")).CombinedOutput()
	require.NoError(t, err, "promtool check config:\n%s", out)
}

type scrapeConfig struct {
	JobName      string `yaml:"job_name"`
	DNSSDConfigs []struct {
		Names []string
		Type  string
		Port  int
	} `yaml:"dns_sd_configs"`
	RelabelConfigs []struct {
		TargetLabel string `yaml:"target_label"`
		Replacement string
	} `yaml:"relabel_configs"`
}

// Prometheus finds every container of every program that serves /metrics, by the service's
// name (Docker's DNS answers it with all of them, so scaled replicators are all scraped), on
// the port the program listens on, and labels each replica's series with its name.
func TestPrometheusScrapesEveryProgram(t *testing.T) {
	var cfg struct {
		RuleFiles     []string       `yaml:"rule_files"`
		ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(readRepoFile(t, "deploy/monitoring/prometheus.yml")), &cfg))
	jobs := map[string]scrapeConfig{}
	for _, j := range cfg.ScrapeConfigs {
		require.Lenf(t, j.DNSSDConfigs, 1, "job %s discovers its targets by DNS", j.JobName)
		require.Equal(t, "A", j.DNSSDConfigs[0].Type)
		require.Lenf(t, j.DNSSDConfigs[0].Names, 1, "job %s", j.JobName)
		jobs[j.DNSSDConfigs[0].Names[0]] = j
	}
	p := loadProject(t, all)
	served := 0
	for name, s := range p.Services {
		addr := env(s, "PGFANOUT_HTTP_ADDR")
		for i, arg := range s.Command {
			if arg == "--listen" && i+1 < len(s.Command) {
				addr = s.Command[i+1]
			}
		}
		if !strings.HasPrefix(s.Image, "pgfanout:") || addr == "" || s.Command[len(s.Command)-1] == "migrate" {
			continue
		}
		served++
		job, ok := jobs[name]
		require.Truef(t, ok, "prometheus.yml does not scrape service %s", name)
		_, port, _ := strings.Cut(addr, ":")
		require.Equalf(t, port, itoa(job.DNSSDConfigs[0].Port), "job %s scrapes another port than %s listens on", job.JobName, name)
		if replica := env(s, "PGFANOUT_REPLICA_NAME"); replica != "" {
			require.Lenf(t, job.RelabelConfigs, 1, "job %s labels its series replica=%s", job.JobName, replica)
			require.Equal(t, "replica", job.RelabelConfigs[0].TargetLabel)
			require.Equal(t, replica, job.RelabelConfigs[0].Replacement)
		}
	}
	require.Equal(t, 4, served, "publisher, replicator, replicator2, status")
	require.Equal(t, []string{"alerts.yml"}, cfg.RuleFiles)

	// The compose file mounts exactly these files where the config expects them.
	prom := service(t, p, "prometheus")
	targets := map[string]string{}
	for _, v := range prom.Volumes {
		targets[v.Target] = v.Source
	}
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "deploy/monitoring/prometheus.yml"), targets["/etc/prometheus/prometheus.yml"])
	require.Equal(t, filepath.Join(root, "deploy/monitoring/alerts.yml"), targets["/etc/prometheus/alerts.yml"])
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// The dashboard uses the provisioned data source, and each of its panels has a query (that
// each query returns data is e2e/monitoring_test.go's).
func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		Datasources []struct{ UID, Type, URL string }
	}
	require.NoError(t, yaml.Unmarshal([]byte(readRepoFile(t, "deploy/monitoring/grafana/provisioning/datasources/prometheus.yml")), &ds))
	require.Len(t, ds.Datasources, 1)
	require.Equal(t, "prometheus", ds.Datasources[0].Type)
	require.Equal(t, "http://prometheus:9090", ds.Datasources[0].URL)

	var dash struct {
		UID    string
		Panels []struct {
			Title      string
			Datasource struct{ UID string }
			Targets    []struct {
				Expr       string
				Datasource struct{ UID string }
			}
		}
	}
	require.NoError(t, json.Unmarshal([]byte(readRepoFile(t, "deploy/monitoring/grafana/dashboards/pgfanout.json")), &dash))
	require.Equal(t, "pgfanout", dash.UID)
	text := ""
	for _, p := range dash.Panels {
		require.Equalf(t, ds.Datasources[0].UID, p.Datasource.UID, "panel %q", p.Title)
		require.NotEmptyf(t, p.Targets, "panel %q", p.Title)
		for _, tg := range p.Targets {
			require.Equalf(t, ds.Datasources[0].UID, tg.Datasource.UID, "panel %q", p.Title)
			require.NotEmptyf(t, tg.Expr, "panel %q", p.Title)
			text += tg.Expr + "\n"
		}
	}
	// What the issue asks the dashboard to show.
	for _, metric := range []string{"pgfanout_publisher_changes_published_total", "pgfanout_replicator_applied_changes_total",
		"pgfanout_status_changelog_changes", "pgfanout_status_changelog_oldest_age_seconds", "pgfanout_status_queue_messages",
		"pgfanout_replicator_lag_seconds_bucket", "pgfanout_status_dead_letters", "pgfanout_replicator_dead_lettered_total",
		"pgfanout_replicator_copy_tables", "pgfanout_publisher_is_leader", "pgfanout_status_leader_info"} {
		require.Containsf(t, text, metric, "the dashboard shows %s", metric)
	}
	require.Contains(t, text, "histogram_quantile(0.5,")
	require.Contains(t, text, "histogram_quantile(0.99,")
}
