package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// defaultReplicaName derives a stable name from the replica's host, port and database, so
// that every replicator pointed at the same replica shares one queue. Characters other than
// letters, digits, '.', '-' and '_' become '_'; when that loses information a short hash of
// the exact triple keeps distinct replicas apart.
func defaultReplicaName(url string) (string, error) {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return "", fmt.Errorf("--replica-url: %w", err) // pgconn hides the password
	}
	port := strconv.Itoa(int(cfg.Port))
	name, lossy := sanitize(cfg.Host + "_" + port + "_" + cfg.Database)
	if lossy {
		sum := sha256.Sum256([]byte(cfg.Host + "\x00" + port + "\x00" + cfg.Database))
		name += "_" + hex.EncodeToString(sum[:4])
	}
	return name, nil
}

func sanitize(s string) (string, bool) {
	lossy := false
	out := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		lossy = true
		return '_'
	}, s)
	return out, lossy
}
