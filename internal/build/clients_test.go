package build

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/runtime"
	"github.com/aloft-dev/aloft/internal/testenv"
	"github.com/aloft-dev/aloft/internal/toolchain"
	"github.com/aloft-dev/aloft/internal/toolchain/toolchaintest"
)

// writeFiles lays out files (name → content) under a new temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fn is a built function with a running pool.
type fn struct {
	t    *testing.T
	art  *Artifact
	pool *runtime.Pool
	logs *testenv.Buffer
}

// startFunction builds spec and starts a pool for it; both end with the test.
func startFunction(t *testing.T, b *Builder, spec Spec) *fn {
	t.Helper()
	art, err := b.Build(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Buffer{}
	env := map[string]string{}
	for k, v := range art.Env {
		env[k] = v
	}
	pool, err := runtime.NewPool(runtime.PoolConfig{
		Function: runtime.FunctionSpec{
			Name: spec.Name, Runtime: spec.Runtime, Handler: spec.Handler,
			Command: art.Command, TaskRoot: art.TaskRoot, Timeout: 30 * time.Second, MemoryMB: 256,
			Env: env,
		},
		Logs: logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Shutdown(context.Background()) })
	return &fn{t: t, art: art, pool: pool, logs: logs}
}

// invoke sends payload and returns the response, failing the test on a Go
// error (function errors are in the response).
func (f *fn) invoke(payload string) *runtime.Response {
	f.t.Helper()
	resp, err := f.pool.Invoke(context.Background(), &runtime.Request{Payload: []byte(payload)})
	if err != nil {
		f.t.Fatalf("invoke: %v\nlogs:\n%s", err, f.logs.String())
	}
	return resp
}

// decode unmarshals a response payload into a map.
func decode(t *testing.T, resp *runtime.Response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(resp.Payload, &m); err != nil {
		t.Fatalf("payload %q: %v", resp.Payload, err)
	}
	return m
}

// newBuilder returns a Builder whose toolchains are the host's interpreters
// plus the managed copies test runs share (toolchaintest.Config).
func newBuilder(t *testing.T) *Builder {
	t.Helper()
	b, err := New(Config{CacheDir: t.TempDir(), Toolchains: toolchain.New(toolchaintest.Config(t))})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nodeRuntime is the Node.js runtime b runs without a version warning
// ("nodejs20.x" where the host has Node.js 20, "nodejs18.x" on Debian
// bookworm); pythonRuntime likewise for Python.
func nodeRuntime(t *testing.T, b *Builder) *toolchain.Selection {
	t.Helper()
	return toolchaintest.Node(t, b.cfg.Toolchains)
}

func pythonRuntime(t *testing.T, b *Builder) *toolchain.Selection {
	t.Helper()
	return toolchaintest.Python(t, b.cfg.Toolchains)
}

const nodeContextHandler = `
  const ctx = context;
  return {
    event,
    awsRequestId: ctx.awsRequestId,
    functionName: ctx.functionName,
    functionVersion: ctx.functionVersion,
    invokedFunctionArn: ctx.invokedFunctionArn,
    memoryLimitInMB: ctx.memoryLimitInMB,
    logGroupName: ctx.logGroupName,
    logStreamName: ctx.logStreamName,
    remaining: ctx.getRemainingTimeInMillis(),
    waits: ctx.callbackWaitsForEmptyEventLoop,
    execEnv: process.env.AWS_EXECUTION_ENV,
  };`

func TestNodeHandlers(t *testing.T) {
	b := newBuilder(t)
	node := nodeRuntime(t, b)
	code := writeFiles(t, map[string]string{
		// CommonJS, async.
		"cjs.js": "exports.handler = async (event, context) => {" + nodeContextHandler + "\n};\n",
		// CommonJS, callback style; the result is sent once the timer has run.
		"callback.js": `exports.handler = (event, context, callback) => {
  const result = { style: "callback", late: false, n: event.n };
  setTimeout(() => { result.late = true; }, 20);
  callback(null, result); // sent once the event loop is empty: after the timer
};
exports.nested = { deeper: async () => "nested" };
exports.noWait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => {}, 60000);
  callback(null, "sent at once");
};
exports.fails = async () => { throw new TypeError("bad input"); };
exports.cbError = (event, context, callback) => callback(new Error("via callback"));
exports.lateReject = async () => { setTimeout(() => Promise.reject(new Error("after the response")), 10); return "answered"; };
exports.logs = async (event) => { console.log("hello %s", event.who); console.error("oops"); return "logged"; };
`,
		// ES module by extension.
		"esm.mjs": "export const handler = async (event, context) => {" + nodeContextHandler + "\n};\n" +
			`export const reject = async () => { Promise.reject(new Error("nobody waits")); await new Promise(r => setTimeout(r, 1000)); return "late"; };
export const uncaught = async () => { setTimeout(() => { throw new RangeError("thrown later"); }, 0); await new Promise(r => setTimeout(r, 1000)); return "late"; };
`,
		// ES module by "type": "module".
		"mod/package.json": `{"type": "module"}`,
		"mod/app.js":       "import { sep } from 'node:path';\nexport async function handler(event) { return { esm: true, sep }; }\n",
	})
	spec := func(handler string) Spec {
		return Spec{Name: "node-" + strings.ReplaceAll(handler, "/", "-"), Runtime: node.Runtime, Handler: handler, CodePath: code}
	}

	t.Run("CommonJSContext", func(t *testing.T) {
		f := startFunction(t, b, spec("cjs.handler"))
		resp := f.invoke(`{"x":1}`)
		if resp.FunctionError != "" {
			t.Fatalf("error: %s\n%s", resp.Payload, f.logs.String())
		}
		m := decode(t, resp)
		checkNodeContext(t, m, resp.RequestID, "node-cjs.handler", node.Runtime)
		if !strings.Contains(f.art.Runtime, "Node.js "+node.LambdaVersion()+".") {
			t.Errorf("Runtime = %q", f.art.Runtime)
		}
	})
	t.Run("ESModuleContext", func(t *testing.T) {
		f := startFunction(t, b, spec("esm.handler"))
		resp := f.invoke(`{"x":1}`)
		checkNodeContext(t, decode(t, resp), resp.RequestID, "node-esm.handler", node.Runtime)
	})
	t.Run("TypeModule", func(t *testing.T) {
		f := startFunction(t, b, spec("mod/app.handler"))
		if got := string(f.invoke(`{}`).Payload); got != `{"esm":true,"sep":"/"}` {
			t.Fatalf("payload %s", got)
		}
	})
	t.Run("Callback", func(t *testing.T) {
		f := startFunction(t, b, spec("callback.handler"))
		m := decode(t, f.invoke(`{"n":7}`))
		if m["style"] != "callback" || m["n"] != 7.0 || m["late"] != true {
			t.Fatalf("payload %v", m)
		}
		// A second invocation reuses the warm instance.
		resp := f.invoke(`{"n":8}`)
		if decode(t, resp)["n"] != 8.0 || resp.InitDuration != 0 {
			t.Fatalf("warm invocation: %s init %v", resp.Payload, resp.InitDuration)
		}
	})
	t.Run("NestedExport", func(t *testing.T) {
		f := startFunction(t, b, spec("callback.nested.deeper"))
		if got := string(f.invoke(`{}`).Payload); got != `"nested"` {
			t.Fatalf("payload %s", got)
		}
	})
	t.Run("CallbackNoWait", func(t *testing.T) {
		f := startFunction(t, b, spec("callback.noWait"))
		if got := string(f.invoke(`{}`).Payload); got != `"sent at once"` {
			t.Fatalf("payload %s", got)
		}
	})
	t.Run("HandledErrors", func(t *testing.T) {
		f := startFunction(t, b, spec("callback.fails"))
		resp := f.invoke(`{}`)
		m := decode(t, resp)
		if resp.FunctionError != "Unhandled" || m["errorType"] != "TypeError" || m["errorMessage"] != "bad input" {
			t.Fatalf("%s %s", resp.FunctionError, resp.Payload)
		}
		if trace, _ := m["trace"].([]any); len(trace) < 2 || trace[0] != "TypeError: bad input" {
			t.Fatalf("trace %v", m["trace"])
		}
		if !strings.Contains(f.logs.String(), "ERROR\tInvoke Error") {
			t.Errorf("no Invoke Error log line:\n%s", f.logs.String())
		}
		f = startFunction(t, b, spec("callback.cbError"))
		m = decode(t, f.invoke(`{}`))
		if m["errorType"] != "Error" || m["errorMessage"] != "via callback" {
			t.Fatalf("callback error %v", m)
		}
	})
	t.Run("UnhandledRejection", func(t *testing.T) {
		f := startFunction(t, b, spec("esm.reject"))
		resp := f.invoke(`{}`)
		m := decode(t, resp)
		if resp.FunctionError != "Unhandled" || m["errorType"] != "Runtime.UnhandledPromiseRejection" || m["errorMessage"] != "Error: nobody waits" {
			t.Fatalf("%s %s\n%s", resp.FunctionError, resp.Payload, f.logs.String())
		}
	})
	t.Run("UncaughtException", func(t *testing.T) {
		f := startFunction(t, b, spec("esm.uncaught"))
		resp := f.invoke(`{}`)
		m := decode(t, resp)
		if resp.FunctionError != "Unhandled" || m["errorType"] != "RangeError" || m["errorMessage"] != "thrown later" {
			t.Fatalf("%s %s\n%s", resp.FunctionError, resp.Payload, f.logs.String())
		}
	})
	t.Run("RejectionBetweenInvocations", func(t *testing.T) {
		f := startFunction(t, b, spec("callback.lateReject"))
		if got := string(f.invoke(`{}`).Payload); got != `"answered"` {
			t.Fatalf("payload %s", got)
		}
		// The rejection ends the idle instance; the pool starts another.
		deadline := time.Now().Add(20 * time.Second)
		for f.pool.Stats().Instances != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the instance outlived its unhandled rejection\n%s", f.logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if !strings.Contains(f.logs.String(), "Unhandled Promise Rejection") {
			t.Errorf("logs:\n%s", f.logs.String())
		}
		if resp := f.invoke(`{}`); string(resp.Payload) != `"answered"` || resp.InitDuration == 0 {
			t.Fatalf("after the crash: %s (init %v)", resp.Payload, resp.InitDuration)
		}
	})
	t.Run("Logs", func(t *testing.T) {
		f := startFunction(t, b, spec("callback.logs"))
		resp := f.invoke(`{"who":"world"}`)
		logs := f.logs.String()
		if !strings.Contains(logs, "\t"+resp.RequestID+"\tINFO\thello world") || !strings.Contains(logs, "\tERROR\toops") {
			t.Fatalf("logs:\n%s", logs)
		}
	})
	t.Run("InitErrors", func(t *testing.T) {
		for handler, want := range map[string]string{
			"missing.handler": "Runtime.ImportModuleError",
			"cjs.nothing":     "Runtime.HandlerNotFound",
		} {
			f := startFunction(t, b, spec(handler))
			m := decode(t, f.invoke(`{}`))
			if m["errorType"] != want {
				t.Errorf("%s: %v, want %s", handler, m, want)
			}
		}
	})
}

func checkNodeContext(t *testing.T, m map[string]any, requestID, name, runtime string) {
	t.Helper()
	want := map[string]any{
		"awsRequestId":       requestID,
		"functionName":       name,
		"functionVersion":    "$LATEST",
		"invokedFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:" + name,
		"memoryLimitInMB":    "256",
		"logGroupName":       "/aws/lambda/" + name,
		"waits":              true,
		"execEnv":            "AWS_Lambda_" + runtime,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if s, _ := m["logStreamName"].(string); !strings.Contains(s, "[$LATEST]") {
		t.Errorf("logStreamName = %v", m["logStreamName"])
	}
	if r, _ := m["remaining"].(float64); r <= 0 || r > 30000 {
		t.Errorf("remaining = %v", m["remaining"])
	}
	if ev, _ := m["event"].(map[string]any); ev["x"] != 1.0 {
		t.Errorf("event = %v", m["event"])
	}
}

func TestPythonHandlers(t *testing.T) {
	b := newBuilder(t)
	py := pythonRuntime(t, b)
	code := writeFiles(t, map[string]string{
		"app.py": `import logging, os
logger = logging.getLogger()

def handler(event, context):
    logger.info("got %s", event.get("x"))
    print("printed")
    return {
        "event": event,
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "exec_env": os.environ.get("AWS_EXECUTION_ENV"),
        "custom": context.client_context.custom if context.client_context else None,
        "app_title": context.client_context.client.app_title if context.client_context else None,
        "identity_id": context.identity.cognito_identity_id,
    }

def fails(event, context):
    raise ValueError("no good")

def not_json(event, context):
    return object()
`,
		"pkg/__init__.py": "",
		"pkg/mod.py":      "def handler(event, context):\n    return 'from pkg'\n",
		"broken.py":       "def handler(:\n",
	})
	spec := func(handler string) Spec {
		return Spec{Name: "py-" + strings.ReplaceAll(handler, "/", "-"), Runtime: py.Runtime, Handler: handler, CodePath: code}
	}
	t.Run("Context", func(t *testing.T) {
		f := startFunction(t, b, spec("app.handler"))
		clientContext := base64.StdEncoding.EncodeToString([]byte(`{"client":{"app_title":"app"},"custom":{"k":"v"},"env":{}}`))
		resp, err := f.pool.Invoke(context.Background(), &runtime.Request{
			Payload: []byte(`{"x":1}`), ClientContext: clientContext,
			CognitoIdentity: `{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}`,
		})
		if err != nil {
			t.Fatal(err)
		}
		if resp.FunctionError != "" {
			t.Fatalf("%s\n%s", resp.Payload, f.logs.String())
		}
		m := decode(t, resp)
		if m["app_title"] != "app" || m["identity_id"] != "id-1" {
			t.Errorf("client context / identity: %s", resp.Payload)
		}
		if c, _ := m["custom"].(map[string]any); c["k"] != "v" {
			t.Errorf("custom: %v", m["custom"])
		}
		want := map[string]any{
			"aws_request_id": resp.RequestID, "function_name": "py-app.handler", "function_version": "$LATEST",
			"invoked_function_arn": "arn:aws:lambda:us-east-1:000000000000:function:py-app.handler",
			"memory_limit_in_mb":   "256", "log_group_name": "/aws/lambda/py-app.handler",
			"exec_env": "AWS_Lambda_" + py.Runtime,
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s = %v, want %v", k, m[k], v)
			}
		}
		if r, _ := m["remaining"].(float64); r <= 0 || r > 30000 {
			t.Errorf("remaining = %v", m["remaining"])
		}
		logs := f.logs.String()
		if !strings.Contains(logs, "[INFO]\t") || !strings.Contains(logs, resp.RequestID+"\tgot 1") || !strings.Contains(logs, "printed") {
			t.Errorf("logs:\n%s", logs)
		}
	})
	t.Run("DottedModule", func(t *testing.T) {
		for _, h := range []string{"pkg.mod.handler", "pkg/mod.handler"} {
			f := startFunction(t, b, spec(h))
			if got := string(f.invoke(`{}`).Payload); got != `"from pkg"` {
				t.Errorf("%s: %s", h, got)
			}
		}
	})
	t.Run("Errors", func(t *testing.T) {
		f := startFunction(t, b, spec("app.fails"))
		resp := f.invoke(`{}`)
		m := decode(t, resp)
		if resp.FunctionError != "Unhandled" || m["errorType"] != "ValueError" || m["errorMessage"] != "no good" || m["requestId"] != resp.RequestID {
			t.Fatalf("%s", resp.Payload)
		}
		if st, _ := m["stackTrace"].([]any); len(st) == 0 || !strings.Contains(st[len(st)-1].(string), `raise ValueError("no good")`) {
			t.Errorf("stackTrace %v", m["stackTrace"])
		}
		if !strings.Contains(f.logs.String(), "[ERROR] ValueError: no good") {
			t.Errorf("logs:\n%s", f.logs.String())
		}
		f = startFunction(t, b, spec("app.not_json"))
		if m := decode(t, f.invoke(`{}`)); m["errorType"] != "Runtime.MarshalError" {
			t.Errorf("marshal: %v", m)
		}
	})
	t.Run("InitErrors", func(t *testing.T) {
		for handler, want := range map[string]string{
			"missing.handler": "Runtime.ImportModuleError",
			"app.nothing":     "Runtime.HandlerNotFound",
			"broken.handler":  "Runtime.UserCodeSyntaxError",
		} {
			f := startFunction(t, b, spec(handler))
			if m := decode(t, f.invoke(`{}`)); m["errorType"] != want {
				t.Errorf("%s: %v, want %s", handler, m, want)
			}
		}
	})
}
