package build

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeModule makes a tiny Go module with a main package in dir.
func writeModule(t *testing.T, dir, msg string) {
	t.Helper()
	files := map[string]string{
		"go.mod":  "module example.com/fn\n\ngo 1.22\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(" + msg + ") }\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func run(t *testing.T, a *Artifact) string {
	t.Helper()
	out, err := exec.Command(a.Command[0], a.Command[1:]...).Output()
	if err != nil {
		t.Fatalf("run %v: %v", a.Command, err)
	}
	return string(out)
}

func TestGoBuildIsCachedByContent(t *testing.T) {
	src := t.TempDir()
	writeModule(t, src, `"one"`)
	var progress bytes.Buffer
	b, err := New(Config{CacheDir: t.TempDir(), Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{Name: "Fn", Runtime: "provided.al2023", Handler: "bootstrap", CodePath: src}
	first, err := b.Build(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if first.Cached || run(t, first) != "one" {
		t.Fatalf("first build: cached=%v output=%q", first.Cached, run(t, first))
	}
	second, err := b.Build(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Cached || second.CodeSha256 != first.CodeSha256 {
		t.Fatalf("second build of unchanged code: cached=%v sha %s vs %s", second.Cached, second.CodeSha256, first.CodeSha256)
	}
	writeModule(t, src, `"two"`)
	third, err := b.Build(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if third.Cached || run(t, third) != "two" {
		t.Fatalf("build after a change: cached=%v output=%q", third.Cached, run(t, third))
	}
	if !strings.Contains(progress.String(), "Fn: building Go") || !strings.Contains(progress.String(), "Fn: build cached") {
		t.Fatalf("progress lines missing:\n%s", progress.String())
	}
}

func TestGoBuildErrorShowsCompilerOutput(t *testing.T) {
	src := t.TempDir()
	writeModule(t, src, `undefinedName`)
	b, _ := New(Config{CacheDir: t.TempDir()})
	_, err := b.Build(context.Background(), Spec{Name: "Broken", Runtime: "provided.al2", CodePath: src})
	if err == nil || !strings.Contains(err.Error(), "build Broken") || !strings.Contains(err.Error(), "undefined: undefinedName") {
		t.Fatalf("got %v, want the compiler's message", err)
	}
}

func TestPrebuiltAndZip(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho prebuilt\n"
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := New(Config{CacheDir: t.TempDir()})
	a, err := b.Build(context.Background(), Spec{Name: "Pre", Runtime: "provided.al2023", CodePath: dir})
	if err != nil {
		t.Fatal(err)
	}
	if a.TaskRoot != dir || strings.TrimSpace(run(t, a)) != "prebuilt" {
		t.Fatalf("prebuilt: task root %s", a.TaskRoot)
	}

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("bootstrap") // no Unix mode: aloft must still make it executable
	w.Write([]byte(script))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(t.TempDir(), "fn.zip")
	if err := os.WriteFile(zipPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err = b.Build(context.Background(), Spec{Name: "Zipped", Runtime: "provided.al2023", CodePath: zipPath})
	if err != nil {
		t.Fatal(err)
	}
	if a.Cached || strings.TrimSpace(run(t, a)) != "prebuilt" {
		t.Fatalf("zip: cached=%v", a.Cached)
	}
	if a, err = b.Build(context.Background(), Spec{Name: "Zipped", Runtime: "provided.al2023", CodePath: zipPath}); err != nil || !a.Cached {
		t.Fatalf("second unzip: %v cached=%v", err, a != nil && a.Cached)
	}
}

func TestUnsupported(t *testing.T) {
	b, _ := New(Config{CacheDir: t.TempDir()})
	for _, spec := range []Spec{
		{Name: "Java", Runtime: "java21", CodePath: t.TempDir()},
		{Name: "Make", Runtime: "provided.al2023", BuildMethod: "makefile", CodePath: t.TempDir()},
	} {
		if _, err := b.Build(context.Background(), spec); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: got %v, want ErrUnsupported", spec.Name, err)
		}
	}
}

// A Go function is built as `sam build` builds it: with the lambda.norpc tag
// and cgo off.
func TestGoBuildFlags(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{
		"go.mod":   "module example.com/flags\n\ngo 1.22\n",
		"main.go":  "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(tag, \" \", cgo) }\n",
		"norpc.go": "//go:build lambda.norpc\n\npackage main\n\nconst tag = \"norpc\"\n",
		"rpc.go":   "//go:build !lambda.norpc\n\npackage main\n\nconst tag = \"rpc\"\n",
		"cgo.go":   "//go:build cgo\n\npackage main\n\nconst cgo = \"cgo-on\"\n",
		"nocgo.go": "//go:build !cgo\n\npackage main\n\nconst cgo = \"cgo-off\"\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := New(Config{CacheDir: t.TempDir()})
	// BuildMethod go1.x builds Go source whatever the runtime says, as sam build does.
	a, err := b.Build(context.Background(), Spec{Name: "Flags", Runtime: "provided.al2023", BuildMethod: "go1.x", CodePath: src})
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, a); got != "norpc cgo-off" {
		t.Fatalf("built with %q, want norpc cgo-off", got)
	}
}

// A go1.x function whose directory holds a prebuilt binary named by Handler runs
// that binary, as the go1.x runtime did.
func TestGo1xPrebuiltHandlerBinary(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte("#!/bin/sh\necho go1x\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := New(Config{CacheDir: t.TempDir()})
	a, err := b.Build(context.Background(), Spec{Name: "Old", Runtime: "go1.x", Handler: "hello", CodePath: dir})
	if err != nil {
		t.Fatal(err)
	}
	if a.Command[0] != filepath.Join(dir, "hello") || strings.TrimSpace(run(t, a)) != "go1x" {
		t.Fatalf("command %v", a.Command)
	}
}
