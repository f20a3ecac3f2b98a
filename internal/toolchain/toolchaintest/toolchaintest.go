// Package toolchaintest picks, for tests, the Node.js and Python runtimes this
// machine can run without a version warning, so that runtime tests declare
// what the machine has (Debian bookworm's nodejs18.x and python3.11, a
// developer's Node.js 22, …) instead of one hard-coded version that would
// make them skip elsewhere. What cannot be had ends the test through
// testenv.Unavailable: a failure under CI, a skip elsewhere.
package toolchaintest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/aloft-dev/aloft/internal/testenv"
	"github.com/aloft-dev/aloft/internal/toolchain"
)

// SearchPath is where tests look for host interpreters: the toolchain
// package's default, so a test sees what `aloft up` with a plain PATH would.
const SearchPath = "/usr/local/bin:/usr/bin:/bin"

// ManagedNode is the Node.js major version tests fetch from the npm registry
// when they need a managed copy. Every test that downloads asks for this one,
// so one download into CacheDir serves them all.
const ManagedNode = 22

// CacheDir is the managed-interpreter cache shared by every test run on this
// machine (the user's cache directory, aloft-test/toolchains): a Node.js
// binary package is fetched once and reused by later runs.
func CacheDir(t testing.TB) string {
	t.Helper()
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "aloft-test", "toolchains")
}

// Config is the toolchain configuration runtime tests use: the host's
// interpreters in SearchPath, and managed copies in CacheDir.
func Config(t testing.TB) toolchain.Config {
	t.Helper()
	return toolchain.Config{SearchPath: SearchPath, CacheDir: CacheDir(t)}
}

// Node returns the Node.js runtime tests run on, selected by f without a
// warning: the newest Node.js on the host, or where there is none, a managed
// Node.js ManagedNode from f's cache (fetched once when f has a CacheDir).
func Node(t testing.TB, f *toolchain.Finder) *toolchain.Selection {
	t.Helper()
	all, err := f.Interpreters()
	if err != nil {
		testenv.Unavailable(t, "Node.js: %v", err)
	}
	runtime := ""
	for _, in := range all { // newest first
		if in.Language == toolchain.Node && !in.Managed {
			runtime = "nodejs" + in.LambdaVersion() + ".x"
			break
		}
	}
	if runtime == "" {
		runtime = "nodejs" + strconv.Itoa(ManagedNode) + ".x"
	}
	return selectExact(t, f, runtime, "install Debian's nodejs, or let the tests fetch Node.js from the npm registry")
}

// Python returns the Python runtime tests run on, selected by f without a
// warning: the python3 that SearchPath resolves to (the distribution's, the
// one .ci/run installs pip for), else the newest Python found.
func Python(t testing.TB, f *toolchain.Finder) *toolchain.Selection {
	t.Helper()
	all, err := f.Interpreters()
	if err != nil {
		testenv.Unavailable(t, "Python: %v", err)
	}
	var chosen *toolchain.Interpreter
	if p, err := filepath.EvalSymlinks(lookPath("python3")); err == nil {
		for i := range all {
			if all[i].Language == toolchain.Python && all[i].Path == p {
				chosen = &all[i]
			}
		}
	}
	for i := range all { // newest first
		if chosen == nil && all[i].Language == toolchain.Python {
			chosen = &all[i]
		}
	}
	if chosen == nil {
		testenv.Unavailable(t, "no Python 3 in %s: install Debian's python3", SearchPath)
	}
	return selectExact(t, f, "python"+chosen.LambdaVersion(), "install Debian's python3")
}

// NPM returns the npm the builder runs: the one in PATH, as build.Config's
// NPM "" means.
func NPM(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("npm")
	if err != nil {
		testenv.Unavailable(t, "no npm in PATH: install Debian's npm")
	}
	return p
}

func selectExact(t testing.TB, f *toolchain.Finder, runtime, hint string) *toolchain.Selection {
	t.Helper()
	sel, err := f.Select(context.Background(), runtime)
	if err != nil {
		testenv.Unavailable(t, "%s: %v: %s", runtime, err, hint)
	}
	if sel.Warning != "" {
		testenv.Unavailable(t, "%s: %s: %s", runtime, sel.Warning, hint)
	}
	return sel
}

func lookPath(name string) string {
	for _, dir := range filepath.SplitList(SearchPath) {
		if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return p
		}
	}
	return ""
}
