package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/testenv"
)

// fnBinary is the fixture function (testdata/fn), built once by TestMain.
var fnBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aloft-runtime-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "TestMain:", err)
		os.Exit(1)
	}
	fnBinary = filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", fnBinary, "./testdata/fn")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "TestMain: building the fixture function:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newTestPool returns a pool running the fixture function, shut down when
// the test ends, and its log.
func newTestPool(t testing.TB, configure func(*PoolConfig)) (*Pool, *testenv.Buffer) {
	t.Helper()
	logs := &testenv.Buffer{}
	cfg := PoolConfig{
		Function: FunctionSpec{
			Name:     "fixture",
			Runtime:  "provided.al2023",
			Handler:  "bootstrap",
			Command:  []string{fnBinary},
			TaskRoot: filepath.Dir(fnBinary),
			Timeout:  30 * time.Second,
		},
		Logs: logs,
	}
	if configure != nil {
		configure(&cfg)
	}
	p, err := NewPool(cfg)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return p, logs
}

// invoke runs one event and fails the test on a Go error.
func invoke(t testing.TB, p *Pool, payload string) *Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := p.Invoke(ctx, &Request{Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("Invoke(%s): %v", payload, err)
	}
	return resp
}

// invokePID returns the pid of the instance that served the invocation.
func invokePID(t testing.TB, p *Pool) int {
	t.Helper()
	resp := invoke(t, p, `{"action":"pid"}`)
	if resp.FunctionError != "" {
		t.Fatalf("pid action failed: %s", resp.Payload)
	}
	pid, err := strconv.Atoi(string(resp.Payload))
	if err != nil {
		t.Fatalf("pid payload %q: %v", resp.Payload, err)
	}
	return pid
}

// errorDoc is the error payload shape.
type errorDoc struct {
	ErrorMessage string            `json:"errorMessage"`
	ErrorType    string            `json:"errorType"`
	StackTrace   []json.RawMessage `json:"stackTrace"`
}

func decodeError(t testing.TB, resp *Response) errorDoc {
	t.Helper()
	if resp.FunctionError != "Unhandled" {
		t.Fatalf("FunctionError = %q, want Unhandled (payload %s)", resp.FunctionError, resp.Payload)
	}
	var d errorDoc
	if err := json.Unmarshal(resp.Payload, &d); err != nil {
		t.Fatalf("error payload %q: %v", resp.Payload, err)
	}
	return d
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// processGone reports whether pid no longer runs (absent, or a zombie that
// nobody has reaped yet).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(b)
	if k := strings.LastIndexByte(s, ')'); k >= 0 && k+2 < len(s) {
		return s[k+2] == 'Z'
	}
	return false
}

// instancePIDs returns the pids of the pool's live instances.
func instancePIDs(p *Pool) []int {
	p.mu.Lock()
	insts := make([]*instance, 0, len(p.all))
	for i := range p.all {
		insts = append(insts, i)
	}
	p.mu.Unlock()
	var pids []int
	for _, i := range insts {
		i.mu.Lock()
		if i.pid != 0 {
			pids = append(pids, i.pid)
		}
		i.mu.Unlock()
	}
	return pids
}

// runtimeAPIAddr waits for the pool's only instance and returns the address
// of its Runtime API.
func runtimeAPIAddr(t testing.TB, p *Pool) string {
	t.Helper()
	var addr string
	eventually(t, "an instance", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i := range p.all {
			addr = i.addr
		}
		return addr != ""
	})
	return addr
}
