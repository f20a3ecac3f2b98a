package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/aloft-dev/aloft/internal/gateway"
	"github.com/aloft-dev/aloft/internal/template"
)

// This file wires internal/gateway into the node: the HTTP listener for
// HTTP APIs and function URLs (Config.HTTP), and the route table Deploy
// replaces.

// httpGateway is the node's HTTP API listener, present when Config.HTTP is
// set.
type httpGateway struct {
	gw       *gateway.Gateway
	listener net.Listener
	serveErr chan error
}

// startGateway opens Config.HTTP and serves the (empty) route table on it.
func (s *Server) startGateway() error {
	if s.cfg.HTTP == "" {
		return nil
	}
	gw, err := gateway.New(gateway.Config{Region: s.cfg.Region, AccountID: s.cfg.AccountID, Credentials: s.creds})
	if err != nil {
		return fmt.Errorf("server: HTTP gateway: %w", err)
	}
	l, err := net.Listen("tcp", s.cfg.HTTP)
	if err != nil {
		return fmt.Errorf("server: HTTP listener: %w", err)
	}
	g := &httpGateway{gw: gw, listener: l, serveErr: make(chan error, 1)}
	s.gateway = g
	go func() { g.serveErr <- gw.Serve(l) }()
	return nil
}

// stopGateway stops the HTTP listener, waiting for requests in flight until
// ctx ends.
func (s *Server) stopGateway(ctx context.Context) error {
	g := s.gateway
	if g == nil {
		return nil
	}
	s.gateway = nil
	err := g.gw.Shutdown(ctx)
	if serveErr := <-g.serveErr; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("server: HTTP listener: %w", serveErr))
	}
	return err
}

// deployRoutes replaces the served routes with the stack's and returns the
// warnings about what is not served as written.
func (s *Server) deployRoutes(stack *template.Stack) []string {
	if s.gateway == nil {
		return nil
	}
	table, warnings := gateway.FromStack(stack, gateway.StackConfig{Functions: gatewayFunctions{s.functions}, KeySeed: s.creds.SecretAccessKey})
	s.gateway.gw.Replace(table)
	return warnings
}

// HTTPURL is the HTTP listener's base URL (http://127.0.0.1:3000), or ""
// when the node serves no HTTP APIs.
func (s *Server) HTTPURL() string {
	if s.gateway == nil {
		return ""
	}
	addr := s.gateway.listener.Addr().(*net.TCPAddr)
	ip := addr.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(addr.Port))
}

// HTTPRoutes is the route table being served; empty when the node serves
// no HTTP APIs.
func (s *Server) HTTPRoutes() *gateway.Table {
	if s.gateway == nil {
		return &gateway.Table{}
	}
	return s.gateway.gw.Table()
}

// gatewayFunctions lets the gateway resolve functions in the registry.
type gatewayFunctions struct{ r *registry }

// Lookup implements gateway.Functions.
func (g gatewayFunctions) Lookup(name string) (gateway.Invoker, string, bool) {
	f, ok := g.r.Function(name)
	if !ok {
		return nil, "", false
	}
	return f.Invoker, f.Configuration.FunctionArn, true
}
