package localserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Postgres is a private PostgreSQL cluster: its own data directory, port and socket
// directory. Stop and Start keep the data, so a client can see the server restart.
type Postgres struct {
	BinDir string
	Dir    string
	Port   int
	opts   string              // server options, passed again on every start
	cred   *syscall.Credential // the postgres OS user when running as root (initdb refuses root)
}

// StartPostgres initialises a cluster in dir (created if missing, and holding no previous
// cluster) and starts it. settings are extra name=value server settings (e.g.
// "wal_level=logical"); they are passed on every start. Stop or Kill it; removing dir is the
// caller's business.
func StartPostgres(ctx context.Context, dir string, settings ...string) (*Postgres, error) {
	return startPostgres(ctx, dir, nil, settings)
}

// StartPostgresTLS is StartPostgres for a server that also accepts TLS connections (ssl=on)
// with the PEM certificate and key in certFile and keyFile, which it copies into dir for the
// server's user (PostgreSQL refuses a key that others may read). Clients that verify it use
// the certificate's CA as sslrootcert.
func StartPostgresTLS(ctx context.Context, dir, certFile, keyFile string, settings ...string) (*Postgres, error) {
	tls := func(p *Postgres) ([]string, error) {
		crt, key := filepath.Join(p.Dir, "server.crt"), filepath.Join(p.Dir, "server.key")
		for src, dst := range map[string]string{certFile: crt, keyFile: key} {
			if err := p.copyOwned(src, dst); err != nil {
				return nil, err
			}
		}
		return []string{"ssl=on", "ssl_cert_file=" + crt, "ssl_key_file=" + key}, nil
	}
	return startPostgres(ctx, dir, tls, settings)
}

// startPostgres is StartPostgres; files, when set, writes files into the prepared dir and
// returns the settings that name them.
func startPostgres(ctx context.Context, dir string, files func(*Postgres) ([]string, error), settings []string) (*Postgres, error) {
	bin, err := PostgresBinDir()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	p := &Postgres{BinDir: bin, Dir: dir, Port: ports[0]}
	if err := p.prepareDir(); err != nil {
		return nil, err
	}
	if files != nil {
		more, err := files(p)
		if err != nil {
			return nil, err
		}
		settings = append(more, settings...)
	}
	p.opts = fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", p.Port, dir)
	for _, s := range settings {
		p.opts += " -c " + s
	}
	if err := p.run(ctx, "initdb", "-D", p.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		return nil, err
	}
	if err := p.Start(ctx); err != nil {
		_ = p.Kill() // pg_ctl may have given up waiting on a server that did start
		return nil, err
	}
	return p, nil
}

// copyOwned copies src to dst, readable only by the server's user.
func (p *Postgres) copyOwned(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		return err
	}
	if p.cred == nil {
		return nil
	}
	return os.Chown(dst, int(p.cred.Uid), int(p.cred.Gid))
}

// URL is the connection URL of database db, as the postgres superuser.
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", loopback(p.Port), db)
}

// Start starts the stopped cluster on its port with its data and settings, and waits until
// it accepts connections.
func (p *Postgres) Start(ctx context.Context) error {
	return p.run(ctx, "pg_ctl", "-D", p.data(), "-o", p.opts, "-l", p.logFile(), "-w", "-t", "60", "-s", "start")
}

// Stop shuts the server down in fast mode: open sessions are cut, as in a server restart.
func (p *Postgres) Stop(ctx context.Context) error {
	return p.run(ctx, "pg_ctl", "-D", p.data(), "-m", "fast", "-w", "-t", "60", "-s", "stop")
}

// Kill stops the server at once (immediate mode) if it runs: for cleanup, where nothing is
// worth waiting for. It does not take a context so that it also works after cancellation.
func (p *Postgres) Kill() error {
	return p.run(context.Background(), "pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "-t", "30", "-s", "stop")
}

// PostmasterPID is the server's process id, read from its postmaster.pid.
func (p *Postgres) PostmasterPID() (int, error) {
	b, err := os.ReadFile(filepath.Join(p.data(), "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("read postmaster.pid: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, fmt.Errorf("postmaster.pid: %w", err)
	}
	return pid, nil
}

func (p *Postgres) data() string    { return filepath.Join(p.Dir, "data") }
func (p *Postgres) logFile() string { return filepath.Join(p.Dir, "server.log") }

// run executes a PostgreSQL tool; a failure carries its output and the server log.
func (p *Postgres) run(ctx context.Context, tool string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(p.BinDir, tool), args...)
	// The postmaster must not be in our process group, or ^C would reach it before Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.cred}
	cmd.Dir = p.Dir // the postgres user may not be allowed into our working directory
	out, err := cmd.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(p.logFile())
		return fmt.Errorf("%s: %w\n%s\nserver log:\n%s", tool, err, out, log)
	}
	return nil
}

// prepareDir creates dir and, when running as root, hands it to the postgres OS user:
// PostgreSQL refuses to run as root.
func (p *Postgres) prepareDir() error {
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return nil
	}
	cred, err := postgresUser()
	if err != nil {
		return err
	}
	p.cred = cred
	if err := letTraverse(filepath.Dir(p.Dir)); err != nil {
		return err
	}
	return os.Chown(p.Dir, int(cred.Uid), int(cred.Gid))
}

// letTraverse lets other users through dir and its ancestors: temp dirs are 0700 root, and
// the server's user must reach its own directory inside one.
func letTraverse(dir string) error {
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, st.Mode().Perm()|0o011); err != nil {
				return err
			}
		}
	}
	return nil
}
