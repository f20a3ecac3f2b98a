package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/template"
	"github.com/aloft-dev/aloft/internal/testenv"
	"github.com/aloft-dev/aloft/internal/toolchain"
	"github.com/aloft-dev/aloft/internal/toolchain/toolchaintest"
)

// TestLayerSharedByNodeAndPython deploys a template whose Node.js and Python
// functions share a local layer; the Node.js one also names a layer by an
// ARN, which is skipped with a warning. A third function is InlineCode. The
// functions declare the versions the machine has.
func TestLayerSharedByNodeAndPython(t *testing.T) {
	ctx := context.Background()
	logs := &testenv.Buffer{}
	cfg := DefaultConfig(t.TempDir())
	cfg.Endpoint = "127.0.0.1:0"
	cfg.BuildCacheDir = buildCache
	cfg.Toolchains = toolchaintest.Config(t)
	cfg.Logs = logs
	finder := toolchain.New(cfg.Toolchains)
	params := map[string]string{
		"NodeRuntime":   toolchaintest.Node(t, finder).Runtime,
		"PythonRuntime": toolchaintest.Python(t, finder).Runtime,
	}
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
	stack, err := template.Load("testdata/runtimes/template.yaml", template.Options{StackName: "runtimes", Parameters: params})
	if err != nil {
		t.Fatal(err)
	}
	dep, err := srv.Deploy(ctx, stack)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range dep.Functions {
		if fn.Err != nil {
			t.Fatalf("%s cannot run (%v): %v", fn.Name, params, fn.Err)
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

// TestVersionSelection deploys a Node.js function where the search path
// holds no Node.js (it gets a managed copy of toolchaintest.ManagedNode,
// downloaded once into the cache test runs share and reused by later runs)
// and a Python function declaring a version the search path lacks (it runs on
// the host's Python, with a warning naming both).
func TestVersionSelection(t *testing.T) {
	if testing.Short() {
		t.Skip("may download Node.js from the npm registry")
	}
	host := toolchaintest.Python(t, toolchain.New(toolchaintest.Config(t)))
	bin := t.TempDir()
	if err := os.Symlink(host.Path, filepath.Join(bin, "python"+host.LambdaVersion())); err != nil {
		t.Fatal(err)
	}
	// With npm the managed copy is fetched by `npm pack`, else through the
	// registry's HTTP API.
	if npm, err := exec.LookPath("npm"); err == nil {
		if err := os.Symlink(npm, filepath.Join(bin, "npm")); err != nil {
			t.Fatal(err)
		}
	}
	nodeRuntime := fmt.Sprintf("nodejs%d.x", toolchaintest.ManagedNode)
	pythonRuntime := "python3.9"
	if host.LambdaVersion() == "3.9" {
		pythonRuntime = "python3.10"
	}
	ctx := context.Background()
	cfg := DefaultConfig(t.TempDir())
	cfg.Endpoint = "127.0.0.1:0"
	cfg.BuildCacheDir = buildCache
	cfg.Toolchains = toolchain.Config{SearchPath: bin, CacheDir: toolchaintest.CacheDir(t)}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	stack, err := template.Load("testdata/versions/template.yaml", template.Options{StackName: "versions",
		Parameters: map[string]string{"NodeRuntime": nodeRuntime, "PythonRuntime": pythonRuntime}})
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
	nodePrefix := fmt.Sprintf("Node.js %d.", toolchaintest.ManagedNode)
	if !strings.HasPrefix(got["ManagedNode"], nodePrefix) || !strings.Contains(got["ManagedNode"], "managed, ") {
		t.Errorf("ManagedNode runs on %q", got["ManagedNode"])
	}
	if !strings.HasPrefix(got["OtherPython"], "Python "+host.Version+" ") {
		t.Errorf("OtherPython runs on %q, want %v", got["OtherPython"], host.Interpreter)
	}
	wantWarning := fmt.Sprintf("function OtherPython: runtime %s wants Python %s, which is not available; running on Python %s ",
		pythonRuntime, strings.TrimPrefix(pythonRuntime, "python"), host.Version)
	if len(dep.Warnings) != 1 || !strings.Contains(dep.Warnings[0], wantWarning) {
		t.Errorf("warnings %q, want %q", dep.Warnings, wantWarning)
	}
	n := &testNode{srv: srv, client: newClient(srv, srv.Credentials()), dep: dep}
	for fn, prefix := range map[string]string{
		"ManagedNode": fmt.Sprintf(`"v%d.`, toolchaintest.ManagedNode),
		"OtherPython": `"` + host.Version + `"`,
	} {
		out, err := n.invoke(t, fn, map[string]string{})
		if err != nil || out.FunctionError != nil || !strings.HasPrefix(string(out.Payload), prefix) {
			t.Errorf("%s: %v %s", fn, err, out.Payload)
		}
	}
}
