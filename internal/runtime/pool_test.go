package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	uuidRE   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	reportRE = regexp.MustCompile(`^REPORT RequestId: (\S+)\tDuration: \d+\.\d{2} ms\tBilled Duration: \d+ ms\tMemory Size: (\d+) MB\tMax Memory Used: (\d+) MB(\tInit Duration: \d+\.\d{2} ms)?$`)
)

func TestInvokeEcho(t *testing.T) {
	p, _ := newTestPool(t, nil)
	const event = `{"action":"echo","value":42}`

	cold := invoke(t, p, event)
	if cold.FunctionError != "" || string(cold.Payload) != event {
		t.Fatalf("cold: FunctionError %q payload %s, want echo", cold.FunctionError, cold.Payload)
	}
	if !uuidRE.MatchString(cold.RequestID) {
		t.Errorf("generated RequestID %q is not a UUID v4", cold.RequestID)
	}
	if cold.InitDuration <= 0 {
		t.Errorf("cold InitDuration = %v, want > 0", cold.InitDuration)
	}
	if cold.BilledDuration < cold.Duration || cold.BilledDuration%time.Millisecond != 0 {
		t.Errorf("BilledDuration %v not Duration %v rounded up to ms", cold.BilledDuration, cold.Duration)
	}
	if cold.MaxMemoryUsedMB <= 0 {
		t.Errorf("MaxMemoryUsedMB = %d, want > 0", cold.MaxMemoryUsedMB)
	}

	warm := invoke(t, p, event)
	if warm.FunctionError != "" || string(warm.Payload) != event {
		t.Fatalf("warm: FunctionError %q payload %s", warm.FunctionError, warm.Payload)
	}
	if warm.InitDuration != 0 {
		t.Errorf("warm InitDuration = %v, want 0", warm.InitDuration)
	}

	resp, err := p.Invoke(context.Background(), &Request{RequestID: "my-id", Payload: []byte(event)})
	if err != nil || resp.RequestID != "my-id" {
		t.Fatalf("given RequestID: %v %+v", err, resp)
	}
	if s := p.Stats(); s.Instances != 1 || s.Busy != 0 {
		t.Errorf("Stats = %+v, want 1 instance, 0 busy", s)
	}
}

func TestEmptyPayloadIsEmptyObject(t *testing.T) {
	p, _ := newTestPool(t, nil)
	resp, err := p.Invoke(context.Background(), &Request{})
	if err != nil {
		t.Fatal(err)
	}
	// The fixture answers {} (no action) with its unknown-action error.
	if d := decodeError(t, resp); d.ErrorMessage != `unknown action ""` {
		t.Errorf("got %s", resp.Payload)
	}
}

func TestWarmReuse(t *testing.T) {
	p, _ := newTestPool(t, nil)
	first := invokePID(t, p)
	second := invokePID(t, p)
	if first != second {
		t.Errorf("second invocation ran in pid %d, want the warm instance %d", second, first)
	}
	if s := p.Stats(); s.Instances != 1 {
		t.Errorf("Instances = %d, want 1", s.Instances)
	}
}

func TestHandledError(t *testing.T) {
	p, _ := newTestPool(t, nil)
	pid := invokePID(t, p)
	resp := invoke(t, p, `{"action":"error","message":"boom"}`)
	d := decodeError(t, resp)
	if d.ErrorMessage != "boom" || d.ErrorType != "errorString" {
		t.Errorf("error = %+v, want boom/errorString", d)
	}
	if again := invokePID(t, p); again != pid {
		t.Errorf("after a handled error the instance changed: pid %d → %d", pid, again)
	}
}

func TestPanicReplacesInstance(t *testing.T) {
	p, logs := newTestPool(t, nil)
	pid := invokePID(t, p)
	resp := invoke(t, p, `{"action":"panic","message":"kaboom"}`)
	d := decodeError(t, resp)
	if d.ErrorMessage != "kaboom" || d.ErrorType != "string" || len(d.StackTrace) == 0 {
		t.Errorf("panic error = %+v, want kaboom/string with a stack trace", d)
	}
	eventually(t, "the panicked process to be reaped", func() bool { return processGone(pid) })
	if again := invokePID(t, p); again == pid {
		t.Errorf("after a panic the same instance (pid %d) served again", pid)
	}
	// The exit after the reported error is quiet: no Runtime.ExitError.
	if strings.Contains(logs.String(), "Runtime.ExitError") {
		t.Errorf("log reports an exit error after a reported panic:\n%s", logs)
	}
}

