package server

import (
	"context"
	"strings"
	"testing"
)

// TestSyncAlways checks what the embedded NATS server reports it runs
// with, so --sync always cannot silently be a no-op; with an external NATS
// the setting could not apply and is refused.
func TestSyncAlways(t *testing.T) {
	for _, tc := range []struct {
		sync bool
		want string
	}{{false, "default"}, {true, "sync always"}} {
		cfg := DefaultConfig(t.TempDir())
		cfg.Endpoint = "127.0.0.1:0"
		cfg.SyncAlways = tc.sync
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := srv.Durability(); got != tc.want {
			t.Errorf("SyncAlways %v: the embedded server reports %q, want %q", tc.sync, got, tc.want)
		}
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	cfg := DefaultConfig(t.TempDir())
	cfg.SyncAlways, cfg.NATSURL = true, "nats://127.0.0.1:4222"
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "sync_interval: always") {
		t.Errorf("SyncAlways with NATSURL: %v", err)
	}
}
