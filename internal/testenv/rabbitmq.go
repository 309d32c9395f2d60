package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// RabbitMQServerEnv names the rabbitmq-server script to use (scripts/test-services.sh sets
// it); without it the one on PATH is used.
const RabbitMQServerEnv = "PGFANOUT_TEST_RABBITMQ_SERVER"

// RabbitMQ is a private broker node for tests that stop and restart the broker (the shared
// one at PGFANOUT_TEST_AMQP_URL must never be stopped). It has its own node name, ports,
// epmd, Erlang cookie and data directory; Stop keeps the data, so durable queues and
// persistent messages survive a Stop/Start.
type RabbitMQ struct {
	t       testing.TB
	server  string
	ctl     string
	node    string
	port    int
	env     []string
	logFile string
	epmd    *exec.Cmd
	cmd     *exec.Cmd
	exited  chan struct{}
}

// StartRabbitMQ starts a private node and stops it, by PID, when the test ends.
func StartRabbitMQ(t testing.TB) *RabbitMQ {
	t.Helper()
	server, ctl, epmd := findRabbitMQ(t)
	dir := t.TempDir()
	ports := freePorts(t, 3)
	r := &RabbitMQ{t: t, server: server, ctl: ctl, port: ports[0],
		node: UniqueName("pgfanout-test") + "@localhost", logFile: filepath.Join(dir, "server.log")}
	r.env = r.prepare(dir, ports)
	r.epmd = exec.Command(epmd, "-port", strconv.Itoa(ports[2]), "-address", "127.0.0.1")
	if err := r.epmd.Start(); err != nil {
		t.Fatalf("start epmd: %v", err)
	}
	t.Cleanup(r.cleanup)
	r.Start()
	return r
}

// URL is the node's AMQP URL.
func (r *RabbitMQ) URL() string {
	return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", r.port)
}

// findRabbitMQ locates rabbitmq-server, rabbitmqctl and epmd. Debian's
// /usr/sbin/rabbitmq-server is a wrapper that switches to the rabbitmq user and the system
// node's home; the real script sits next to rabbitmqctl in the server's sbin.
func findRabbitMQ(t testing.TB) (server, ctl, epmd string) {
	t.Helper()
	server = os.Getenv(RabbitMQServerEnv)
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
	ctl = filepath.Join(filepath.Dir(server), "rabbitmqctl")
	epmd, _ = exec.LookPath("epmd")
	if server == "" || !executable(server) || !executable(ctl) || epmd == "" {
		t.Fatalf("rabbitmq-server (with rabbitmqctl and epmd) not found: install rabbitmq-server or set %s", RabbitMQServerEnv)
	}
	return server, ctl, epmd
}

func executable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode()&0o111 != 0
}

// prepare writes the node's files under dir and returns its environment. The node reads
// nothing from /etc/rabbitmq and shares nothing with the system node.
func (r *RabbitMQ) prepare(dir string, ports []int) []string {
	home := filepath.Join(dir, "home")
	for _, d := range []string{home, filepath.Join(dir, "mnesia"), filepath.Join(dir, "log")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			r.t.Fatalf("rabbitmq dir: %v", err)
		}
	}
	cookie := make([]byte, 16)
	_, _ = rand.Read(cookie)
	conf := fmt.Sprintf("listeners.tcp.1 = 127.0.0.1:%d\nlog.console = false\nlog.file.level = warning\n", ports[0])
	for name, content := range map[string]string{
		"home/.erlang.cookie": hex.EncodeToString(cookie),
		"enabled_plugins":     "[].", // no management plugin: nothing else listens
		"rabbitmq.conf":       conf,
		"rabbitmq-env.conf":   "",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o400); err != nil {
			r.t.Fatalf("rabbitmq file: %v", err)
		}
	}
	return append(os.Environ(),
		"HOME="+home,
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"ERL_EPMD_PORT="+strconv.Itoa(ports[2]),
		"RABBITMQ_NODENAME="+r.node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(ports[0]),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(ports[1]),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "rabbitmq.pid"),
	)
}

// Start starts the node (again) and waits until it accepts connections.
func (r *RabbitMQ) Start() {
	r.t.Helper()
	out, err := os.OpenFile(r.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatalf("rabbitmq log: %v", err)
	}
	defer out.Close()
	cmd := exec.Command(r.server)
	cmd.Env, cmd.Stdout, cmd.Stderr = r.env, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group: the VM can be killed with it
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start rabbitmq-server: %v", err)
	}
	r.cmd, r.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(r.exited)

	deadline := time.Now().Add(90 * time.Second)
	for r.ctlRun(30*time.Second, "await_startup", "--timeout", "30") != nil {
		select {
		case <-r.exited:
			r.t.Fatalf("rabbitmq-server exited during start-up; see %s", r.logFile)
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("RabbitMQ node %s did not start within 90 s; see %s", r.node, r.logFile)
		}
		time.Sleep(300 * time.Millisecond) // poll interval until the node registers with epmd
	}
}

// Stop stops the node gracefully, keeping its data.
func (r *RabbitMQ) Stop() {
	r.t.Helper()
	if r.cmd == nil {
		return
	}
	if err := r.ctlRun(60*time.Second, "stop"); err != nil {
		r.t.Logf("rabbitmqctl stop: %v; terminating the node", err)
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
	}
	select {
	case <-r.exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
	}
	r.cmd = nil
}

func (r *RabbitMQ) ctlRun(timeout time.Duration, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.ctl, append([]string{"-q", "-n", r.node}, args...)...)
	cmd.Env = r.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("rabbitmqctl %v: %w: %s", args, err, out)
	}
	return nil
}

func (r *RabbitMQ) cleanup() {
	r.Stop()
	_ = r.epmd.Process.Kill()
	_ = r.epmd.Wait()
}

// freePorts returns n distinct loopback ports nothing listens on, outside Linux's
// ephemeral range so that outgoing connections are unlikely to take them before a restart.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			t.Fatalf("no free port found")
		}
		p := 10000 + mrand.IntN(22000)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		_ = l.Close()
		dup := false
		for _, q := range ports {
			dup = dup || q == p
		}
		if !dup {
			ports = append(ports, p)
		}
	}
	return ports
}
