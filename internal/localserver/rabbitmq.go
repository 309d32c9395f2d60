package localserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// RabbitMQ is a private RabbitMQ node with its own name, ports and data directory.
type RabbitMQ struct {
	Server string // path of rabbitmq-server
	Dir    string
	Node   string
	Port   int
	Dist   int
	cmd    *exec.Cmd
	done   chan struct{}
}

// StartRabbitMQ starts a node keeping its data in dir.
func StartRabbitMQ(ctx context.Context, dir string) (*RabbitMQ, error) {
	server := os.Getenv("PGFANOUT_TEST_RABBITMQ_SERVER")
	if server == "" {
		p, err := exec.LookPath("rabbitmq-server")
		if err != nil {
			return nil, errors.New("rabbitmq-server not found: apt-get install rabbitmq-server")
		}
		server = p
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dist, err := FreePort()
	if err != nil {
		return nil, err
	}
	r := &RabbitMQ{Server: server, Dir: dir, Port: port, Dist: dist,
		Node: "pgfanout-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(port) + "@localhost"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "enabled_plugins"), []byte("[].\n"), 0o644); err != nil {
		return nil, err
	}
	if err := chownForRabbitMQ(dir); err != nil {
		return nil, err
	}
	return r, r.Start(ctx)
}

// URL is the AMQP URL (guest is allowed on loopback).
func (r *RabbitMQ) URL() string { return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", r.Port) }

func (r *RabbitMQ) env() []string {
	return append(os.Environ(),
		"HOME="+r.Dir, // its own Erlang cookie, not the user's
		"RABBITMQ_NODENAME="+r.Node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(r.Port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(r.Dist),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(r.Dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(r.Dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(r.Dir, "pid"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(r.Dir, "enabled_plugins"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(r.Dir, "none"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(r.Dir, "none-advanced.config"),
	)
}

// Start runs the node in the background and waits until it has booted.
func (r *RabbitMQ) Start(ctx context.Context) error {
	cmd := exec.Command(r.Server)
	cmd.Env = r.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log, err := os.OpenFile(filepath.Join(r.Dir, "server.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start rabbitmq-server: %w", err)
	}
	r.cmd, r.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(r.done) }()
	// `wait` polls for the pid file and then for the app; await_startup alone fails while the
	// node has not yet registered with epmd.
	if err := r.ctl(ctx, "wait", "--timeout", "120", filepath.Join(r.Dir, "pid")); err != nil {
		_ = r.Stop(context.Background())
		return err
	}
	return nil
}

// Stop stops the node and waits for its process group to exit.
func (r *RabbitMQ) Stop(ctx context.Context) error {
	if r.cmd == nil {
		return nil
	}
	err := r.ctl(ctx, "stop")
	if err != nil {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
	}
	r.cmd = nil
	return err
}

// chownForRabbitMQ hands dir to the rabbitmq OS user when we are root: Debian's
// rabbitmq-server and rabbitmqctl drop to that user.
func chownForRabbitMQ(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("rabbitmq")
	if err != nil {
		return nil // not a packaged install; it runs as us
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return chownTree(dir, uid, gid)
}

func (r *RabbitMQ) ctl(ctx context.Context, args ...string) error {
	ctl := filepath.Join(filepath.Dir(r.Server), "rabbitmqctl")
	if _, err := os.Stat(ctl); err != nil {
		ctl = "rabbitmqctl"
	}
	cmd := exec.CommandContext(ctx, ctl, append([]string{"-n", r.Node}, args...)...)
	cmd.Env = r.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("rabbitmqctl %v: %w: %s", args, err, out)
	}
	return nil
}
