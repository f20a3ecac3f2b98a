// Package backbone is aloft's connection to NATS JetStream: either a nats-server
// embedded in the aloft process, keeping its data under the data directory, or an
// existing NATS cluster that several aloft nodes share.
//
// Everything aloft must remember (credentials, the deployed stack, and later events,
// queues, timers and durable state) lives in JetStream streams and key-value buckets
// reached through a Backbone, so that moving from one process to a cluster is a
// configuration change rather than a migration.
package backbone

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config says which NATS to use. The zero value is not usable: set DataDir for an
// embedded server or URL for an external one.
type Config struct {
	// DataDir is where the embedded server keeps JetStream's files
	// (DataDir/jetstream). Ignored when URL is set.
	DataDir string
	// URL, when set, connects to an existing NATS server or cluster with JetStream
	// enabled (comma-separated URLs) instead of embedding one.
	URL string
	// Listen, when set (host:port, port 0 allowed), makes the embedded server accept
	// NATS clients over TCP there. Empty: no TCP listener at all; aloft talks to
	// its embedded server in-process, so port 4222 is never assumed free.
	Listen string
	// SyncAlways makes the embedded server fsync every JetStream write, so accepted
	// data also survives an operating-system crash (not only a crash of aloft).
	SyncAlways bool
	// ReadyTimeout bounds how long Start waits for the embedded server; 0 means 10s.
	ReadyTimeout time.Duration
}

// Backbone is a started connection to JetStream. It is safe for concurrent use.
// Create it with Start and release it with Shutdown.
type Backbone struct {
	srv *server.Server // nil for an external NATS
	nc  *nats.Conn
	js  jetstream.JetStream
}

// Start embeds and starts a nats-server (or connects to Config.URL) and returns a
// Backbone once JetStream answers.
func Start(ctx context.Context, cfg Config) (*Backbone, error) {
	b := &Backbone{}
	var opts []nats.Option
	url := cfg.URL
	if url == "" {
		if cfg.DataDir == "" {
			return nil, errors.New("backbone: DataDir or URL is required")
		}
		srv, err := startEmbedded(cfg)
		if err != nil {
			return nil, err
		}
		b.srv = srv
		opts = append(opts, nats.InProcessServer(srv))
	}
	opts = append(opts, nats.Name("aloft"), nats.MaxReconnects(-1))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.stopServer()
		return nil, fmt.Errorf("backbone: connect: %w", err)
	}
	b.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		b.close()
		return nil, fmt.Errorf("backbone: jetstream: %w", err)
	}
	b.js = js
	if _, err := js.AccountInfo(ctx); err != nil {
		b.close()
		return nil, fmt.Errorf("backbone: JetStream not available: %w", err)
	}
	return b, nil
}

func startEmbedded(cfg Config) (*server.Server, error) {
	opts := &server.Options{
		ServerName: "aloft",
		JetStream:  true,
		StoreDir:   filepath.Join(cfg.DataDir, "jetstream"),
		NoSigs:     true,
		NoLog:      true,
		SyncAlways: cfg.SyncAlways,
		DontListen: cfg.Listen == "",
	}
	if cfg.Listen != "" {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("backbone: listen address: %w", err)
		}
		opts.Host, opts.Port = host, port
		if port == 0 {
			// nats-server reads 0 as its default, 4222; -1 picks a free port.
			opts.Port = server.RANDOM_PORT
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("backbone: embedded nats-server: %w", err)
	}
	go srv.Start()
	wait := cfg.ReadyTimeout
	if wait == 0 {
		wait = 10 * time.Second
	}
	if !srv.ReadyForConnections(wait) {
		srv.Shutdown()
		return nil, fmt.Errorf("backbone: embedded nats-server not ready after %s", wait)
	}
	return srv, nil
}

// Durability says how the embedded server writes JetStream data, as the
// running server reports it: "sync always" (every write fsynced before it is
// acknowledged) or "default" (fsynced every SyncInterval). It is "external"
// when the backbone is an external NATS, whose servers' own configuration
// decides.
func (b *Backbone) Durability() string {
	if b.srv == nil {
		return "external"
	}
	if jsc := b.srv.JetStreamConfig(); jsc != nil && jsc.SyncAlways {
		return "sync always"
	}
	return "default"
}

// Conn is the NATS connection, for core NATS subscriptions and requests.
func (b *Backbone) Conn() *nats.Conn { return b.nc }

// JetStream is the JetStream context for streams, consumers, KV and object stores.
func (b *Backbone) JetStream() jetstream.JetStream { return b.js }

// ClientURL is the address NATS clients can reach the embedded server at, or ""
// when it has no TCP listener (or the backbone is external).
func (b *Backbone) ClientURL() string {
	if b.srv == nil || b.srv.Addr() == nil {
		return ""
	}
	return b.srv.ClientURL()
}

// KV opens (creating when missing) the key-value bucket with the given name.
func (b *Backbone) KV(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	kv, err := b.js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = b.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = b.js.KeyValue(ctx, bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("backbone: bucket %s: %w", bucket, err)
	}
	return kv, nil
}

// Shutdown drains the connection and stops the embedded server, if any, waiting for
// it to finish writing.
func (b *Backbone) Shutdown(ctx context.Context) error {
	var err error
	if b.nc != nil {
		if derr := b.nc.Drain(); derr != nil && !errors.Is(derr, nats.ErrConnectionClosed) {
			err = fmt.Errorf("backbone: drain: %w", derr)
		}
		for b.nc.IsDraining() {
			select {
			case <-ctx.Done():
				b.nc.Close()
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	b.stopServer()
	return err
}

func (b *Backbone) close() {
	b.nc.Close()
	b.stopServer()
}

func (b *Backbone) stopServer() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	return host, port, nil
}