func TestCrashReplacesInstance(t *testing.T) {
	p, _ := newTestPool(t, nil)
	pid := invokePID(t, p)
	resp := invoke(t, p, `{"action":"exit","code":2}`)
	d := decodeError(t, resp)
	want := "RequestId: " + resp.RequestID + " Error: Runtime exited with error: exit status 2"
	if d.ErrorType != "Runtime.ExitError" || d.ErrorMessage != want {
		t.Errorf("crash error = %+v, want Runtime.ExitError %q", d, want)
	}
	if !strings.Contains(string(resp.LogTail), want+"\nRuntime.ExitError\nEND RequestId: "+resp.RequestID+"\n") {
		t.Errorf("log tail lacks the exit lines before END:\n%s", resp.LogTail)
	}
	if !strings.Contains(string(resp.LogTail), "\tStatus: error\tError Type: Runtime.ExitError") {
		t.Errorf("REPORT lacks the error status:\n%s", resp.LogTail)
	}
	if again := invokePID(t, p); again == pid {
		t.Errorf("after a crash the same instance (pid %d) served again", pid)
	}
}

func TestInitFailureExit(t *testing.T) {
	p, logs := newTestPool(t, func(c *PoolConfig) { c.Function.Env = map[string]string{"FAIL_INIT": "exit"} })
	resp := invoke(t, p, `{"action":"echo"}`)
	d := decodeError(t, resp)
	want := "RequestId: " + resp.RequestID + " Error: Runtime exited with error: exit status 1"
	if d.ErrorType != "Runtime.ExitError" || d.ErrorMessage != want {
		t.Errorf("init exit error = %+v, want Runtime.ExitError %q", d, want)
	}
	if resp.InitDuration <= 0 {
		t.Errorf("InitDuration = %v, want > 0 for a failed cold start", resp.InitDuration)
	}
	out := logs.String()
	if !strings.Contains(out, "init: failing on purpose\n") {
		t.Errorf("log lacks the function's init output:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^INIT_REPORT Init Duration: \d+\.\d{2} ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError$`).MatchString(out) {
		t.Errorf("log lacks INIT_REPORT:\n%s", out)
	}
	if !strings.Contains(string(resp.LogTail), "START RequestId: "+resp.RequestID) {
		t.Errorf("tail lacks START:\n%s", resp.LogTail)
	}
	eventually(t, "the failed instance to go", func() bool { return p.Stats().Instances == 0 })
}

func TestInitFailurePosted(t *testing.T) {
	p, logs := newTestPool(t, func(c *PoolConfig) { c.Function.Env = map[string]string{"FAIL_INIT": "post"} })
	resp := invoke(t, p, `{"action":"echo"}`)
	d := decodeError(t, resp)
	if d.ErrorType != "InitFailure" || d.ErrorMessage != "bad config" {
		t.Errorf("posted init error = %s, want the body the runtime posted", resp.Payload)
	}
	if !strings.Contains(logs.String(), "\tPhase: init\tStatus: error\tError Type: InitFailure") {
		t.Errorf("log lacks INIT_REPORT with the posted type:\n%s", logs)
	}
	eventually(t, "the failed instance to go", func() bool { return p.Stats().Instances == 0 })
	// Every cold start fails the same way; the pool keeps trying.
	if d := decodeError(t, invoke(t, p, `{"action":"echo"}`)); d.ErrorType != "InitFailure" {
		t.Errorf("second cold start: %+v", d)
	}
}

func TestInitTimeout(t *testing.T) {
	p, logs := newTestPool(t, func(c *PoolConfig) {
		c.InitTimeout = 200 * time.Millisecond
		c.Function.Env = map[string]string{"SLOW_INIT": "60000"}
	})
	resp := invoke(t, p, `{"action":"echo"}`)
	d := decodeError(t, resp)
	want := "RequestId: " + resp.RequestID + " Error: Task timed out after 0.20 seconds"
	if d.ErrorType != "Sandbox.Timedout" || d.ErrorMessage != want {
		t.Errorf("init timeout error = %+v, want Sandbox.Timedout %q", d, want)
	}
	if !strings.Contains(logs.String(), "\tPhase: init\tStatus: timeout\n") {
		t.Errorf("log lacks INIT_REPORT timeout:\n%s", logs)
	}
	eventually(t, "the slow instance to go", func() bool { return p.Stats().Instances == 0 })
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	p, _ := newTestPool(t, func(c *PoolConfig) { c.Function.Timeout = 300 * time.Millisecond })
	pid := invokePID(t, p)
	resp := invoke(t, p, `{"action":"sleep","ms":600000,"child":true}`)
	d := decodeError(t, resp)
	want := "RequestId: " + resp.RequestID + " Error: Task timed out after 0.30 seconds"
	if d.ErrorType != "Sandbox.Timedout" || d.ErrorMessage != want {
		t.Errorf("timeout error = %+v, want Sandbox.Timedout %q", d, want)
	}
	tail := string(resp.LogTail)
	m := regexp.MustCompile(`child-pid: (\d+)`).FindStringSubmatch(tail)
	if m == nil {
		t.Fatalf("tail lacks the child's pid:\n%s", tail)
	}
	child, _ := strconv.Atoi(m[1])
	timedOut := regexp.MustCompile(`(?m)^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z ` + resp.RequestID + ` Task timed out after 0\.30 seconds\nEND RequestId: ` + resp.RequestID + `\nREPORT `)
	if !timedOut.MatchString(tail) {
		t.Errorf("tail lacks the timeout line right before END:\n%s", tail)
	}
	if !strings.Contains(tail, "\tStatus: timeout\n") {
		t.Errorf("REPORT lacks Status: timeout:\n%s", tail)
	}
	if resp.MaxMemoryUsedMB <= 0 {
		t.Errorf("MaxMemoryUsedMB = %d after a timeout, want the killed process's peak", resp.MaxMemoryUsedMB)
	}
	eventually(t, "the runtime process to die", func() bool { return processGone(pid) })
	eventually(t, "the child in its process group to die", func() bool { return processGone(child) })
	if again := invokePID(t, p); again == pid {
		t.Errorf("after a timeout the killed instance (pid %d) served again", pid)
	}
}

func TestIdleInstanceDeath(t *testing.T) {
	p, _ := newTestPool(t, nil)
	pid := invokePID(t, p)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pool to drop the dead instance", func() bool { return p.Stats().Instances == 0 })
	if again := invokePID(t, p); again == pid {
		t.Errorf("dead instance %d served", pid)
	}
}

func TestConcurrencyCap(t *testing.T) {
	p, _ := newTestPool(t, func(c *PoolConfig) { c.MaxConcurrency = 2 })
	gate := filepath.Join(t.TempDir(), "gate")
	event := fmt.Sprintf(`{"action":"wait","path":%q}`, gate)

	type result struct {
		resp *Response
		err  error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			resp, err := p.Invoke(context.Background(), &Request{Payload: []byte(event)})
			results <- result{resp, err}
		}()
	}
	eventually(t, "two invocations in flight", func() bool { return p.Stats().Busy == 2 })

	if _, err := p.Invoke(context.Background(), &Request{Payload: []byte(`{"action":"echo"}`)}); !errors.Is(err, ErrTooManyRequests) {
		t.Errorf("third concurrent Invoke: err = %v, want ErrTooManyRequests", err)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r := <-results
		if r.err != nil || r.resp.FunctionError != "" || string(r.resp.Payload) != `"waited"` {
			t.Errorf("capped invocation: err %v resp %+v", r.err, r.resp)
		}
	}
	if s := p.Stats(); s.Instances != 2 || s.Busy != 0 {
		t.Errorf("Stats = %+v, want 2 instances, 0 busy", s)
	}
	if resp := invoke(t, p, `{"action":"echo"}`); resp.FunctionError != "" {
		t.Errorf("after the cap cleared: %s", resp.Payload)
	}
}

