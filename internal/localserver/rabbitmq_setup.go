package localserver

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// RabbitMQServerEnv names the rabbitmq-server script to use (scripts/test-services.sh sets
// it); without it the one on PATH is used.
const RabbitMQServerEnv = "PGFANOUT_TEST_RABBITMQ_SERVER"

// rabbitBinaries are the programs a node needs.
type rabbitBinaries struct{ server, ctl, epmd string }

// findRabbitMQ locates rabbitmq-server, rabbitmqctl and epmd. Debian's
// /usr/sbin/rabbitmq-server is a wrapper that switches to the rabbitmq user and the system
// node's home; the real script sits next to rabbitmqctl in the server's sbin, and running
// it directly keeps the node ours (same user, our HOME and cookie) even as root.
func findRabbitMQ() (rabbitBinaries, error) {
	server := os.Getenv(RabbitMQServerEnv)
	if server == "" {
		server, _ = exec.LookPath("rabbitmq-server")
	}
	if server != "" {
		if real, err := filepath.EvalSymlinks(server); err == nil {
			server = real
		}
		if filepath.Base(server) == "rabbitmq-script-wrapper" {
			server, _ = filepath.EvalSymlinks(filepath.Join(filepath.Dir(server), "rabbitmq-server"))
		}
	}
	b := rabbitBinaries{server: server, ctl: filepath.Join(filepath.Dir(server), "rabbitmqctl")}
	b.epmd, _ = exec.LookPath("epmd")
	if server == "" || !executable(b.server) || !executable(b.ctl) || b.epmd == "" {
		return b, fmt.Errorf("rabbitmq-server (with rabbitmqctl and epmd) not found: install rabbitmq-server or set %s", RabbitMQServerEnv)
	}
	return b, nil
}

func executable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode()&0o111 != 0
}

// uniqueNode is a node name no other node on this host has, so that rabbitmqctl never
// reaches the wrong one.
func uniqueNode() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "pgfanout-" + hex.EncodeToString(b) + "@localhost"
}

// newCookie is a fresh Erlang cookie: nodes and tools that share it may talk to each other.
func newCookie() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// prepare writes the node's files under r.Dir and returns its environment. The node reads
// nothing from /etc/rabbitmq and shares nothing (cookie, epmd, data) with the system node.
func (r *RabbitMQ) prepare(cookie string, amqpPort, distPort, epmdPort int) ([]string, error) {
	dir := r.Dir
	home := filepath.Join(dir, "home")
	for _, d := range []string{home, filepath.Join(dir, "mnesia"), filepath.Join(dir, "log")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	for name, content := range map[string]string{
		"home/.erlang.cookie": cookie,
		"enabled_plugins":     "[].", // no management plugin: nothing else listens
		"rabbitmq.conf":       r.config(amqpPort),
		"rabbitmq-env.conf":   "",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o400); err != nil {
			return nil, err
		}
	}
	env := append(os.Environ(),
		"HOME="+home,
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"ERL_EPMD_PORT="+strconv.Itoa(epmdPort),
		"RABBITMQ_NODENAME="+r.Node,
		"RABBITMQ_DIST_PORT="+strconv.Itoa(distPort),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "rabbitmq.pid"),
	)
	if r.TLS == nil {
		// These configure the plain listener, which a TLS node must not have.
		env = append(env, "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1", "RABBITMQ_NODE_PORT="+strconv.Itoa(amqpPort))
	}
	return env, nil
}

// config is the node's rabbitmq.conf: one loopback listener, plain or TLS.
func (r *RabbitMQ) config(amqpPort int) string {
	conf := "log.console = false\nlog.file.level = warning\n"
	if r.TLS == nil {
		return conf + fmt.Sprintf("listeners.tcp.1 = %s\n", loopback(amqpPort))
	}
	return conf + fmt.Sprintf(`listeners.tcp = none
listeners.ssl.1 = %s
ssl_options.cacertfile = %s
ssl_options.certfile = %s
ssl_options.keyfile = %s
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
`, loopback(amqpPort), r.TLS.CAFile, r.TLS.CertFile, r.TLS.KeyFile)
}
