// Package server assembles one aloft node: the backbone (JetStream), the AWS
// endpoint with its services, and the deployed stack's functions with their
// pools. cmd/aloft builds a Config, calls New, Start and Deploy, and Shutdown at
// the end; tests do the same with port 0 and a temporary data directory.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/backbone"
	"github.com/aloft-dev/aloft/internal/build"
	"github.com/aloft-dev/aloft/internal/lambdaapi"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/s3notify"
	"github.com/aloft-dev/aloft/internal/toolchain"
)

// Config configures a Server. Zero values are documented per field;
// DefaultConfig returns the values `aloft up` starts from.
type Config struct {
	// DataDir holds everything the node keeps: JetStream's files and the build
	// cache. Required.
	DataDir string
	// BuildCacheDir holds build outputs; "" means DataDir/build. Builds are keyed
	// by their inputs, so several nodes or tests may share one.
	BuildCacheDir string
	// Endpoint is the AWS endpoint's listen address (host:port; port 0 picks one).
	// "" means 127.0.0.1:4566.
	Endpoint string
	// NATSURL, when set, uses an existing NATS JetStream cluster instead of the
	// embedded server.
	NATSURL string
	// Credentials, when set, replace the key pair stored in the backbone (for
	// example from ALOFT_ACCESS_KEY and ALOFT_SECRET_KEY).
	Credentials *awsapi.Credentials
	// Region and AccountID name the stack's place in ARNs: "" means us-east-1
	// and 000000000000.
	Region, AccountID string
	// DefaultConcurrency caps each function's concurrent instances when the
	// template sets no ReservedConcurrentExecutions; 0 means 64.
	DefaultConcurrency int
	// HTTP is the listen address for HTTP APIs and function URLs (host:port;
	// port 0 picks one); "" serves none. `aloft up` sets it from --http.
	HTTP string
	// TLS serves the AWS endpoint over HTTPS with a certificate from aloft's
	// own CA (see CAPath); false means plain HTTP.
	TLS bool
	// Logs receives build progress and every function's log lines, each prefixed
	// with the function's name; nil discards them.
	Logs io.Writer
	// Toolchains says where to find Node.js and Python interpreters; its
	// CacheDir "" means DataDir/toolchains (managed Node.js copies), its
	// Progress nil means Logs.
	Toolchains toolchain.Config
	// SyncAlways makes the embedded JetStream fsync every write (--sync
	// always): accepted events then survive an operating-system crash too.
	// New refuses it together with NATSURL, where it could not apply.
	SyncAlways bool
	// Replicas is the replica count of aloft's event streams and buckets
	// (async invocations, queues, topics); 0 means 1. Set 3 with NATSURL on
	// a JetStream cluster, so the loss of a NATS server loses nothing.
	Replicas int
	// RetryBackoff is the delay before an asynchronous invocation's retry n
	// (n × RetryBackoff); 0 means 1 minute, as on Lambda.
	RetryBackoff time.Duration
}

// DefaultConfig returns the configuration `aloft up` starts from for a data
// directory.
func DefaultConfig(dataDir string) Config {
	return Config{DataDir: dataDir, Endpoint: "127.0.0.1:4566", Region: "us-east-1", AccountID: "000000000000", DefaultConcurrency: 64}
}

// Server is one aloft node. Create it with New, then Start, Deploy and finally
// Shutdown. Its methods are safe for concurrent use after Start.
type Server struct {
	cfg      Config
	bb       *backbone.Backbone
	state    jetstream.KeyValue
	creds    awsapi.Credentials
	builder  *build.Builder
	logs     *lineWriter
	listener net.Listener
	http     *http.Server
	serveErr chan error

	functions *registry
	gateway   *httpGateway // nil unless Config.HTTP is set
	ev        *eventing    // asynchronous invocations and queues (events.go)
	objects   objstore.Backend
	notifier  *s3notify.Notifier // bucket notifications (notify.go)
	// rulesWatch follows the backbone's notification rules; rulesMu
	// serializes reloading them.
	rulesWatch jetstream.KeyWatcher
	rulesMu    sync.Mutex

	mu    sync.Mutex // guards pools during Deploy and Shutdown
	pools []closer

	shutdownOnce sync.Once
	shutdownErr  error
}

type closer interface {
	Shutdown(ctx context.Context) error
}

// New validates cfg and returns an unstarted Server.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: DataDir is required")
	}
	if cfg.SyncAlways && cfg.NATSURL != "" {
		// It would configure nothing: fsync is a setting of the NATS
		// servers themselves (jetstream { sync_interval: always }).
		return nil, errors.New("server: --sync always configures the embedded NATS server; with --nats, set sync_interval: always in the NATS servers' jetstream configuration instead")
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = "127.0.0.1:4566"
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	if cfg.DefaultConcurrency == 0 {
		cfg.DefaultConcurrency = 64
	}
	if cfg.Logs == nil {
		cfg.Logs = io.Discard
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("server: data directory: %w", err)
	}
	cfg.DataDir = abs
	if cfg.BuildCacheDir == "" {
		cfg.BuildCacheDir = filepath.Join(cfg.DataDir, "build")
	}
	logs := &lineWriter{w: cfg.Logs}
	if cfg.Toolchains.CacheDir == "" {
		cfg.Toolchains.CacheDir = filepath.Join(cfg.DataDir, "toolchains")
	}
	if cfg.Toolchains.Progress == nil {
		cfg.Toolchains.Progress = logs.prefixed("toolchain")
	}
	builder, err := build.New(build.Config{
		CacheDir: cfg.BuildCacheDir, Progress: logs.prefixed("build"),
		Toolchains: toolchain.New(cfg.Toolchains),
	})
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, builder: builder, logs: logs, functions: newRegistry(), serveErr: make(chan error, 1)}, nil
}

