package deploycheck

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
)

const repoRoot = "../.."

var (
	// Long-running services that serve something and therefore need a healthcheck.
	servers = []string{"source", "rabbitmq", "publisher", "replica", "replicator", "replica2", "replicator2",
		"status", "prometheus", "grafana"}
	// Long-running services (servers plus the demo load generator).
	longRunning = append(slices.Clone(servers), "workload")
	// Jobs that run once per `docker compose up`.
	oneShots = []string{"migrate", "grants", "track", "declare"}
	// Services holding state that must survive container re-creation.
	stateful = []string{"source", "replica", "replica2", "rabbitmq", "prometheus", "grafana"}
)

// loadProject resolves docker-compose.yml the way `docker compose` does, with .env.example
// as the .env file (the committed one; .env is the user's) and without the caller's OS
// environment (deterministic). env entries ("NAME=value") override the file, as a shell's
// variables do. No profiles means the default set; "*" enables every profile.
func loadProject(t *testing.T, profiles []string, env ...string) *types.Project {
	t.Helper()
	p, err := tryLoadProject(profiles, env...)
	require.NoError(t, err, "docker-compose.yml does not load")
	return p
}

func tryLoadProject(profiles []string, env ...string) (*types.Project, error) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		return nil, err
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(env), // before the file: what is already set wins
		cli.WithEnvFiles(filepath.Join(root, ".env.example")),
		cli.WithDotEnv,
		cli.WithProfiles(profiles),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

// all is every profile.
var all = []string{"*"}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	require.Truef(t, ok, "service %q missing from docker-compose.yml", name)
	return s
}

func TestComposeServicesExist(t *testing.T) {
	p := loadProject(t, all)
	for _, name := range append(slices.Clone(longRunning), oneShots...) {
		service(t, p, name)
	}
}

func TestComposeProfiles(t *testing.T) {
	p := loadProject(t, all)
	for name, want := range map[string][]string{
		"workload": {"demo"}, "replica2": {"replica2"}, "replicator2": {"replica2"},
		"status": {"monitoring"}, "prometheus": {"monitoring"}, "grafana": {"monitoring"},
	} {
		require.Equalf(t, want, service(t, p, name).Profiles, "profiles of %s", name)
	}

	// A plain `docker compose up` starts the pipeline but no demo load, no second replica
	// and no monitoring.
	def := loadProject(t, nil)
	for _, name := range []string{"source", "rabbitmq", "migrate", "grants", "track", "declare", "publisher", "replica", "replicator"} {
		require.Containsf(t, def.Services, name, "%s must run without a profile", name)
	}
	for _, name := range []string{"workload", "replica2", "replicator2", "status", "prometheus", "grafana"} {
		require.NotContainsf(t, def.Services, name, "%s must need an explicit profile", name)
	}
}

func TestComposeDependsOn(t *testing.T) {
	p := loadProject(t, all)
	const (
		healthy   = types.ServiceConditionHealthy
		completed = types.ServiceConditionCompletedSuccessfully
	)
	for _, tc := range []struct{ service, dependency, condition string }{
		{"migrate", "source", healthy},
		{"grants", "migrate", completed},
		{"track", "migrate", completed},
		{"declare", "rabbitmq", healthy},
		{"publisher", "grants", completed},
		{"publisher", "declare", completed},
		{"publisher", "rabbitmq", healthy},
		{"publisher", "source", healthy},
		{"replicator", "grants", completed},
		{"replicator", "declare", completed},
		{"replicator", "rabbitmq", healthy},
		{"replicator", "replica", healthy},
		{"replicator", "source", healthy},
		{"replicator2", "replica2", healthy},
		{"replicator2", "rabbitmq", healthy},
		{"replicator2", "grants", completed},
		{"workload", "track", completed},
		{"workload", "declare", completed},
		{"status", "grants", completed},
	} {
		dep, ok := service(t, p, tc.service).DependsOn[tc.dependency]
		require.Truef(t, ok, "%s must depend on %s", tc.service, tc.dependency)
		require.Equalf(t, tc.condition, dep.Condition, "%s depends_on %s condition", tc.service, tc.dependency)
	}
}

