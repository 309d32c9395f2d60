// Package health serves /metrics, /healthz and /readyz for both programs.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Server is the HTTP endpoint of a process. /healthz answers 200 while the process runs,
// except while a server refuses its login (CauseCredentials): waiting does not cure that, so
// a container healthcheck should show it (say, after a password changed in .env but not in
// the volume that keeps the roles). /readyz answers 200 only while the readiness function
// says the process does its work, and 503 otherwise, with the reason in the body either way.
type Server struct {
	addr      string
	registry  *prometheus.Registry
	readiness atomic.Pointer[func() (bool, string)]
	log       zerolog.Logger
	listener  net.Listener
}

// NewServer builds a server with its own registry, which also carries the Go and process
// collectors.
func NewServer(addr string, log zerolog.Logger) *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Server{addr: addr, registry: reg, log: log}
}

// Registry is where components register their metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// SetReadiness sets what /readyz asks; until it is set the process is not ready.
func (s *Server) SetReadiness(f func() (bool, string)) { s.readiness.Store(&f) }

// Ready asks the readiness function.
func (s *Server) Ready() (bool, string) {
	f := s.readiness.Load()
	if f == nil {
		return false, "starting"
	}
	return (*f)()
}

// Listen binds the address now, so that a bad --http-addr fails at start-up and tests can
// use port 0 and read Addr.
func (s *Server) Listen() error {
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.listener = l
	return nil
}

// Addr is the bound address (after Listen).
func (s *Server) Addr() string {
	if s.listener == nil {
		return s.addr
	}
	return s.listener.Addr().String()
}

// Run serves until ctx ends. An empty address disables the server.
func (s *Server) Run(ctx context.Context) error {
	if s.addr == "" {
		<-ctx.Done()
		return nil
	}
	if s.listener == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if ok, reason := s.Ready(); !ok && Cause(reason) == CauseCredentials {
			http.Error(w, "unhealthy: a server refused the login: "+reason, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, reason := s.Ready()
		if !ok {
			http.Error(w, "not ready: "+reason, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready: " + reason + "\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.listener) }()
	s.log.Info().Str("addr", s.Addr()).Msg("http server listening")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	<-errc
	return nil
}

// Check performs the `healthcheck` subcommand: GET http://addr/healthz.
func Check(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("healthz: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
