package localserver

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// RabbitCluster is several private RabbitMQ nodes on this machine joined into one cluster
// (rabbitmqctl join_cluster), each with its own node name, ports and data directory; they
// share an Erlang cookie and an epmd of their own. Stop, Kill and Start a node to see the
// cluster lose and regain it.
type RabbitCluster struct {
	Nodes []*RabbitMQ
	epmd  *exec.Cmd
}

// StartRabbitCluster starts n nodes under dir (node0, node1, …) and joins every node to the
// first. Close ends them all.
func StartRabbitCluster(ctx context.Context, dir string, n int) (*RabbitCluster, error) {
	if n < 1 {
		return nil, errors.New("a cluster needs at least one node")
	}
	bin, err := findRabbitMQ()
	if err != nil {
		return nil, err
	}
	epmdPort, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	c := &RabbitCluster{}
	if c.epmd, err = startEpmd(bin, epmdPort[0]); err != nil {
		return nil, err
	}
	cookie := newCookie()
	for i := range n {
		node, err := newRabbitNode(bin, filepath.Join(dir, fmt.Sprintf("node%d", i)), cookie, epmdPort[0], RabbitOptions{})
		if err != nil {
			_ = c.Close(context.Background())
			return nil, err
		}
		c.Nodes = append(c.Nodes, node)
	}
	// Booting is mostly waiting (Erlang start-up, feature flags), so the nodes boot together;
	// they join one at a time, as RabbitMQ wants.
	starts := make(chan error, n)
	for _, node := range c.Nodes {
		go func() { starts <- node.Start(ctx) }()
	}
	var errs []error
	for range n {
		errs = append(errs, <-starts)
	}
	err = errors.Join(errs...)
	for _, node := range c.Nodes[1:] {
		if err == nil {
			err = node.join(ctx, c.Nodes[0].Node)
		}
	}
	if err != nil {
		_ = c.Close(context.Background())
		return nil, err
	}
	return c, nil
}

// join makes the running node a member of seed's cluster. Its own (empty) data is reset.
func (r *RabbitMQ) join(ctx context.Context, seed string) error {
	for _, args := range [][]string{{"stop_app"}, {"join_cluster", seed}, {"start_app"}} {
		if err := r.Ctl(ctx, args...); err != nil {
			return fmt.Errorf("join %s to %s: %w", r.Node, seed, err)
		}
	}
	return r.awaitStartup(ctx)
}

// URLs are the nodes' AMQP URLs, in node order.
func (c *RabbitCluster) URLs() []string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = n.URL()
	}
	return urls
}

// URL is every node's URL, comma-separated, as --amqp-url and PGFANOUT_AMQP_URL take them.
func (c *RabbitCluster) URL() string { return strings.Join(c.URLs(), ",") }

// Running lists the nodes the cluster counts as running, as seen from node i.
func (c *RabbitCluster) Running(ctx context.Context, i int) ([]string, error) {
	out, err := c.Nodes[i].CtlOutput(ctx, "eval", "rabbit_nodes:all_running().")
	if err != nil {
		return nil, err
	}
	return erlangAtoms(out), nil
}

// erlangAtoms picks the node names out of an Erlang list such as
// ['a@localhost','b@localhost'].
func erlangAtoms(s string) []string {
	var atoms []string
	for _, part := range strings.Split(strings.Trim(strings.TrimSpace(s), "[]"), ",") {
		if a := strings.Trim(strings.TrimSpace(part), "'"); a != "" {
			atoms = append(atoms, a)
		}
	}
	return atoms
}

// Close stops every node, then the cluster's epmd.
func (c *RabbitCluster) Close(ctx context.Context) error {
	var errs []error
	for _, n := range c.Nodes {
		errs = append(errs, n.Stop(ctx))
	}
	stopEpmd(c.epmd)
	c.epmd = nil
	return errors.Join(errs...)
}
