package backbone

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

func start(t *testing.T, cfg Config) *Backbone {
	t.Helper()
	b, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return b
}

// The default embedded server has no TCP listener: aloft talks to it in-process,
// so it neither needs nor takes a port (4222 may belong to someone else).
func TestEmbeddedHasNoListenerAndKeepsState(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b, err := Start(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if url := b.ClientURL(); url != "" {
		t.Fatalf("embedded server listens at %s; want no listener", url)
	}
	kv, err := b.KV(ctx, "state")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	again := start(t, Config{DataDir: dir})
	kv, err = again.KV(ctx, "state")
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "k")
	if err != nil || string(e.Value()) != "v" {
		t.Fatalf("after a restart on the same data directory: %v %q", err, e)
	}
}

// With Listen on port 0 the embedded server picks a free port, and a second
// backbone attached by URL (cluster mode's shape) sees the same state.
func TestListenPortZeroAndExternalURL(t *testing.T) {
	ctx := context.Background()
	embedded := start(t, Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	url := embedded.ClientURL()
	if url == "" || strings.HasSuffix(url, ":4222") || strings.HasSuffix(url, ":0") {
		t.Fatalf("client URL %q: want a picked port", url)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("plain NATS client: %v", err)
	}
	nc.Close()

	kv, err := embedded.KV(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "node", []byte("one")); err != nil {
		t.Fatal(err)
	}
	external := start(t, Config{URL: url})
	if external.ClientURL() != "" {
		t.Fatal("an external backbone reports a listener of its own")
	}
	kv2, err := external.KV(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kv2.Get(ctx, "node"); err != nil || string(e.Value()) != "one" {
		t.Fatalf("external backbone: %v", err)
	}
}

func TestStartNeedsDataDirOrURL(t *testing.T) {
	if _, err := Start(context.Background(), Config{}); err == nil {
		t.Fatal("Start accepted an empty Config")
	}
}
