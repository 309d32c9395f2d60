package localserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// RabbitMQ is a private broker node for whoever must stop and restart a broker (a shared
// one must never be stopped). It has its own node name, ports, epmd, Erlang cookie, HOME and
// data directory (a cluster's nodes share the epmd and the cookie); Stop keeps the data, so
// durable queues and persistent messages survive a Stop/Start.
type RabbitMQ struct {
	Dir    string
	Node   string
	Port   int // AMQP, or AMQP over TLS when TLS is set
	TLS    *ServerTLS
	bin    rabbitBinaries
	env    []string
	epmd   *exec.Cmd // ours alone, so that Close can end it by PID; nil for a cluster's node
	cmd    *exec.Cmd // the node while it runs
	exited chan struct{}
}

// ServerTLS makes a node accept AMQP over TLS only, from clients presenting a certificate
// signed by CAFile (RabbitMQ's verify_peer with fail_if_no_peer_cert). Files are PEM.
type ServerTLS struct{ CAFile, CertFile, KeyFile string }

// RabbitOptions configure a node started by StartRabbitMQWith.
type RabbitOptions struct {
	TLS *ServerTLS // nil: plain AMQP
}

// StartRabbitMQ starts a node keeping its files in dir. Close ends it and its epmd.
func StartRabbitMQ(ctx context.Context, dir string) (*RabbitMQ, error) {
	return StartRabbitMQWith(ctx, dir, RabbitOptions{})
}

// StartRabbitMQWith starts a node configured by opt, keeping its files in dir. Close ends it
// and its epmd.
func StartRabbitMQWith(ctx context.Context, dir string, opt RabbitOptions) (*RabbitMQ, error) {
	bin, err := findRabbitMQ()
	if err != nil {
		return nil, err
	}
	// A node that exits while booting (seen on a loaded machine, and when a port picked free
	// was taken before the node bound it) is started again, afresh: new ports, node name,
	// epmd and files (a subdirectory: the files of a node are read-only).
	var errs []error
	for attempt := 1; attempt <= 3; attempt++ {
		nodeDir := dir
		if attempt > 1 {
			nodeDir = filepath.Join(dir, fmt.Sprintf("attempt%d", attempt))
		}
		r, err := startRabbitOnce(ctx, bin, nodeDir, opt)
		if err == nil {
			return r, nil
		}
		errs = append(errs, err)
		if !errors.Is(err, errExitedInStartup) || ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// errExitedInStartup: rabbitmq-server exited before the node booted.
var errExitedInStartup = errors.New("rabbitmq-server exited during start-up")

func startRabbitOnce(ctx context.Context, bin rabbitBinaries, dir string, opt RabbitOptions) (*RabbitMQ, error) {
	epmdPort, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	epmd, err := startEpmd(bin, epmdPort[0])
	if err != nil {
		return nil, err
	}
	r, err := newRabbitNode(bin, dir, newCookie(), epmdPort[0], opt)
	if err != nil {
		stopEpmd(epmd)
		return nil, err
	}
	r.epmd = epmd
	if err := r.Start(ctx); err != nil {
		_ = r.Close(context.Background())
		return nil, err
	}
	return r, nil
}

// newRabbitNode prepares a node's files and environment; it does not start it.
func newRabbitNode(bin rabbitBinaries, dir, cookie string, epmdPort int, opt RabbitOptions) (*RabbitMQ, error) {
	ports, err := freePorts(2) // AMQP, Erlang distribution
	if err != nil {
		return nil, err
	}
	r := &RabbitMQ{Dir: dir, Node: uniqueNode(), Port: ports[0], TLS: opt.TLS, bin: bin}
	if r.env, err = r.prepare(cookie, ports[0], ports[1], epmdPort); err != nil {
		return nil, err
	}
	return r, nil
}

// startEpmd runs an Erlang port mapper of our own on port.
func startEpmd(bin rabbitBinaries, port int) (*exec.Cmd, error) {
	epmd := exec.Command(bin.epmd, "-port", strconv.Itoa(port), "-address", "127.0.0.1")
	epmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // ^C must not end it before the node
	if err := epmd.Start(); err != nil {
		return nil, fmt.Errorf("start epmd: %w", err)
	}
	return epmd, nil
}

func stopEpmd(epmd *exec.Cmd) {
	if epmd != nil && epmd.Process != nil {
		_ = epmd.Process.Kill()
		_ = epmd.Wait()
	}
}

// URL is the node's AMQP URL (guest may log in over loopback): amqps:// on a TLS node, whose
// certificate must name localhost.
func (r *RabbitMQ) URL() string {
	if r.TLS != nil {
		return "amqps://guest:guest@localhost:" + strconv.Itoa(r.Port) + "/"
	}
	return "amqp://guest:guest@" + loopback(r.Port) + "/"
}

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
			return fmt.Errorf("%w; %s ends with:\n%s", errExitedInStartup, r.logFile(), tail(r.logFile(), 2048))
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
		r.killGroup()
	case <-time.After(30 * time.Second):
		r.killGroup()
	}
	r.cmd = nil
	return err
}

// Kill ends the node at once with SIGKILL, as a crash or a power loss would: clients see
// their connections reset, nothing is flushed. Start brings it back with the data it had
// written.
func (r *RabbitMQ) Kill() {
	if r.cmd == nil {
		return
	}
	r.killGroup()
	r.cmd = nil
}

// killGroup SIGKILLs the node's process group (the Erlang VM runs in it) and waits for it.
func (r *RabbitMQ) killGroup() {
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	<-r.exited
}

// Close stops the node and ends its epmd.
func (r *RabbitMQ) Close(ctx context.Context) error {
	err := r.Stop(ctx)
	stopEpmd(r.epmd)
	r.epmd = nil
	return err
}

// Ctl runs `rabbitmqctl args...` against the node (within 30 s), for tests that reconfigure
// it (a resource alarm, a user's password).
func (r *RabbitMQ) Ctl(ctx context.Context, args ...string) error {
	_, err := r.CtlOutput(ctx, args...)
	return err
}

// CtlOutput runs `rabbitmqctl args...` against the node (within 30 s) and returns what it
// printed, for tests that inspect the node (cluster_status, list_queues).
func (r *RabbitMQ) CtlOutput(ctx context.Context, args ...string) (string, error) {
	return r.ctlOut(ctx, 30*time.Second, r.bin.ctl, args...)
}

// QueuesCtl runs `rabbitmq-queues args...` against the node (within 30 s) and returns what
// it printed (quorum_status, grow, shrink).
func (r *RabbitMQ) QueuesCtl(ctx context.Context, args ...string) (string, error) {
	return r.ctlOut(ctx, 30*time.Second, filepath.Join(filepath.Dir(r.bin.ctl), "rabbitmq-queues"), args...)
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
	_, err := r.ctlOut(ctx, timeout, r.bin.ctl, args...)
	return err
}

// ctlOut runs one of RabbitMQ's command line tools against the node.
func (r *RabbitMQ) ctlOut(ctx context.Context, timeout time.Duration, tool string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, append([]string{"-q", "-n", r.Node}, args...)...)
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %v: %w: %s", filepath.Base(tool), args, err, out)
	}
	return string(out), nil
}

// tail is the end of a log file, for errors that outlive the test's temporary directory.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
