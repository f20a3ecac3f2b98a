package server

import (
	"context"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/template"
)

// TestLayerSharedByNodeAndPython deploys a template whose Node.js and Python
// functions share a local layer; the Node.js one also names a layer by an
// ARN, which is skipped with a warning.
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
