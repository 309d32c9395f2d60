package localserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
)

// PGBinDirEnv names the directory holding initdb and pg_ctl (scripts/test-services.sh sets
// it), for machines where they are neither in /usr/lib/postgresql nor on PATH.
const PGBinDirEnv = "PGFANOUT_TEST_PG_BINDIR"

// ErrNoPostgres means no PostgreSQL server binaries were found; tests skip on it.
var ErrNoPostgres = errors.New("no PostgreSQL server binaries (initdb, pg_ctl): install postgresql or set " + PGBinDirEnv)

// PostgresBinDir finds initdb and pg_ctl: $PGFANOUT_TEST_PG_BINDIR, the newest
// /usr/lib/postgresql/*/bin (Debian keeps them off PATH), or PATH.
func PostgresBinDir() (string, error) {
	if d := os.Getenv(PGBinDirEnv); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNoPostgres
}

// majorOf is the major version in a /usr/lib/postgresql/<major>/bin path.
func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// postgresUser is the OS user to run PostgreSQL as when we are root.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and no postgres OS user to run PostgreSQL as: %w", err)
	}
	return &syscall.Credential{Uid: strconvID(u.Uid), Gid: strconvID(u.Gid)}, nil
}

// strconvID parses a numeric user or group ID from os/user.
func strconvID(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}
