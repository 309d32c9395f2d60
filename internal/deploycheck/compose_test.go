package deploycheck

import (
	"context"
	"net/url"
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
	servers = []string{"source", "rabbitmq", "publisher", "replica", "replicator", "replica2", "replicator2"}
	// Long-running services (servers plus the demo load generator).
	longRunning = append(slices.Clone(servers), "workload")
	// Jobs that run once per `docker compose up`.
	oneShots = []string{"migrate", "track"}
	// Services holding state that must survive container re-creation.
	stateful = []string{"source", "replica", "replica2", "rabbitmq"}
)

// loadProject resolves docker-compose.yml the way `docker compose` does, with
// .env interpolation but without the caller's OS environment (deterministic).
// No profiles means the default set; "*" enables every profile.
func loadProject(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnvFiles(filepath.Join(root, ".env")),
		cli.WithDotEnv,
		cli.WithProfiles(profiles),
	)
	require.NoError(t, err)
	project, err := opts.LoadProject(context.Background())
	require.NoError(t, err, "docker-compose.yml does not load")
	return project
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	require.Truef(t, ok, "service %q missing from docker-compose.yml", name)
	return s
}

func TestComposeServicesExist(t *testing.T) {
	p := loadProject(t, "*")
	for _, name := range append(slices.Clone(longRunning), oneShots...) {
		service(t, p, name)
	}
}

func TestComposeProfiles(t *testing.T) {
	all := loadProject(t, "*")
	for name, want := range map[string][]string{
		"workload": {"demo"}, "replica2": {"replica2"}, "replicator2": {"replica2"},
	} {
		require.Equalf(t, want, service(t, all, name).Profiles, "profiles of %s", name)
	}

	// A plain `docker compose up` starts the pipeline but no demo load.
	def := loadProject(t)
	for _, name := range []string{"source", "rabbitmq", "migrate", "track", "publisher", "replica", "replicator"} {
		require.Containsf(t, def.Services, name, "%s must run without a profile", name)
	}
	for _, name := range []string{"workload", "replica2", "replicator2"} {
		require.NotContainsf(t, def.Services, name, "%s must need an explicit profile", name)
	}
}

func TestComposeDependsOn(t *testing.T) {
	p := loadProject(t, "*")
	const (
		healthy   = types.ServiceConditionHealthy
		completed = types.ServiceConditionCompletedSuccessfully
	)
	for _, tc := range []struct{ service, dependency, condition string }{
		{"migrate", "source", healthy},
		{"track", "migrate", completed},
		{"publisher", "migrate", completed},
		{"publisher", "rabbitmq", healthy},
		{"publisher", "source", healthy},
		{"replicator", "migrate", completed},
		{"replicator", "rabbitmq", healthy},
		{"replicator", "replica", healthy},
		{"replicator2", "replica2", healthy},
		{"replicator2", "rabbitmq", healthy},
		{"workload", "migrate", completed},
		{"workload", "track", completed},
	} {
		dep, ok := service(t, p, tc.service).DependsOn[tc.dependency]
		require.Truef(t, ok, "%s must depend on %s", tc.service, tc.dependency)
		require.Equalf(t, tc.condition, dep.Condition, "%s depends_on %s condition", tc.service, tc.dependency)
	}
}

func TestComposeHealthchecks(t *testing.T) {
	p := loadProject(t, "*")
	for _, name := range servers {
		hc := service(t, p, name).HealthCheck
		require.NotNilf(t, hc, "%s needs a healthcheck", name)
		require.Falsef(t, hc.Disable, "%s healthcheck disabled", name)
		require.NotEmptyf(t, hc.Test, "%s healthcheck has no test", name)
		require.NotEqualf(t, "NONE", hc.Test[0], "%s healthcheck is NONE", name)
	}
	// The distroless image has no curl: the programs check themselves.
	for name, want := range map[string]string{"publisher": "publisher healthcheck", "replicator": "replicator healthcheck"} {
		require.Containsf(t, strings.Join(service(t, p, name).HealthCheck.Test, " "), want, "%s healthcheck", name)
	}
}

func TestComposeRestartPolicies(t *testing.T) {
	p := loadProject(t, "*")
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
	p := loadProject(t, "*")
	for _, name := range []string{"replicator", "replicator2"} {
		s := service(t, p, name)
		require.Emptyf(t, s.ContainerName, "%s must not set container_name", name)
		for _, port := range s.Ports {
			require.Emptyf(t, port.Published, "%s must not publish a fixed host port (%d)", name, port.Target)
		}
	}
}

