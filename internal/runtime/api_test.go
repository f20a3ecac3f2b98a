package runtime

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/testenv"
)

// rawRuntime is a test acting as the runtime: the pool's process is a
// harmless `sleep`, and the test speaks the Runtime API itself.
type rawRuntime struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newRawRuntime(t *testing.T, p *Pool) *rawRuntime {
	return &rawRuntime{
		t:      t,
		base:   "http://" + runtimeAPIAddr(t, p) + apiPrefix,
		client: &http.Client{Transport: &http.Transport{Proxy: nil}},
	}
}

func (r *rawRuntime) do(req *http.Request) (*http.Response, []byte) {
	r.t.Helper()
	resp, body, err := r.tryDo(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return resp, body
}

func (r *rawRuntime) tryDo(req *http.Request) (*http.Response, []byte, error) {
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// answer is the outcome of a next call made on another goroutine.
type answer struct {
	resp *http.Response
	body []byte
	err  error
}

// goNext calls next on another goroutine, as a runtime blocked in next.
func (r *rawRuntime) goNext() <-chan answer {
	ch := make(chan answer, 1)
	req, _ := http.NewRequest(http.MethodGet, r.base+"invocation/next", nil)
	go func() {
		resp, body, err := r.tryDo(req)
		ch <- answer{resp, body, err}
	}()
	return ch
}

func (a answer) requestID(t *testing.T) string {
	t.Helper()
	if a.err != nil {
		t.Fatalf("next: %v", a.err)
	}
	return a.resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
}

func (r *rawRuntime) next() (*http.Response, []byte) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.base+"invocation/next", nil)
	return r.do(req)
}

func (r *rawRuntime) post(path string, body io.Reader, header, trailer http.Header) (*http.Response, []byte) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.base+path, body)
	for k, v := range header {
		req.Header[k] = v
	}
	if trailer != nil {
		req.Trailer = trailer
		req.ContentLength = -1 // chunked, as aws-lambda-go sends bodies
	}
	return r.do(req)
}

// chunked hides the length of a body so that the client sends it chunked.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func expectStatus(t *testing.T, resp *http.Response, body []byte, status int, wantBody string) {
	t.Helper()
	if resp.StatusCode != status || (wantBody != "" && string(body) != wantBody) {
		t.Errorf("%s %s: %d %s, want %d %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, status, wantBody)
	}
}

type invokeResult struct {
	resp *Response
	err  error
}

func goInvoke(p *Pool, req *Request) <-chan invokeResult {
	ch := make(chan invokeResult, 1)
	go func() {
		resp, err := p.Invoke(context.Background(), req)
		ch <- invokeResult{resp, err}
	}()
	return ch
}

func newRawPool(t *testing.T) *Pool {
	p, _ := newTestPool(t, func(c *PoolConfig) {
		c.Function.Command = []string{"sleep", "600"}
		c.Function.ARN = "arn:aws:lambda:us-east-1:123456789012:function:fixture"
		c.Function.Timeout = 30 * time.Second
	})
	return p
}

