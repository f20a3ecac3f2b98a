package toolchain_test

import (
	"context"
	"os/exec"
	"strconv"
	"testing"

	"github.com/aloft-dev/aloft/internal/toolchain"
	"github.com/aloft-dev/aloft/internal/toolchain/toolchaintest"
)

// TestManagedNode downloads one Node.js binary package from the npm registry
// into the cache test runs share (toolchaintest.CacheDir), so that later runs
// and other tests reuse it, then checks that a second Finder on the same
// cache finds it without fetching. It fetches with npm where npm is
// installed, else with the registry's HTTP API.
func TestManagedNode(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads from the npm registry")
	}
	cache := toolchaintest.CacheDir(t)
	// An empty search path: nothing on the host can match, so the managed
	// copy is the only answer.
	empty := t.TempDir()
	cfg := toolchain.Config{SearchPath: empty, CacheDir: cache}
	if npm, err := exec.LookPath("npm"); err == nil {
		cfg.NPM = npm
	}
	runtime := "nodejs" + strconv.Itoa(toolchaintest.ManagedNode) + ".x"
	sel, err := toolchain.New(cfg).Select(context.Background(), runtime)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Managed || sel.LambdaVersion() != strconv.Itoa(toolchaintest.ManagedNode) || sel.Warning != "" {
		t.Fatalf("selection = %+v", sel)
	}
	again := toolchain.New(toolchain.Config{SearchPath: empty, CacheDir: cache, Offline: true})
	sel2, err := again.Select(context.Background(), runtime)
	if err != nil || sel2.Path != sel.Path {
		t.Fatalf("second selection (offline, cached): %+v, %v", sel2, err)
	}
}
