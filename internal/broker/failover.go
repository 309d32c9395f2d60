package broker

import (
	"context"
	"errors"
	"time"
)

// failoverStagger is how long a node may take to accept a connection before dialAny also
// tries the next one. A node that is down refuses at once, and the next is tried then; one
// cut off by a partition, or frozen, lets the attempt wait (up to --io-timeout), and this
// bounds what it costs.
const failoverStagger = time.Second

// dialAny connects to the first of urls that accepts: it tries them in order, each as soon
// as the one before failed or has been trying for failoverStagger, several attempts in flight
// at once when nodes are slow. The first connection to open wins; the attempts still in
// flight are cancelled, and a connection that opened too late is closed. When every node
// fails, the error lists each node's.
func dialAny(ctx context.Context, cfg DialConfig, urls []string) (*Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		conn *Conn
		err  error
	}
	results := make(chan result, len(urls)) // buffered: no attempt ever blocks on it
	launched, pending := 0, 0
	launch := func() {
		url := urls[launched]
		launched++
		pending++
		go func() {
			c, err := dialNode(ctx, cfg, url)
			results <- result{c, err}
		}()
	}
	stagger := time.NewTimer(failoverStagger)
	defer stagger.Stop()
	launch()
	var errs []error
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			if r.err == nil {
				cancel()
				for ; pending > 0; pending-- { // cancelled: they end at once
					if late := <-results; late.conn != nil {
						late.conn.Close(0)
					}
				}
				return r.conn, nil
			}
			errs = append(errs, r.err)
			if launched < len(urls) && ctx.Err() == nil {
				launch()
				stagger.Reset(failoverStagger)
			}
		case <-stagger.C:
			if launched < len(urls) {
				launch()
				stagger.Reset(failoverStagger)
			}
		}
	}
	return nil, errors.Join(errs...)
}