func TestRuntimeAPIProtocol(t *testing.T) {
	p := newRawPool(t)
	clientContext := `{"custom":{"k":"v"},"env":{},"client":{}}`
	cognito := `{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}`
	trace := "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	first := goInvoke(p, &Request{
		RequestID:       "req-1",
		Payload:         []byte(`{"n":1}`),
		ClientContext:   base64.StdEncoding.EncodeToString([]byte(clientContext)),
		CognitoIdentity: cognito,
		TraceID:         trace,
	})
	rt := newRawRuntime(t, p)

	// Out of turn before the first next.
	resp, body := rt.post("invocation/req-1/response", strings.NewReader(`{}`), nil, nil)
	expectStatus(t, resp, body, http.StatusForbidden,
		`{"errorType":"InvalidStateTransition","errorMessage":"State transition from Started to InvocationResponse failed for runtime. Error: State transition is not allowed"}`)

	before := time.Now()
	resp, body = rt.next()
	after := time.Now()
	expectStatus(t, resp, body, http.StatusOK, `{"n":1}`)
	h := resp.Header
	for k, want := range map[string]string{
		"Lambda-Runtime-Aws-Request-Id":       "req-1",
		"Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:fixture",
		"Lambda-Runtime-Trace-Id":             trace,
		"Lambda-Runtime-Client-Context":       clientContext,
		"Lambda-Runtime-Cognito-Identity":     cognito,
		"Content-Type":                        "application/json",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("next header %s = %q, want %q", k, got, want)
		}
	}
	deadline, err := strconv.ParseInt(h.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
	if err != nil {
		t.Fatalf("Lambda-Runtime-Deadline-Ms: %v", err)
	}
	if lo, hi := before.Add(30*time.Second).UnixMilli()-1, after.Add(30*time.Second).UnixMilli(); deadline < lo || deadline > hi {
		t.Errorf("deadline %d not delivery time + timeout, in [%d, %d]", deadline, lo, hi)
	}

	// A retried next while the event is out gets the same event.
	resp, body = rt.next()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Lambda-Runtime-Aws-Request-Id") != "req-1" || string(body) != `{"n":1}` {
		t.Errorf("repeated next: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	// Stale and unknown request ids.
	resp, body = rt.post("invocation/req-0/response", strings.NewReader(`{}`), nil, nil)
	expectStatus(t, resp, body, http.StatusBadRequest, `{"errorType":"InvalidRequestID","errorMessage":"Invalid request ID"}`)
	resp, body = rt.post("invocation/nope/error", strings.NewReader(`{}`), nil, nil)
	expectStatus(t, resp, body, http.StatusBadRequest, "")

	// init/error is only for the init phase.
	resp, body = rt.post("init/error", strings.NewReader(`{}`), nil, nil)
	expectStatus(t, resp, body, http.StatusForbidden,
		`{"errorType":"InvalidStateTransition","errorMessage":"State transition from Ready to InitError failed for runtime. Error: State transition is not allowed"}`)

	// A chunked response whose trailers are declared but empty succeeds.
	resp, body = rt.post("invocation/req-1/response", chunked{strings.NewReader(`{"ok":true}`)}, nil,
		http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil})
	expectStatus(t, resp, body, http.StatusAccepted, `{"status":"OK"}`)
	// Answering twice is out of turn.
	resp, body = rt.post("invocation/req-1/response", strings.NewReader(`{}`), nil, nil)
	expectStatus(t, resp, body, http.StatusForbidden,
		`{"errorType":"InvalidStateTransition","errorMessage":"State transition from RuntimeResponseSentState to InvocationResponse failed for runtime. Error: State transition is not allowed"}`)

	// The invocation completes when the runtime asks for the next event.
	blocked := rt.goNext()
	r := <-first
	if r.err != nil || r.resp.FunctionError != "" || string(r.resp.Payload) != `{"ok":true}` || r.resp.RequestID != "req-1" {
		t.Fatalf("first invocation: %v %+v", r.err, r.resp)
	}

	// The blocked next receives the second event; its chunked response
	// fails midway and reports the error in trailers, as aws-lambda-go does.
	second := goInvoke(p, &Request{RequestID: "req-2", Payload: []byte(`{"n":2}`)})
	a := <-blocked
	if id := a.requestID(t); id != "req-2" || string(a.body) != `{"n":2}` {
		t.Fatalf("second next: request id %q, body %s", id, a.body)
	}
	if _, ok := a.resp.Header["Lambda-Runtime-Client-Context"]; ok {
		t.Errorf("absent client context sent as a header")
	}
	streamErr := `{"errorMessage":"stream broke","errorType":"StreamError"}`
	resp, body = rt.post("invocation/req-2/response", chunked{strings.NewReader(`{"partial":`)}, nil, http.Header{
		"Lambda-Runtime-Function-Error-Type": {"StreamError"},
		"Lambda-Runtime-Function-Error-Body": {base64.StdEncoding.EncodeToString([]byte(streamErr))},
	})
	expectStatus(t, resp, body, http.StatusAccepted, `{"status":"OK"}`)
	blocked = rt.goNext()
	r = <-second
	if r.err != nil || r.resp.FunctionError != "Unhandled" || string(r.resp.Payload) != streamErr {
		t.Fatalf("trailer error invocation: %v %+v", r.err, r.resp)
	}

	// A posted error, with its type in the header.
	third := goInvoke(p, &Request{RequestID: "req-3"})
	a = <-blocked
	if id := a.requestID(t); id != "req-3" || string(a.body) != "{}" {
		t.Errorf("third next: %q %s, want req-3 with the empty payload as {}", id, a.body)
	}
	errDoc := `{"errorMessage":"bad","errorType":"MyError","stackTrace":["a"]}`
	resp, body = rt.post("invocation/req-3/error", chunked{strings.NewReader(errDoc)},
		http.Header{"Lambda-Runtime-Function-Error-Type": {"MyError"}}, nil)
	expectStatus(t, resp, body, http.StatusAccepted, `{"status":"OK"}`)
	resp, body = rt.post("invocation/req-3/response", strings.NewReader(`{}`), nil, nil)
	expectStatus(t, resp, body, http.StatusForbidden, "")
	blocked = rt.goNext()
	r = <-third
	if r.err != nil || r.resp.FunctionError != "Unhandled" || string(r.resp.Payload) != errDoc {
		t.Fatalf("posted error invocation: %v %+v", r.err, r.resp)
	}

	// Routing.
	req, _ := http.NewRequest(http.MethodPost, rt.base+"invocation/next", nil)
	resp, body = rt.do(req)
	expectStatus(t, resp, body, http.StatusMethodNotAllowed, "")
	req, _ = http.NewRequest(http.MethodGet, rt.base+"invocation/req-3/nothing", nil)
	resp, body = rt.do(req)
	expectStatus(t, resp, body, http.StatusNotFound, "")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// The blocked next is answered with an error or its connection closed.
	if a := <-blocked; a.err == nil && a.resp.StatusCode == http.StatusOK {
		t.Errorf("next blocked across Shutdown got an event")
	}
}

