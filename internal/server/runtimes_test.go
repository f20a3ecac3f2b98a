package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/template"
	"github.com/aloft-dev/aloft/internal/toolchain"
)

// TestLayerSharedByNodeAndPython deploys a template whose Node.js and Python
// functions share a local layer; the Node.js one also names a layer by an
// ARN, which is skipped with a warning. A third function is InlineCode.
func TestLayerSharedByNodeAndPython(t *testing.T) {
	ctx := context.Background()
	logs := &syncBuffer{}
	cfg := DefaultConfig(t.TempDir())
	cfg.Endpoint = "127.0.0.1:0"
	cfg.BuildCacheDir = buildCache
	cfg.Logs = logs
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	stack, err := template.Load("testdata/runtimes/template.yaml", template.Options{StackName: "runtimes"})
	if err != nil {
		t.Fatal(err)
	}
	dep, err := srv.Deploy(ctx, stack)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range dep.Functions {
		if fn.Err != nil {
			t.Skipf("%s cannot run here: %v", fn.Name, fn.Err)
		}
		if fn.Interpreter == "" {
			t.Errorf("%s: no interpreter reported", fn.Name)
		}
	}
	if len(dep.Warnings) != 1 || !strings.Contains(dep.Warnings[0], "function NodeFn: layer arn:aws:lambda:us-east-1:123456789012:layer:elsewhere:3 is not a local layer") {
		t.Errorf("warnings %q", dep.Warnings)
	}
	n := &testNode{srv: srv, client: newClient(srv, srv.Credentials()), logs: logs, dep: dep}
	for fn, want := range map[string]string{
		"NodeFn":   `"hello node from the shared layer"`,
		"PythonFn": `"hello template from the shared layer"`,
		"InlineFn": `"inline"`,
	} {
		out, err := n.invoke(t, fn, map[string]string{})
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		if out.FunctionError != nil || string(out.Payload) != want {
			t.Errorf("%s answered %s (error %v)\n%s", fn, out.Payload, out.FunctionError, logs.String())
		}
	}
}

// TestVersionSelection deploys a nodejs22.x function where the search path
// holds no Node.js 22 (it gets a managed copy, downloaded once into the user's
// cache directory and reused by later runs) and a python3.9 function where
// only another Python exists (it runs on that one, with a warning).
func TestVersionSelection(t *testing.T) {
	if testing.Short() {
		t.Skip("may download Node.js from the npm registry")
	}
	base, err := os.UserCacheDir()
	if err != nil {
		t.Skip("no user cache directory")
	}
	bin := t.TempDir()
	for _, name := range []string{"python3.11", "npm"} {
		if _, err := os.Stat("/usr/bin/" + name); err != nil {
			t.Skipf("/usr/bin/%s: %v", name, err)
		}
		if err := os.Symlink("/usr/bin/"+name, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	cfg := DefaultConfig(t.TempDir())
	cfg.Endpoint = "127.0.0.1:0"
	cfg.BuildCacheDir = buildCache
	cfg.Toolchains = toolchain.Config{SearchPath: bin, CacheDir: filepath.Join(base, "aloft-test", "toolchains")}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	stack, err := template.Load("testdata/versions/template.yaml", template.Options{StackName: "versions"})
	if err != nil {
		t.Fatal(err)
	}
	dep, err := srv.Deploy(ctx, stack)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, fn := range dep.Functions {
		if fn.Err != nil {
			t.Fatalf("%s: %v", fn.Name, fn.Err)
		}
		got[fn.Name] = fn.Interpreter
	}
	if !strings.HasPrefix(got["Node22"], "Node.js 22.") || !strings.Contains(got["Node22"], "managed, ") {
		t.Errorf("Node22 runs on %q", got["Node22"])
	}
	if !strings.HasPrefix(got["Python39"], "Python 3.11.") {
		t.Errorf("Python39 runs on %q", got["Python39"])
	}
	if len(dep.Warnings) != 1 || !strings.Contains(dep.Warnings[0], "function Python39: runtime python3.9 wants Python 3.9, which is not available; running on Python 3.11.") {
		t.Errorf("warnings %q", dep.Warnings)
	}
	n := &testNode{srv: srv, client: newClient(srv, srv.Credentials()), dep: dep}
	for fn, prefix := range map[string]string{"Node22": `"v22.`, "Python39": `"3.11.`} {
		out, err := n.invoke(t, fn, map[string]string{})
		if err != nil || out.FunctionError != nil || !strings.HasPrefix(string(out.Payload), prefix) {
			t.Errorf("%s: %v %s", fn, err, out.Payload)
		}
	}
}
