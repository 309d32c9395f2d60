package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
)

// PGBinDirEnv names the directory holding initdb and pg_ctl (scripts/test-services.sh sets it).
const PGBinDirEnv = "PGFANOUT_TEST_PG_BINDIR"

// ErrNoPostgres means no PostgreSQL server binaries were found.
var ErrNoPostgres = errors.New("no PostgreSQL server binaries (initdb, pg_ctl): set " + PGBinDirEnv)

// Postgres is a private PostgreSQL instance: its own data directory, port and socket
// directory. Stop and Start keep the data, so a client can see the server restart.
type Postgres struct {
	URL    string // admin URL of database postgres
	dir    string
	bindir string
	opts   string              // server options, passed again on every start
	cred   *syscall.Credential // the postgres OS user when running as root (initdb refuses root)
}

// StartPostgres starts a private instance in t.TempDir, stopped when the test ends; settings
// are extra name=value server settings (e.g. "wal_level=logical"). The test is skipped if no
// PostgreSQL server binaries are installed.
func StartPostgres(t testing.TB, settings ...string) *Postgres {
	t.Helper()
	p, err := NewPostgres(t.TempDir(), settings...)
	if errors.Is(err, ErrNoPostgres) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewPostgres initializes and starts an instance in dir (which must exist and be empty of a
// previous instance). Close stops it; removing dir is the caller's business.
func NewPostgres(dir string, settings ...string) (*Postgres, error) {
	bindir := pgBinDir()
	if bindir == "" {
		return nil, ErrNoPostgres
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &Postgres{dir: dir, bindir: bindir, URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	p.opts = fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", port, dir)
	for _, s := range settings {
		p.opts += " -c " + s
	}
	if err := p.prepareDir(); err != nil {
		return nil, err
	}
	if err := p.run("initdb", "-D", p.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "-N"); err != nil {
		return nil, err
	}
	return p, p.start()
}

// Stop shuts the server down (fast mode: open sessions are disconnected).
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	if err := p.run("pg_ctl", "-D", p.data(), "-m", "fast", "-w", "-t", "60", "-s", "stop"); err != nil {
		t.Fatal(err)
	}
}

// Start starts the stopped server on its port with its data and settings.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
}

// Close stops the server at once if it runs.
func (p *Postgres) Close() {
	_ = p.command("pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "-t", "30", "-s", "stop").Run()
}

func (p *Postgres) start() error {
	return p.run("pg_ctl", "-D", p.data(), "-o", p.opts, "-l", p.logFile(), "-w", "-t", "60", "-s", "start")
}

func (p *Postgres) data() string    { return filepath.Join(p.dir, "data") }
func (p *Postgres) logFile() string { return filepath.Join(p.dir, "server.log") }

// prepareDir lets the postgres OS user into dir when running as root.
func (p *Postgres) prepareDir() error {
	if os.Geteuid() != 0 {
		return nil
	}
	cred, err := postgresUser()
	if err != nil {
		return err
	}
	p.cred = cred
	// Temp dirs are 0700 root: the server's user must traverse dir's parent and own dir.
	for _, d := range []string{filepath.Dir(p.dir), p.dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	return os.Chown(p.dir, int(cred.Uid), int(cred.Gid))
}

func (p *Postgres) run(prog string, args ...string) error {
	out, err := p.command(prog, args...).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(p.logFile())
		return fmt.Errorf("%s: %w\n%s\nserver log:\n%s", prog, err, out, log)
	}
	return nil
}

func (p *Postgres) command(prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bindir, prog), args...)
	// The postmaster must not be in the test's process group, or ^C would reach it first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.cred}
	cmd.Dir = p.dir
	return cmd
}

// pgBinDir is $PGFANOUT_TEST_PG_BINDIR or the newest /usr/lib/postgresql/*/bin.
func pgBinDir() string {
	if d := os.Getenv(PGBinDirEnv); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

func majorOf(bindir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return n
}

func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and no postgres OS user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort asks the kernel for a free port. Another process could take it before the server
// binds it; unlikely enough here.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