func TestComposeImagesPinned(t *testing.T) {
	p := loadProject(t, "*")
	for name, s := range p.Services {
		require.NotEmptyf(t, s.Image, "%s has no image", name)
		require.Truef(t, pinned(s.Image), "%s image %q must have an explicit tag other than latest", name, s.Image)
	}
}

// pinned reports whether an image reference names a tag (not latest) or a digest.
func pinned(ref string) bool {
	if strings.Contains(ref, "@sha256:") {
		return true
	}
	name := ref[strings.LastIndex(ref, "/")+1:] // registry host:port is not a tag
	i := strings.LastIndex(name, ":")
	return i >= 0 && name[i+1:] != "" && name[i+1:] != "latest"
}

func TestPinned(t *testing.T) {
	for ref, want := range map[string]bool{
		"postgres:15.13-bookworm":                   true,
		"gcr.io/distroless/static-debian12:nonroot": true,
		"busybox@sha256:abc":                        true,
		"postgres":                                  false,
		"postgres:latest":                           false,
		"localhost:5000/pgfanout":                   false,
		"localhost:5000/pgfanout:dev":               true,
	} {
		require.Equal(t, want, pinned(ref), ref)
	}
}

func TestComposeNamedVolumes(t *testing.T) {
	p := loadProject(t, "*")
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
	p := loadProject(t, "*")
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

func TestComposeNoGuestCredentials(t *testing.T) {
	p := loadProject(t, "*")
	resolved, err := p.MarshalYAML()
	require.NoError(t, err)
	var hits []string
	for _, line := range strings.Split(string(resolved), "\n") {
		if strings.Contains(strings.ToLower(line), "guest") {
			hits = append(hits, strings.TrimSpace(line))
		}
	}
	require.Empty(t, hits, "resolved compose config (with .env) mentions guest")

	// Setting a default user is what keeps RabbitMQ from creating guest/guest.
	rmq := service(t, p, "rabbitmq").Environment
	for _, key := range []string{"RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS"} {
		require.NotNilf(t, rmq[key], "rabbitmq needs %s", key)
		require.NotEmptyf(t, *rmq[key], "rabbitmq needs %s", key)
	}
}

// The programs' environment must match the contract in docs/DESIGN.md and the
// credentials the servers were created with.
func TestComposeProgramEnvironment(t *testing.T) {
	p := loadProject(t, "*")
	for _, tc := range []struct {
		service string
		env     map[string]string // "" = any non-empty value
		urls    map[string]string // env var -> service whose credentials it must use
	}{
		{"publisher",
			map[string]string{"PGFANOUT_SOURCE_URL": "", "PGFANOUT_AMQP_URL": "", "PGFANOUT_HTTP_ADDR": "0.0.0.0:9187"},
			map[string]string{"PGFANOUT_SOURCE_URL": "source", "PGFANOUT_AMQP_URL": "rabbitmq"}},
		{"replicator",
			map[string]string{"PGFANOUT_REPLICA_URL": "", "PGFANOUT_AMQP_URL": "", "PGFANOUT_REPLICA_NAME": "replica1", "PGFANOUT_HTTP_ADDR": "0.0.0.0:9188"},
			map[string]string{"PGFANOUT_REPLICA_URL": "replica", "PGFANOUT_AMQP_URL": "rabbitmq"}},
		{"replicator2",
			map[string]string{"PGFANOUT_REPLICA_URL": "", "PGFANOUT_AMQP_URL": "", "PGFANOUT_REPLICA_NAME": "replica2"},
			map[string]string{"PGFANOUT_REPLICA_URL": "replica2", "PGFANOUT_AMQP_URL": "rabbitmq"}},
	} {
		env := service(t, p, tc.service).Environment
		for key, want := range tc.env {
			require.NotNilf(t, env[key], "%s needs %s", tc.service, key)
			if want == "" {
				require.NotEmptyf(t, *env[key], "%s: %s", tc.service, key)
			} else {
				require.Equalf(t, want, *env[key], "%s: %s", tc.service, key)
			}
		}
		for key, target := range tc.urls {
			u, err := url.Parse(*env[key])
			require.NoErrorf(t, err, "%s: %s", tc.service, key)
			require.Equalf(t, target, u.Hostname(), "%s: %s host", tc.service, key)
			user, pass := "POSTGRES_USER", "POSTGRES_PASSWORD"
			if target == "rabbitmq" {
				user, pass = "RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS"
			}
			targetEnv := service(t, p, target).Environment
			password, _ := u.User.Password()
			require.Equalf(t, *targetEnv[user], u.User.Username(), "%s: %s user", tc.service, key)
			require.Equalf(t, *targetEnv[pass], password, "%s: %s password", tc.service, key)
		}
	}
}