func TestUndeliveredEventMovesToAnotherInstance(t *testing.T) {
	p := newRawPool(t)
	first := goInvoke(p, &Request{RequestID: "req-1"})
	rt := newRawRuntime(t, p)
	rt.next()
	resp, body := rt.post("invocation/req-1/response", strings.NewReader(`"one"`), nil, nil)
	expectStatus(t, resp, body, http.StatusAccepted, "")

	// The runtime asks for the next event and hangs up at once. The server
	// answers and closes the connection once the handler has given up, so
	// when the read below ends the instance is idle with nobody waiting.
	conn, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(rt.base, apiPrefix), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET "+apiPrefix+"invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("waiting for the server to give up on next: %v", err)
	}
	if r := <-first; r.err != nil || string(r.resp.Payload) != `"one"` {
		t.Fatalf("first invocation: %v %+v", r.err, r.resp)
	}

	pids := instancePIDs(p)
	second := goInvoke(p, &Request{RequestID: "req-2"})
	eventually(t, "the event to be assigned", func() bool { return p.Stats().Busy == 1 })
	// The process dies before taking the event.
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a new instance", func() bool {
		now := instancePIDs(p)
		return len(now) == 1 && now[0] != pids[0]
	})
	rt = newRawRuntime(t, p)
	resp, body = rt.next()
	if resp.Header.Get("Lambda-Runtime-Aws-Request-Id") != "req-2" {
		t.Fatalf("new instance got %v %s, want req-2", resp.Header, body)
	}
	rt.post("invocation/req-2/response", strings.NewReader(`"two"`), nil, nil)
	rt.goNext()
	if r := <-second; r.err != nil || r.resp.FunctionError != "" || string(r.resp.Payload) != `"two"` || r.resp.InitDuration == 0 {
		t.Fatalf("moved invocation: %v %+v", r.err, r.resp)
	}
}

