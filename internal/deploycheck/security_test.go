package deploycheck

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// envExample reads .env.example as name → value.
func envExample(t *testing.T) map[string]string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(repoRoot, ".env.example"))
	require.NoError(t, err)
	vars := map[string]string{}
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		require.Truef(t, ok, ".env.example: %q is not NAME=value", line)
		vars[name] = value
	}
	return vars
}

func secretNames(vars map[string]string) []string {
	var names []string
	for name := range vars {
		if strings.HasSuffix(name, "_PASSWORD") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Credentials come from .env: docker-compose.yml holds no password of its own (no default
// after `:-`), every secret is required, and .env itself is not committed.
func TestComposeSecretsComeFromDotEnv(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	require.NoError(t, err)
	vars := envExample(t)
	secrets := secretNames(vars)
	require.Subset(t, secrets, []string{"POSTGRES_PASSWORD", "OWNER_DB_PASSWORD", "PUBLISHER_DB_PASSWORD",
		"COPIER_DB_PASSWORD", "WRITER_DB_PASSWORD", "REPLICATOR_DB_PASSWORD", "RABBITMQ_PASSWORD", "GRAFANA_ADMIN_PASSWORD"})
	for _, name := range secrets {
		require.Containsf(t, string(raw), "${"+name+":?", "%s must be required in docker-compose.yml", name)
		require.NotRegexpf(t, `\$\{`+name+`(:?-|-)`, string(raw), "docker-compose.yml must not default %s", name)
		// URL-safe, since passwords go into connection URLs unescaped.
		require.Regexpf(t, `^[A-Za-z0-9._~-]+$`, vars[name], ".env.example: %s", name)
	}
	for _, name := range secrets {
		_, err := tryLoadProject(all, name+"=")
		require.Errorf(t, err, "compose must refuse to start without %s", name)
		require.Contains(t, err.Error(), "cp .env.example .env")
	}
	// .env holds a user's secrets: never committed (only .env.example is).
	if out, err := exec.Command("git", "-C", repoRoot, "ls-files", "--", ".env").Output(); err == nil {
		require.Empty(t, strings.TrimSpace(string(out)), ".env must not be committed")
	}
}

// sentinelEnv sets every secret to a unique value that can be searched for.
func sentinelEnv(t *testing.T) (env []string, sentinels []string) {
	for i, name := range secretNames(envExample(t)) {
		s := fmt.Sprintf("sentinel%02dsecret", i)
		env = append(env, name+"="+s)
		sentinels = append(sentinels, s)
	}
	return env, sentinels
}

var urlPassword = regexp.MustCompile(`://[^/\s:@]+:[^/\s@]+@`)

// No secret on a command line: `ps` in a container, and `docker inspect`, show commands,
// entrypoints and healthchecks to anyone. Secrets go in the environment.
func TestComposeNoSecretOnACommandLine(t *testing.T) {
	env, sentinels := sentinelEnv(t)
	p := loadProject(t, all, env...)
	for name, s := range p.Services {
		lines := map[string][]string{"command": s.Command, "entrypoint": s.Entrypoint}
		if s.HealthCheck != nil {
			lines["healthcheck"] = s.HealthCheck.Test
		}
		for what, args := range lines {
			joined := strings.Join(args, " ")
			for _, secret := range sentinels {
				require.NotContainsf(t, joined, secret, "%s: a secret in its %s", name, what)
			}
			require.NotRegexpf(t, urlPassword, joined, "%s: a URL with a password in its %s", name, what)
		}
		for key := range s.Labels {
			for _, secret := range sentinels {
				require.NotContainsf(t, s.Labels[key], secret, "%s: a secret in label %s", name, key)
			}
		}
	}
}

// Every host port listens on 127.0.0.1 only, comes from a variable of .env, and its default
// keeps clear of the ports a local PostgreSQL, RabbitMQ, Prometheus or Grafana listens on.
func TestComposeHostPorts(t *testing.T) {
	wellKnown := []int{5432, 5433, 5671, 5672, 15671, 15672, 15692, 25672, 4369, 9090, 9093, 3000, 9187, 9419}
	vars := envExample(t)
	var portVars []string
	for name := range vars {
		if strings.HasSuffix(name, "_HOST_PORT") {
			portVars = append(portVars, name)
		}
	}
	slices.Sort(portVars)
	overrides := map[string]string{} // published port → the variable that set it
	var env []string
	for i, name := range portVars {
		port, err := strconv.Atoi(vars[name])
		require.NoErrorf(t, err, ".env.example: %s", name)
		require.NotContainsf(t, wellKnown, port, ".env.example: %s=%d is a well-known port", name, port)
		o := strconv.Itoa(41000 + i)
		overrides[o] = name
		env = append(env, name+"="+o)
	}
	for _, e := range [][]string{nil, env} {
		p := loadProject(t, all, e...)
		for name, s := range p.Services {
			for _, port := range s.Ports {
				require.Equalf(t, "127.0.0.1", port.HostIP, "%s: host port %s must bind 127.0.0.1 only", name, port.Published)
				n, err := strconv.Atoi(port.Published)
				require.NoErrorf(t, err, "%s: host port %q", name, port.Published)
				require.NotContainsf(t, wellKnown, n, "%s: host port %d is a well-known port", name, n)
				if e != nil {
					require.Containsf(t, overrides, port.Published, "%s: host port %d does not come from a *_HOST_PORT variable", name, n)
				}
			}
		}
	}
}

// Each program and job connects as its own role, none as the PostgreSQL superuser, with the
// password the server created that role with.
func TestComposeRoles(t *testing.T) {
	vars, _ := sentinelEnv(t)
	p := loadProject(t, all, vars...)
	serverEnv := func(server, key string) string { return env(service(t, p, server), key) }
	for _, tc := range []struct {
		service, variable, server, role, password string
	}{
		{"migrate", "PGFANOUT_SOURCE_URL", "source", "pgfanout_owner", "OWNER_DB_PASSWORD"},
		{"publisher", "PGFANOUT_SOURCE_URL", "source", "pgfanout_publisher", "PUBLISHER_DB_PASSWORD"},
		{"status", "PGFANOUT_SOURCE_URL", "source", "pgfanout_publisher", "PUBLISHER_DB_PASSWORD"},
		{"replicator", "PGFANOUT_SOURCE_URL", "source", "pgfanout_copier", "COPIER_DB_PASSWORD"},
		{"replicator", "PGFANOUT_REPLICA_URL", "replica", "pgfanout_replicator", "REPLICATOR_DB_PASSWORD"},
		{"replicator2", "PGFANOUT_SOURCE_URL", "source", "pgfanout_copier", "COPIER_DB_PASSWORD"},
		{"replicator2", "PGFANOUT_REPLICA_URL", "replica2", "pgfanout_replicator", "REPLICATOR_DB_PASSWORD"},
		{"declare", "PGFANOUT_REPLICA_URL", "replica", "pgfanout_replicator", "REPLICATOR_DB_PASSWORD"},
	} {
		u, err := url.Parse(env(service(t, p, tc.service), tc.variable))
		require.NoErrorf(t, err, "%s: %s", tc.service, tc.variable)
		password, _ := u.User.Password()
		require.Equalf(t, tc.server, u.Hostname(), "%s: %s host", tc.service, tc.variable)
		require.Equalf(t, tc.role, u.User.Username(), "%s: %s role", tc.service, tc.variable)
		require.Equalf(t, serverEnv(tc.server, tc.password), password, "%s: %s password", tc.service, tc.variable)
	}
	for _, tc := range []struct{ service, role, password string }{
		{"grants", "pgfanout_owner", "OWNER_DB_PASSWORD"},
		{"track", "pgfanout_owner", "OWNER_DB_PASSWORD"},
		{"workload", "pgfanout_writer", "WRITER_DB_PASSWORD"},
	} {
		s := service(t, p, tc.service)
		require.Equalf(t, tc.role, env(s, "PGUSER"), "%s: PGUSER", tc.service)
		require.Equalf(t, serverEnv("source", tc.password), env(s, "PGPASSWORD"), "%s: PGPASSWORD", tc.service)
	}
	// RabbitMQ: the user the broker was created with; never guest.
	for _, name := range []string{"declare", "publisher", "replicator", "replicator2", "status"} {
		u, err := url.Parse(env(service(t, p, name), "PGFANOUT_AMQP_URL"))
		require.NoError(t, err)
		password, _ := u.User.Password()
		require.Equal(t, "rabbitmq", u.Hostname())
		require.Equalf(t, serverEnv("rabbitmq", "RABBITMQ_DEFAULT_USER"), u.User.Username(), "%s: AMQP user", name)
		require.NotEqual(t, "guest", u.User.Username())
		require.Equalf(t, serverEnv("rabbitmq", "RABBITMQ_DEFAULT_PASS"), password, "%s: AMQP password", name)
	}
	// Nothing but the servers themselves knows the superuser.
	superuser := serverEnv("source", "POSTGRES_PASSWORD")
	for name, s := range p.Services {
		if slices.Contains([]string{"source", "replica", "replica2"}, name) {
			continue
		}
		for key, v := range s.Environment {
			require.Falsef(t, v != nil && strings.Contains(*v, superuser), "%s: %s holds the superuser's password", name, key)
		}
	}
}

// The programs serve /metrics where Prometheus scrapes them, and name their replica.
func TestComposeProgramEnvironment(t *testing.T) {
	p := loadProject(t, all)
	for _, tc := range []struct{ service, key, want string }{
		{"publisher", "PGFANOUT_HTTP_ADDR", "0.0.0.0:9187"},
		{"replicator", "PGFANOUT_HTTP_ADDR", "0.0.0.0:9188"},
		{"replicator", "PGFANOUT_REPLICA_NAME", "replica1"},
		{"replicator2", "PGFANOUT_HTTP_ADDR", "0.0.0.0:9188"},
		{"replicator2", "PGFANOUT_REPLICA_NAME", "replica2"},
		{"declare", "PGFANOUT_REPLICA_NAME", "replica1"},
		{"status", "PGFANOUT_REPLICAS", "replica1,replica2"},
	} {
		require.Equalf(t, tc.want, env(service(t, p, tc.service), tc.key), "%s: %s", tc.service, tc.key)
	}
	require.Equal(t, []string{"publisher", "status", "--listen", "0.0.0.0:9189"}, []string(service(t, p, "status").Command))
}

func TestComposeNoGuestCredentials(t *testing.T) {
	p := loadProject(t, all)
	resolved, err := p.MarshalYAML()
	require.NoError(t, err)
	require.NotContains(t, strings.ToLower(string(resolved)), "guest", "resolved compose config (with .env.example) mentions guest")
	rmq := service(t, p, "rabbitmq")
	// Setting a default user is what keeps RabbitMQ from creating guest/guest.
	require.NotEmpty(t, env(rmq, "RABBITMQ_DEFAULT_USER"))
	require.NotEmpty(t, env(rmq, "RABBITMQ_DEFAULT_PASS"))
}
