package localserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// RabbitMQ is a private broker node for whoever must stop and restart a broker (a shared
// one must never be stopped). It has its own node name, ports, epmd, Erlang cookie, HOME and
// data directory; Stop keeps the data, so durable queues and persistent messages survive a
// Stop/Start.
type RabbitMQ struct {
	Dir    string
	Node   string
	Port   int // AMQP
	bin    rabbitBinaries
	env    []string
	epmd   *exec.Cmd // ours alone, so that Close can end it by PID
	cmd    *exec.Cmd // the node while it runs
	exited chan struct{}
}

// StartRabbitMQ starts a node keeping its files in dir. Close ends it and its epmd.
func StartRabbitMQ(ctx context.Context, dir string) (*RabbitMQ, error) {
	bin, err := findRabbitMQ()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(3) // AMQP, Erlang distribution, epmd
	if err != nil {
		return nil, err
	}
	r := &RabbitMQ{Dir: dir, Node: uniqueNode(), Port: ports[0], bin: bin}
	if r.env, err = r.prepare(ports); err != nil {
		return nil, err
	}
	r.epmd = exec.Command(bin.epmd, "-port", strconv.Itoa(ports[2]), "-address", "127.0.0.1")
	r.epmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // ^C must not end it before the node
	if err := r.epmd.Start(); err != nil {
		return nil, fmt.Errorf("start epmd: %w", err)
	}
	if err := r.Start(ctx); err != nil {
		_ = r.Close(context.Background())
		return nil, err
	}
	return r, nil
}

// URL is the node's AMQP URL (guest may log in over loopback).
func (r *RabbitMQ) URL() string { return "amqp://guest:guest@" + loopback(r.Port) + "/" }

func (r *RabbitMQ) logFile() string { return filepath.Join(r.Dir, "server.log") }

// Start starts the (stopped) node and waits until it accepts connections.
func (r *RabbitMQ) Start(ctx context.Context) error {
	out, err := os.OpenFile(r.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(r.bin.server)
	cmd.Env, cmd.Stdout, cmd.Stderr = r.env, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group: the VM can be killed with it
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start rabbitmq-server: %w", err)
	}
	exited := make(chan struct{})
	r.cmd, r.exited = cmd, exited
	go func() { _ = cmd.Wait(); close(exited) }()
	if err := r.awaitStartup(ctx); err != nil {
		_ = r.Stop(context.Background())
		return err
	}
	return nil
}

// awaitStartup polls until the node has booted. await_startup alone fails while the node
// has not yet registered with epmd, hence the loop.
func (r *RabbitMQ) awaitStartup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for r.ctl(ctx, 30*time.Second, "await_startup", "--timeout", "30") != nil {
		select {
		case <-r.exited:
			return fmt.Errorf("rabbitmq-server exited during start-up; see %s", r.logFile())
		case <-ctx.Done():
			return fmt.Errorf("RabbitMQ node %s did not start: %w; see %s", r.Node, ctx.Err(), r.logFile())
		case <-time.After(300 * time.Millisecond):
		}
	}
	return nil
}

// Stop stops the node gracefully, keeping its data; if rabbitmqctl fails (the error is
// returned) or the node lingers, its process group is terminated. Either way the node has
// exited when Stop returns.
func (r *RabbitMQ) Stop(ctx context.Context) error {
	if r.cmd == nil {
		return nil
	}
	err := r.ctl(ctx, 60*time.Second, "stop")
	if err != nil {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
	}
	select {
	case <-r.exited:
	case <-ctx.Done():
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
	}
	r.cmd = nil
	return err
}

// Close stops the node and ends its epmd.
func (r *RabbitMQ) Close(ctx context.Context) error {
	err := r.Stop(ctx)
	if r.epmd != nil && r.epmd.Process != nil {
		_ = r.epmd.Process.Kill()
		_ = r.epmd.Wait()
		r.epmd = nil
	}
	return err
}

// Ctl runs `rabbitmqctl args...` against the node (within 30 s), for tests that reconfigure
// it (a resource alarm, a user's password).
func (r *RabbitMQ) Ctl(ctx context.Context, args ...string) error {
	return r.ctl(ctx, 30*time.Second, args...)
}

// PID is the process id of the node's rabbitmq-server script while it runs (0 otherwise):
// the leader of the process group the Erlang VM runs in.
func (r *RabbitMQ) PID() int {
	if r.cmd == nil || r.cmd.Process == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// ctl runs rabbitmqctl against the node, bounded by timeout as well as ctx.
func (r *RabbitMQ) ctl(ctx context.Context, timeout time.Duration, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin.ctl, append([]string{"-q", "-n", r.Node}, args...)...)
	cmd.Env = r.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("rabbitmqctl %v: %w: %s", args, err, out)
	}
	return nil
}