func TestComposeHealthchecks(t *testing.T) {
	p := loadProject(t, all)
	for _, name := range servers {
		hc := service(t, p, name).HealthCheck
		require.NotNilf(t, hc, "%s needs a healthcheck", name)
		require.Falsef(t, hc.Disable, "%s healthcheck disabled", name)
		require.NotEmptyf(t, hc.Test, "%s healthcheck has no test", name)
		require.NotEqualf(t, "NONE", hc.Test[0], "%s healthcheck is NONE", name)
	}
	// The distroless image has no curl: the programs check themselves.
	for name, want := range map[string]string{"publisher": "publisher healthcheck", "replicator": "replicator healthcheck",
		"replicator2": "replicator healthcheck", "status": "publisher healthcheck --http-addr 127.0.0.1:9189"} {
		require.Containsf(t, strings.Join(service(t, p, name).HealthCheck.Test, " "), want, "%s healthcheck", name)
	}
}

func TestComposeRestartPolicies(t *testing.T) {
	p := loadProject(t, all)
	for _, name := range longRunning {
		require.Containsf(t, []string{"always", "unless-stopped", "on-failure"}, service(t, p, name).Restart,
			"%s is long-running and needs a restart policy", name)
	}
	for _, name := range oneShots {
		require.Containsf(t, []string{"", "no"}, service(t, p, name).Restart,
			"%s is a one-shot job and must not be restarted", name)
	}
}

// `docker compose up --scale replicator=N` fails with a container_name or a
// fixed host port (the second instance could not get the same one).
func TestComposeReplicatorScales(t *testing.T) {
	p := loadProject(t, all)
	for _, name := range []string{"replicator", "replicator2"} {
		s := service(t, p, name)
		require.Emptyf(t, s.ContainerName, "%s must not set container_name", name)
		for _, port := range s.Ports {
			require.Emptyf(t, port.Published, "%s must not publish a fixed host port (%d)", name, port.Target)
		}
	}
}

func TestComposeNamedVolumes(t *testing.T) {
	p := loadProject(t, all)
	for _, name := range stateful {
		found := false
		for _, v := range service(t, p, name).Volumes {
			if v.Type == types.VolumeTypeVolume && v.Source != "" {
				require.Containsf(t, p.Volumes, v.Source, "%s uses volume %q not declared under volumes:", name, v.Source)
				found = true
			}
		}
		require.Truef(t, found, "%s must keep its data in a named volume", name)
	}
}

// Bind-mounted files (schema, scripts) must exist, or Docker silently creates
// empty directories in their place.
func TestComposeBindMountsExist(t *testing.T) {
	p := loadProject(t, all)
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				_, err := os.Stat(v.Source)
				require.NoErrorf(t, err, "%s bind-mounts a missing path", name)
			}
		}
		if s.Build != nil {
			_, err := os.Stat(filepath.Join(s.Build.Context, "Dockerfile"))
			require.NoErrorf(t, err, "%s build context has no Dockerfile", name)
		}
	}
}

// The initdb scripts are mounted where the postgres image runs them, in the order they need:
// the demo tables before the roles that are granted on them (source); a replica gets only the
// replicator's role, which creates the tables itself.
func TestComposeInitScripts(t *testing.T) {
	p := loadProject(t, all)
	initdb := func(name string) []string {
		var files []string
		for _, v := range service(t, p, name).Volumes {
			if dir, file := filepath.Split(v.Target); dir == "/docker-entrypoint-initdb.d/" {
				require.Truef(t, v.ReadOnly, "%s: %s must be mounted read-only", name, v.Target)
				files = append(files, file)
			}
		}
		slices.Sort(files)
		return files
	}
	require.Equal(t, []string{"10-demo-schema.sql", "20-roles.sql"}, initdb("source"))
	for _, name := range []string{"replica", "replica2"} {
		require.Equalf(t, []string{"10-roles.sql"}, initdb(name), "%s initdb scripts: the replicator creates the tables", name)
	}
}
