package toolchain

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRuntime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Want
		ok   bool
	}{
		{"nodejs20.x", Want{Node, 20, 0}, true},
		{"nodejs18.x", Want{Node, 18, 0}, true},
		{"python3.12", Want{Python, 3, 12}, true},
		{"python3.9", Want{Python, 3, 9}, true},
		{"provided.al2023", Want{}, false},
		{"java21", Want{}, false},
	} {
		got, ok := ParseRuntime(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseRuntime(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNearestAndBest(t *testing.T) {
	all := []Interpreter{
		{Language: Node, Version: "20.1.0", Path: "/a/node"},
		{Language: Node, Version: "20.9.0", Path: "/b/node"},
		{Language: Node, Version: "22.3.0", Path: "/m/node", Managed: true},
		{Language: Python, Version: "3.11.2", Path: "/p311"},
		{Language: Python, Version: "3.13.0", Path: "/p313"},
	}
	if b := bestMatch(all, Want{Node, 20, 0}); b == nil || b.Path != "/b/node" {
		t.Errorf("best node 20 = %v", b)
	}
	if b := bestMatch(all, Want{Python, 3, 12}); b != nil {
		t.Errorf("best python 3.12 = %v, want none", b)
	}
	// 3.12 is as far from 3.11 as from 3.13: the newer wins.
	if n := nearest(all, Want{Python, 3, 12}); n == nil || n.Path != "/p313" {
		t.Errorf("nearest python 3.12 = %v", n)
	}
	if n := nearest(all, Want{Node, 18, 0}); n == nil || n.Path != "/b/node" {
		t.Errorf("nearest node 18 = %v", n)
	}
}

// TestShimsAreResolved puts a pyenv-style shim directory in the search path:
// the shim is never run, the real installations behind it are found.
func TestShimsAreResolved(t *testing.T) {
	const pyenv = "/root/.pyenv"
	if _, err := os.Stat(filepath.Join(pyenv, "shims", "python3")); err != nil {
		t.Skip("no pyenv on this machine")
	}
	f := New(Config{SearchPath: filepath.Join(pyenv, "shims")})
	all, err := f.Interpreters()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("found nothing behind the pyenv shims")
	}
	for _, in := range all {
		if strings.Contains(in.Path, "/shims/") || !strings.HasPrefix(in.Path, pyenv+"/versions/") {
			t.Errorf("%v: not a real pyenv installation", in)
		}
	}
}

// TestSelectMismatchWarns asks for a version the search path does not have.
func TestSelectMismatchWarns(t *testing.T) {
	f := New(Config{})
	all, _ := f.Interpreters()
	var py *Interpreter
	for i := range all {
		if all[i].Language == Python {
			py = &all[i]
			break
		}
	}
	if py == nil {
		t.Skip("no python3 in /usr/bin")
	}
	sel, err := f.Select(context.Background(), "python3.1")
	if err != nil {
		t.Fatal(err)
	}
	if sel.Warning == "" || !strings.Contains(sel.Warning, "python3.1 wants Python 3.1") || !strings.Contains(sel.Warning, "running on Python 3.") {
		t.Errorf("warning = %q", sel.Warning)
	}
	exact, err := f.Select(context.Background(), "python"+py.LambdaVersion())
	if err != nil || exact.Warning != "" {
		t.Errorf("exact python: %v, warning %q", err, exact.Warning)
	}
}

// TestManagedNode downloads one Node.js binary package from the npm registry
// into the user's cache directory, so that later runs reuse it, then checks
// that a second Finder on the same cache finds it without fetching.
func TestManagedNode(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads from the npm registry")
	}
	base, err := os.UserCacheDir()
	if err != nil {
		t.Skip("no user cache dir:", err)
	}
	cache := filepath.Join(base, "aloft-test", "toolchains")
	// An empty search path: nothing on the host can match, so the managed
	// copy is the only answer.
	empty := t.TempDir()
	f := New(Config{SearchPath: empty, CacheDir: cache, NPM: lookPath("npm", "/usr/local/bin:/usr/bin:/bin")})
	if f.cfg.NPM == "" {
		t.Skip("npm not installed")
	}
	sel, err := f.Select(context.Background(), "nodejs22.x")
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Managed || sel.LambdaVersion() != "22" || sel.Warning != "" {
		t.Fatalf("selection = %+v", sel)
	}
	again := New(Config{SearchPath: empty, CacheDir: cache, Offline: true})
	sel2, err := again.Select(context.Background(), "nodejs22.x")
	if err != nil || sel2.Path != sel.Path {
		t.Fatalf("second selection (offline, cached): %+v, %v", sel2, err)
	}
}