// stateBucket is the backbone KV bucket for aloft's own state.
const stateBucket = "aloft_state"

// Start opens the backbone, loads or creates the credentials, and starts serving
// the AWS endpoint. When it returns nil the endpoint accepts connections.
func (s *Server) Start(ctx context.Context) error {
	if err := os.MkdirAll(s.cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("server: data directory: %w", err)
	}
	bb, err := backbone.Start(ctx, backbone.Config{DataDir: s.cfg.DataDir, URL: s.cfg.NATSURL, SyncAlways: s.cfg.SyncAlways})
	if err != nil {
		return err
	}
	s.bb = bb
	if s.state, err = bb.KV(ctx, stateBucket); err != nil {
		return s.abort(ctx, err)
	}
	if s.creds, err = s.loadCredentials(ctx); err != nil {
		return s.abort(ctx, err)
	}
	if err := s.startEvents(ctx); err != nil {
		return s.abort(ctx, err)
	}
	lambda := lambdaapi.New(lambdaapi.Config{Region: s.cfg.Region, AccountID: s.cfg.AccountID, Functions: s.functions, Async: s.asyncInvoker()})
	routes := []awsapi.Route{
		{SigningName: "lambda", Service: lambda, Match: lambdaapi.IsLambdaRequest},
	}
	// S3 comes after the event services: its matcher for unsigned requests is
	// the broadest.
	routes = append(routes, s.eventRoutes()...)
	s3, err := s.storageRoute(ctx)
	if err != nil {
		return s.abort(ctx, err)
	}
	routes = append(routes, s3)
	router, err := awsapi.NewRouter(awsapi.Config{
		Credentials:     s.creds,
		MaxBufferedBody: lambdaapi.MaxPayloadBytes,
		Routes:          routes,
	})
	if err != nil {
		return s.abort(ctx, err)
	}
	if err := s.startGateway(); err != nil {
		return s.abort(ctx, err)
	}
	l, err := net.Listen("tcp", s.cfg.Endpoint)
	if err != nil {
		return s.abort(ctx, fmt.Errorf("server: AWS endpoint: %w", err))
	}
	if l, err = s.serveTLS(l); err != nil {
		return s.abort(ctx, err)
	}
	s.listener = l
	s.http = &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}
	go func() { s.serveErr <- s.http.Serve(l) }()
	return nil
}

func (s *Server) abort(ctx context.Context, err error) error {
	err = errors.Join(err, s.stopGateway(ctx))
	if shutdownErr := s.bb.Shutdown(ctx); shutdownErr != nil {
		return errors.Join(err, shutdownErr)
	}
	return err
}

// loadCredentials returns the configured key pair, or the one stored in the
// backbone, generating and storing one on first start.
func (s *Server) loadCredentials(ctx context.Context) (awsapi.Credentials, error) {
	if s.cfg.Credentials != nil {
		return *s.cfg.Credentials, nil
	}
	const key = "credentials"
	entry, err := s.state.Get(ctx, key)
	if err == nil {
		var c awsapi.Credentials
		if err := json.Unmarshal(entry.Value(), &c); err != nil {
			return c, fmt.Errorf("server: stored credentials: %w", err)
		}
		return c, nil
	}
	if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return awsapi.Credentials{}, fmt.Errorf("server: load credentials: %w", err)
	}
	c, err := awsapi.GenerateCredentials()
	if err != nil {
		return c, err
	}
	b, _ := json.Marshal(c)
	if _, err := s.state.Create(ctx, key, b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return s.loadCredentials(ctx) // another node created them first
		}
		return c, fmt.Errorf("server: store credentials: %w", err)
	}
	return c, nil
}

// Credentials is the key pair that signs requests to this node.
func (s *Server) Credentials() awsapi.Credentials { return s.creds }

// Region is the region in the node's ARNs.
func (s *Server) Region() string { return s.cfg.Region }

// Durability is how the backbone writes JetStream data: "sync always",
// "default", or "external" (a NATS cluster configured on its own), as the
// running NATS server reports it.
func (s *Server) Durability() string { return s.bb.Durability() }

// EndpointURL is the AWS endpoint's URL with an IP literal host
// (http://127.0.0.1:4566, https:// with Config.TLS), the form functions and
// clients are given, since the AWS SDKs use path-style S3 addressing only for
// IP hosts.
func (s *Server) EndpointURL() string {
	addr := s.listener.Addr().(*net.TCPAddr)
	ip := addr.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	scheme := "http://"
	if s.cfg.TLS {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(ip.String(), strconv.Itoa(addr.Port))
}

// Shutdown stops serving, stops every function instance and closes the
// backbone. It waits for in-flight requests until ctx ends. Calling it again
// returns the first call's result (a test that restarts a node shuts it down
// before its cleanup does).
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) error {
	var errs []error
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("server: endpoint: %w", err))
		}
		if err := <-s.serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("server: endpoint: %w", err))
		}
	}
	if err := s.stopGateway(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.shutdownEvents(ctx); err != nil {
		errs = append(errs, err)
	}
	if s.rulesWatch != nil {
		if err := s.rulesWatch.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("server: watch bucket notifications: %w", err))
		}
	}
	s.mu.Lock()
	pools := s.pools
	s.pools = nil
	s.mu.Unlock()
	for _, p := range pools {
		if err := p.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.bb != nil {
		if err := s.bb.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