func TestConcurrentInvokes(t *testing.T) {
	p, _ := newTestPool(t, func(c *PoolConfig) { c.MaxConcurrency = 4 })
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 10 {
				event := fmt.Sprintf(`{"action":"echo","g":%d,"n":%d}`, g, n)
				resp, err := p.Invoke(context.Background(), &Request{Payload: []byte(event)})
				if err != nil || string(resp.Payload) != event {
					t.Errorf("Invoke: %v %+v", err, resp)
					return
				}
			}
		}()
	}
	wg.Wait()
	if s := p.Stats(); s.Busy != 0 || s.Instances < 1 || s.Instances > 4 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestOversizedResponse(t *testing.T) {
	t.Run("configured", func(t *testing.T) {
		p, _ := newTestPool(t, func(c *PoolConfig) { c.MaxResponseBytes = 1000 })
		// 1100 bytes are accepted (the limit plus Lambda's 100), 1101 are not.
		if resp := invoke(t, p, `{"action":"big","n":1098}`); resp.FunctionError != "" || len(resp.Payload) != 1100 {
			t.Errorf("1100-byte response: FunctionError %q, %d bytes", resp.FunctionError, len(resp.Payload))
		}
		resp := invoke(t, p, `{"action":"big","n":1099}`)
		d := decodeError(t, resp)
		if d.ErrorType != "Function.ResponseSizeTooLarge" ||
			d.ErrorMessage != "Response payload size exceeded maximum allowed payload size (1100 bytes)." {
			t.Errorf("oversized error = %+v", d)
		}
		if resp := invoke(t, p, `{"action":"echo"}`); resp.FunctionError != "" {
			t.Errorf("after an oversized response: %s", resp.Payload)
		}
	})
	t.Run("default", func(t *testing.T) {
		p, _ := newTestPool(t, nil)
		resp := invoke(t, p, `{"action":"big","n":6291555}`)
		d := decodeError(t, resp)
		if d.ErrorType != "Function.ResponseSizeTooLarge" ||
			d.ErrorMessage != "Response payload size exceeded maximum allowed payload size (6291556 bytes)." {
			t.Errorf("oversized error = %+v", d)
		}
	})
}

