package localserver

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"slices"
	"strconv"
)

// freePorts returns n distinct loopback ports nothing listens on. They are picked outside
// Linux's ephemeral range (32768+) so that outgoing connections are unlikely to take one
// while its server is stopped for a restart. Another process could still bind one before
// the server does; unlikely enough here.
func freePorts(n int) ([]int, error) {
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("no free loopback port found")
		}
		p := 10000 + mrand.IntN(22000)
		if slices.Contains(ports, p) {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		_ = l.Close()
		ports = append(ports, p)
	}
	return ports, nil
}

// loopback is the address of port on 127.0.0.1, for URLs.
func loopback(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