func TestRuntimeAPIOversizedResponse(t *testing.T) {
	p, _ := newTestPool(t, func(c *PoolConfig) {
		c.Function.Command = []string{"sleep", "600"}
		c.MaxResponseBytes = 10
	})
	result := goInvoke(p, &Request{RequestID: "big"})
	rt := newRawRuntime(t, p)
	rt.next()
	resp, body := rt.post("invocation/big/response", chunked{strings.NewReader(strings.Repeat("x", 111))}, nil, nil)
	expectStatus(t, resp, body, http.StatusRequestEntityTooLarge,
		`{"errorType":"RequestEntityTooLarge","errorMessage":"Exceeded maximum allowed payload size (110 bytes)."}`)
	rt.goNext()
	r := <-result
	if r.err != nil {
		t.Fatal(r.err)
	}
	d := decodeError(t, r.resp)
	if d.ErrorType != "Function.ResponseSizeTooLarge" {
		t.Errorf("oversized: %+v", d)
	}
}

func TestRuntimeAPIInitError(t *testing.T) {
	p := newRawPool(t)
	result := goInvoke(p, &Request{RequestID: "cold"})
	rt := newRawRuntime(t, p)
	pids := instancePIDs(p)
	initErr := `{"errorMessage":"cannot load handler","errorType":"Runtime.ImportModuleError"}`
	resp, body := rt.post("init/error", strings.NewReader(initErr),
		http.Header{"Lambda-Runtime-Function-Error-Type": {"Runtime.ImportModuleError"}}, nil)
	expectStatus(t, resp, body, http.StatusAccepted, `{"status":"OK"}`)
	r := <-result
	if r.err != nil || r.resp.FunctionError != "Unhandled" || string(r.resp.Payload) != initErr {
		t.Fatalf("init error invocation: %v %+v", r.err, r.resp)
	}
	if !strings.Contains(string(r.resp.LogTail), "\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError\n") {
		t.Errorf("tail lacks INIT_REPORT:\n%s", r.resp.LogTail)
	}
	for _, pid := range pids {
		eventually(t, "the instance's process to die", func() bool { return processGone(pid) })
	}
	eventually(t, "the instance to go", func() bool { return p.Stats().Instances == 0 })
}

func TestDecodeClientContext(t *testing.T) {
	for in, want := range map[string]string{
		"": "",
		base64.StdEncoding.EncodeToString([]byte(`{"a":1}`)): `{"a":1}`,
		`{"already":"json"}`: `{"already":"json"}`,
		"bm90IGpzb24=":       "bm90IGpzb24=", // base64 of "not json"
	} {
		if got := decodeClientContext(in); got != want {
			t.Errorf("decodeClientContext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReportLine(t *testing.T) {
	sink := &testenv.Buffer{}
	c := &capture{sink: &logSink{w: sink}}
	c.logReport(report{requestID: "id", duration: 1234567 * time.Nanosecond, billed: 2 * time.Millisecond, memoryMB: 128, maxMemMB: 12, init: 4560 * time.Microsecond})
	c.logReport(report{requestID: "id", duration: 3 * time.Second, billed: 3 * time.Second, memoryMB: 128, maxMemMB: 12, status: "timeout"})
	c.logInitReport(10*time.Second, "error", "Runtime.ExitError")
	want := "REPORT RequestId: id\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 12 MB\tInit Duration: 4.56 ms\n" +
		"REPORT RequestId: id\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 12 MB\tStatus: timeout\n" +
		"INIT_REPORT Init Duration: 10000.00 ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError\n"
	if got := sink.String(); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if billed(1234567*time.Nanosecond) != 2*time.Millisecond || billed(time.Millisecond) != time.Millisecond {
		t.Errorf("billed rounding")
	}
}

func TestErrorDocument(t *testing.T) {
	var d map[string]string
	if err := json.Unmarshal(errorDocument("T", `"quoted"`), &d); err != nil || d["errorType"] != "T" || d["errorMessage"] != `"quoted"` {
		t.Errorf("errorDocument: %v %v", d, err)
	}
}
