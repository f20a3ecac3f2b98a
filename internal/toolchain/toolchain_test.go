package toolchain

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/testenv"
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
// the shim is never run, the real installations behind it are found. The
// pyenv root is made here, its one version a copy of the host's Python, so
// the test does not depend on where (or whether) pyenv is installed.
func TestShimsAreResolved(t *testing.T) {
	var host *Interpreter
	all, _ := New(Config{}).Interpreters()
	for i := range all {
		if all[i].Language == Python {
			host = &all[i]
			break
		}
	}
	if host == nil {
		testenv.Unavailable(t, "no python3 in /usr/local/bin, /usr/bin or /bin: install Debian's python3")
	}
	pyenv := t.TempDir()
	real := filepath.Join(pyenv, "versions", host.Version, "bin", "python3")
	copyFile(t, host.Path, real, 0o755)
	writeFile(t, filepath.Join(pyenv, "libexec", "pyenv"), "#!/bin/sh\nexit 1\n", 0o755)
	// A shim that would answer with the wrong version if it were run.
	writeFile(t, filepath.Join(pyenv, "shims", "python3"), "#!/bin/sh\necho 3.0.1\n", 0o755)

	f := New(Config{SearchPath: filepath.Join(pyenv, "shims")})
	found, err := f.Interpreters()
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Path != real || found[0].Version != host.Version {
		t.Fatalf("behind the shims found %v, want only %s (Python %s)", found, real, host.Version)
	}
}

func writeFile(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(data), mode)
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
		testenv.Unavailable(t, "no python3 in /usr/local/bin, /usr/bin or /bin: install Debian's python3")
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