func TestEnvironment(t *testing.T) {
	t.Setenv("ALOFT_HOST_ONLY", "must-not-leak")
	gate := filepath.Join(t.TempDir(), "gate")
	p, _ := newTestPool(t, func(c *PoolConfig) {
		c.Function.Name = "envfn"
		c.Function.Runtime = "nodejs20.x"
		c.Function.Handler = "index.handler"
		c.Function.MemoryMB = 256
		c.Function.Env = map[string]string{
			"CUSTOM":                   "value",
			"AWS_REGION":               "eu-west-1",
			"AWS_ACCESS_KEY_ID":        "AKIDLOCAL",
			"AWS_LAMBDA_FUNCTION_NAME": "overridden?",
			"LAMBDA_TASK_ROOT":         "/elsewhere",
			"TZ":                       "Europe/Paris",
		}
	})

	// Two instances at once, both answering once the gate opens.
	type envResp struct {
		PID int               `json:"pid"`
		Env map[string]string `json:"env"`
	}
	results := make(chan envResp, 2)
	for range 2 {
		go func() {
			resp, err := p.Invoke(context.Background(), &Request{Payload: []byte(fmt.Sprintf(`{"action":"env","path":%q}`, gate))})
			var r envResp
			if err != nil || resp.FunctionError != "" {
				t.Errorf("env invoke: %v %+v", err, resp)
			} else if err := json.Unmarshal(resp.Payload, &r); err != nil {
				t.Errorf("env payload: %v", err)
			}
			results <- r
		}()
	}
	eventually(t, "two instances", func() bool { return p.Stats().Busy == 2 })
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := <-results, <-results
	if t.Failed() {
		return
	}
	if a.PID == b.PID {
		t.Fatalf("both invocations ran in pid %d", a.PID)
	}
	if a.Env["AWS_LAMBDA_RUNTIME_API"] == b.Env["AWS_LAMBDA_RUNTIME_API"] {
		t.Errorf("instances share AWS_LAMBDA_RUNTIME_API %s", a.Env["AWS_LAMBDA_RUNTIME_API"])
	}
	if a.Env["AWS_LAMBDA_LOG_STREAM_NAME"] == b.Env["AWS_LAMBDA_LOG_STREAM_NAME"] {
		t.Errorf("instances share a log stream")
	}

	env := a.Env
	want := map[string]string{
		"_HANDLER":                        "index.handler",
		"LAMBDA_TASK_ROOT":                filepath.Dir(fnBinary),
		"LAMBDA_RUNTIME_DIR":              "/var/runtime",
		"AWS_LAMBDA_FUNCTION_NAME":        "envfn",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_REGION":                      "eu-west-1",
		"AWS_DEFAULT_REGION":              "eu-west-1",
		"AWS_EXECUTION_ENV":               "AWS_Lambda_nodejs20.x",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/envfn",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"TZ":                              "Europe/Paris",
		"LANG":                            "en_US.UTF-8",
		"PATH":                            "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"CUSTOM":                          "value",
		"AWS_ACCESS_KEY_ID":               "AKIDLOCAL",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if !strings.Contains(env["LD_LIBRARY_PATH"], ":"+filepath.Dir(fnBinary)+":") {
		t.Errorf("LD_LIBRARY_PATH %q lacks the task root", env["LD_LIBRARY_PATH"])
	}
	if !regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$`).MatchString(env["AWS_LAMBDA_LOG_STREAM_NAME"]) {
		t.Errorf("AWS_LAMBDA_LOG_STREAM_NAME = %q", env["AWS_LAMBDA_LOG_STREAM_NAME"])
	}
	if !regexp.MustCompile(`^127\.0\.0\.1:\d+$`).MatchString(env["AWS_LAMBDA_RUNTIME_API"]) {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %q", env["AWS_LAMBDA_RUNTIME_API"])
	}
	for _, k := range []string{"ALOFT_HOST_ONLY", "HOME", "USER", "GOPATH", "AWS_CA_BUNDLE"} {
		if v, ok := env[k]; ok {
			t.Errorf("host variable %s=%q leaked into the function", k, v)
		}
	}
	// aws-lambda-go sets _X_AMZN_TRACE_ID in its own process per event.
	delete(env, "_X_AMZN_TRACE_ID")
	// What want lists, plus LD_LIBRARY_PATH and the two per-instance
	// variables, and nothing else.
	if len(env) != len(want)+3 {
		t.Errorf("environment has %d variables, want %d: %v", len(env), len(want)+3, env)
	}
}

func TestProvidedRuntimeHasNoExecutionEnv(t *testing.T) {
	p, _ := newTestPool(t, nil)
	var r struct{ Env map[string]string }
	if err := json.Unmarshal(invoke(t, p, `{"action":"env"}`).Payload, &r); err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Env["AWS_EXECUTION_ENV"]; ok {
		t.Errorf("provided runtime got AWS_EXECUTION_ENV=%q", v)
	}
	if r.Env["AWS_REGION"] != "us-east-1" || r.Env["AWS_DEFAULT_REGION"] != "us-east-1" || r.Env["TZ"] != ":UTC" {
		t.Errorf("defaults: %v", r.Env)
	}
}

func TestLogFormat(t *testing.T) {
	p, logs := newTestPool(t, nil)
	check := func(resp *Response, cold bool) {
		t.Helper()
		lines := strings.Split(strings.TrimSuffix(string(resp.LogTail), "\n"), "\n")
		if len(lines) != 6 {
			t.Fatalf("tail has %d lines, want 6:\n%s", len(lines), resp.LogTail)
		}
		id := resp.RequestID
		if lines[0] != "START RequestId: "+id+" Version: $LATEST" {
			t.Errorf("START line = %q", lines[0])
		}
		// stdout and stderr are separate pipes: order is kept per stream.
		out := []string{lines[1], lines[2], lines[3]}
		if strings.Join(filterPrefix(out, "out"), ",") != "out one,out two" || strings.Join(filterPrefix(out, "err"), ",") != "err one" {
			t.Errorf("function output lines = %q", out)
		}
		if lines[4] != "END RequestId: "+id {
			t.Errorf("END line = %q", lines[4])
		}
		m := reportRE.FindStringSubmatch(lines[5])
		if m == nil || m[1] != id || m[2] != "128" {
			t.Fatalf("REPORT line = %q", lines[5])
		}
		if used, _ := strconv.Atoi(m[3]); used <= 0 {
			t.Errorf("Max Memory Used = %s", m[3])
		}
		if (m[4] != "") != cold {
			t.Errorf("REPORT Init Duration present = %v, want %v: %q", m[4] != "", cold, lines[5])
		}
		if !strings.Contains(logs.String(), string(resp.LogTail)) {
			t.Errorf("Logs lack the invocation's lines")
		}
	}
	event := `{"action":"print","lines":["out one","out two"],"stderr":["err one"]}`
	check(invoke(t, p, event), true)
	check(invoke(t, p, event), false)
}

func filterPrefix(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

func TestLogTailKeepsLast4KB(t *testing.T) {
	p, _ := newTestPool(t, nil)
	lines := make([]string, 200)
	for n := range lines {
		lines[n] = fmt.Sprintf("line %03d %s", n, strings.Repeat("y", 50))
	}
	event, _ := json.Marshal(map[string]any{"action": "print", "lines": lines})
	resp := invoke(t, p, string(event))
	if len(resp.LogTail) != tailSize {
		t.Errorf("LogTail is %d bytes, want %d", len(resp.LogTail), tailSize)
	}
	tail := strings.Split(strings.TrimSuffix(string(resp.LogTail), "\n"), "\n")
	if n := len(tail); n < 3 || !strings.HasPrefix(tail[n-3], "line 199 ") || tail[n-2] != "END RequestId: "+resp.RequestID ||
		!strings.HasPrefix(tail[n-1], "REPORT RequestId: "+resp.RequestID+"\t") {
		t.Errorf("LogTail does not end with the last line, END and REPORT:\n%s", resp.LogTail)
	}
}

func TestIdleReap(t *testing.T) {
	p, _ := newTestPool(t, func(c *PoolConfig) { c.IdleTimeout = 100 * time.Millisecond })
	pid := invokePID(t, p)
	eventually(t, "the idle instance to be reaped", func() bool { return p.Stats().Instances == 0 })
	eventually(t, "the idle process to die", func() bool { return processGone(pid) })
	if again := invokePID(t, p); again == pid {
		t.Errorf("reaped instance served again")
	}
}

func TestContextCancelsOnlyTheWait(t *testing.T) {
	p, _ := newTestPool(t, nil)
	pid := invokePID(t, p)
	gate := filepath.Join(t.TempDir(), "gate")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.Invoke(ctx, &Request{Payload: []byte(fmt.Sprintf(`{"action":"wait","path":%q}`, gate))})
		done <- err
	}()
	eventually(t, "the invocation in flight", func() bool { return p.Stats().Busy == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Invoke after cancel: %v, want context.Canceled", err)
	}
	if s := p.Stats(); s.Busy != 1 {
		t.Errorf("the invocation should still run: Stats %+v", s)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the abandoned invocation to finish", func() bool { return p.Stats().Busy == 0 })
	if again := invokePID(t, p); again != pid {
		t.Errorf("instance not reused after an abandoned invocation: %d → %d", pid, again)
	}
}

func TestShutdownKillsEverything(t *testing.T) {
	p, _ := newTestPool(t, nil)
	gate := filepath.Join(t.TempDir(), "never")
	idlePID := invokePID(t, p)

	done := make(chan error, 1)
	go func() {
		_, err := p.Invoke(context.Background(), &Request{Payload: []byte(fmt.Sprintf(`{"action":"wait","path":%q}`, gate))})
		done <- err
	}()
	eventually(t, "the invocation in flight", func() bool { return p.Stats().Busy == 1 })
	if pids := instancePIDs(p); len(pids) != 1 || pids[0] != idlePID {
		t.Fatalf("instances %v, want the warm %d, now busy", pids, idlePID)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-done; !errors.Is(err, ErrPoolClosed) {
		t.Errorf("in-flight Invoke: %v, want ErrPoolClosed", err)
	}
	if !processGone(idlePID) {
		t.Errorf("pid %d survived Shutdown", idlePID)
	}
	if s := p.Stats(); s.Instances != 0 || s.Busy != 0 {
		t.Errorf("Stats after Shutdown = %+v", s)
	}
	if _, err := p.Invoke(context.Background(), &Request{}); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Invoke after Shutdown: %v, want ErrPoolClosed", err)
	}
}

func TestInvalidEntrypoint(t *testing.T) {
	p, _ := newTestPool(t, func(c *PoolConfig) { c.Function.Command = []string{filepath.Join(t.TempDir(), "missing")} })
	resp := invoke(t, p, `{}`)
	d := decodeError(t, resp)
	if d.ErrorType != "Runtime.InvalidEntrypoint" || !strings.HasPrefix(d.ErrorMessage, "RequestId: "+resp.RequestID+" Error: ") {
		t.Errorf("missing bootstrap: %+v", d)
	}
	if s := p.Stats(); s.Instances != 0 || s.Busy != 0 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestTwoPoolsAreIndependent(t *testing.T) {
	a, _ := newTestPool(t, nil)
	b, _ := newTestPool(t, nil)
	if invokePID(t, a) == invokePID(t, b) {
		t.Fatal("two pools shared an instance")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if resp := invoke(t, b, `{"action":"echo"}`); resp.FunctionError != "" {
		t.Errorf("pool b after a's shutdown: %s", resp.Payload)
	}
}

func TestNewPoolValidates(t *testing.T) {
	for _, cfg := range []PoolConfig{
		{Function: FunctionSpec{Command: []string{"x"}}},
		{Function: FunctionSpec{Name: "f"}},
		{Function: FunctionSpec{Name: "f", Command: []string{"x"}}, MaxConcurrency: -1},
	} {
		if _, err := NewPool(cfg); err == nil {
			t.Errorf("NewPool(%+v) succeeded", cfg)
		}
	}
}

func BenchmarkWarmInvoke(b *testing.B) {
	p, _ := newTestPool(b, nil)
	req := &Request{Payload: []byte(`{"action":"echo","data":"benchmark"}`)}
	ctx := context.Background()
	if _, err := p.Invoke(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := p.Invoke(ctx, req)
		if err != nil || resp.FunctionError != "" {
			b.Fatalf("Invoke: %v %+v", err, resp)
		}
	}
}

// TestResultOnPost: the caller gets the posted result before the runtime's
// next call; the instance is reused, not doubled, and a capped pool waits
// for a slot held by an answered invocation instead of throttling.
func TestResultOnPost(t *testing.T) {
	p, logs := newTestPool(t, func(c *PoolConfig) { c.MaxConcurrency = 1 })
	for n := range 20 {
		resp, err := p.Invoke(context.Background(), &Request{Payload: []byte(`{"action":"echo","data":"x"}`), ResultOnPost: true})
		if err != nil || resp.FunctionError != "" || resp.RequestID == "" || !strings.Contains(string(resp.Payload), `"x"`) {
			t.Fatalf("invoke %d: %v %+v", n, err, resp)
		}
	}
	if s := p.Stats(); s.Instances != 1 {
		t.Errorf("Instances = %d, want 1: an answered instance is reused, not doubled", s.Instances)
	}
	resp, err := p.Invoke(context.Background(), &Request{Payload: []byte(`{"action":"error"}`), ResultOnPost: true})
	if err != nil || resp.FunctionError != "Unhandled" {
		t.Fatalf("error: %v %+v", err, resp)
	}
	eventually(t, "every REPORT logged", func() bool { return strings.Count(logs.String(), "REPORT RequestId:") == 21 })
	eventually(t, "the slot given back", func() bool { return p.Stats().Busy == 0 })
}

// BenchmarkWarmInvokeResultOnPost is BenchmarkWarmInvoke for a caller that
// takes the result when it is posted (the HTTP gateway).
func BenchmarkWarmInvokeResultOnPost(b *testing.B) {
	p, _ := newTestPool(b, nil)
	req := &Request{Payload: []byte(`{"action":"echo","data":"benchmark"}`), ResultOnPost: true}
	ctx := context.Background()
	if _, err := p.Invoke(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := p.Invoke(ctx, req)
		if err != nil || resp.FunctionError != "" {
			b.Fatalf("Invoke: %v %+v", err, resp)
		}
	}
}
