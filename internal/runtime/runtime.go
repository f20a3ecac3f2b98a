// Package runtime runs AWS Lambda functions as ordinary local processes that
// speak the AWS Lambda Runtime API.
//
// A [Pool] owns the instances of one function. Each instance is one process
// (its own process group, working directory TaskRoot, a clean Lambda-style
// environment) and one Runtime API listener on 127.0.0.1:0 that serves only
// that process, so every request, timeout, crash, log line and memory figure
// is attributed to the instance that caused it. An instance handles one
// invocation at a time, as in Lambda; the pool starts instances on demand,
// reuses warm ones and reaps idle ones.
//
// The design is described in docs/design/runtime.md.
package runtime

import (
	"errors"
	"io"
	"time"
)

// Defaults applied by [NewPool] to zero-valued configuration fields.
const (
	DefaultMemoryMB         = 128
	DefaultTimeout          = 3 * time.Second
	DefaultMaxConcurrency   = 64
	DefaultIdleTimeout      = 10 * time.Minute
	DefaultInitTimeout      = 10 * time.Second
	DefaultMaxResponseBytes = 6 * 1024 * 1024
	DefaultVersion          = "$LATEST"
	DefaultRegion           = "us-east-1"
)

// ErrTooManyRequests is returned by [Pool.Invoke] when MaxConcurrency
// invocations are already in flight. Invocations are never queued.
var ErrTooManyRequests = errors.New("runtime: too many requests: concurrency limit reached")

// ErrPoolClosed is returned by [Pool.Invoke] after [Pool.Shutdown] has begun,
// including to invocations that were in flight when their instance was killed.
var ErrPoolClosed = errors.New("runtime: pool closed")

// FunctionSpec is what an instance of a function needs to run. It is copied by
// [NewPool]; changing it afterwards has no effect.
type FunctionSpec struct {
	// Name is the function name (AWS_LAMBDA_FUNCTION_NAME, log group).
	Name string
	// Version is the function version; "" means "$LATEST".
	Version string
	// ARN is the function ARN, the default Lambda-Runtime-Invoked-Function-Arn.
	// "" means arn:aws:lambda:{region}:000000000000:function:{Name}.
	ARN string
	// Runtime is the Lambda runtime identifier ("provided.al2023",
	// "nodejs20.x", ...). Managed runtimes get AWS_EXECUTION_ENV; provided*
	// and "" (images) do not.
	Runtime string
	// Handler is passed to the runtime as _HANDLER.
	Handler string
	// Command is the argv of the runtime process: an executable and its
	// arguments, e.g. [CodeDir+"/bootstrap"]. A relative path containing a
	// slash is resolved against TaskRoot; a bare name is looked up in the
	// function's PATH, not the host's.
	Command []string
	// TaskRoot is LAMBDA_TASK_ROOT and the working directory of the process.
	TaskRoot string
	// MemoryMB is AWS_LAMBDA_FUNCTION_MEMORY_SIZE and the REPORT line's
	// Memory Size; 0 means 128. It is reported, not enforced.
	MemoryMB int
	// Timeout bounds one invocation from the moment the runtime receives the
	// event; 0 means 3 s.
	Timeout time.Duration
	// Env holds the template's variables plus whatever the caller adds
	// (credentials, AWS_ENDPOINT_URL, AWS_REGION). They are merged over the
	// variables Lambda sets, except the reserved ones (see env.go), which are
	// silently left as Lambda sets them.
	Env map[string]string
}

// PoolConfig configures one function's pool of instances. The zero value of
// every field except Function selects the documented default.
type PoolConfig struct {
	// Function describes the function the pool runs.
	Function FunctionSpec
	// MaxConcurrency caps invocations in flight (instances busy or starting
	// for an invocation); 0 means 64. Beyond it Invoke returns
	// ErrTooManyRequests at once: there is no queue.
	MaxConcurrency int
	// IdleTimeout is how long a warm instance is kept without work before it
	// is killed; 0 means 10 minutes.
	IdleTimeout time.Duration
	// InitTimeout bounds the init phase, from process start to the runtime's
	// first GET invocation/next, like Lambda's 10 s init limit; 0 means 10 s.
	InitTimeout time.Duration
	// Logs receives START/END/REPORT lines and the function's stdout and
	// stderr, one Write per line including its newline; nil discards them.
	// The pool serializes its writes, so Logs need not be safe for concurrent
	// use by others than the pool.
	Logs io.Writer
	// MaxResponseBytes is the nominal response payload limit; 0 means 6 MB
	// (6*1024*1024). Like Lambda, the pool accepts 100 bytes beyond it and
	// names that figure (6291556 for the default) in the error.
	MaxResponseBytes int
}

// PoolStats is a snapshot of a pool's instances.
type PoolStats struct {
	// Instances counts live instances: starting, busy or idle.
	Instances int
	// Busy counts invocations in flight, each holding one instance.
	Busy int
}

// Request is one invocation of a function. The pool does not modify it.
type Request struct {
	// RequestID is the invocation's id; "" means a generated UUID v4.
	RequestID string
	// Payload is the event; empty means "{}", as Lambda passes it.
	Payload []byte
	// ClientContext is the X-Amz-Client-Context value as received (base64).
	// The runtime gets the decoded JSON in Lambda-Runtime-Client-Context, as
	// Lambda passes it; a value that is not base64 is passed unchanged.
	ClientContext string
	// CognitoIdentity is passed as Lambda-Runtime-Cognito-Identity (JSON).
	CognitoIdentity string
	// TraceID is the X-Ray trace header; "" means a generated
	// "Root=1-{8hex}-{24hex};Parent={16hex};Sampled=0".
	TraceID string
	// InvokedARN is Lambda-Runtime-Invoked-Function-Arn; "" means the
	// function's ARN.
	InvokedARN string
	// ResultOnPost hands the caller the Response as soon as the runtime
	// posts its result, instead of when the runtime next calls
	// invocation/next (one round trip and the END/REPORT bookkeeping
	// later). Only RequestID, Payload and FunctionError are set; the
	// REPORT line is still logged. For callers that need no LogTail or
	// Duration, such as the HTTP gateway.
	ResultOnPost bool
}

// Response is the outcome of one invocation. A function error (handled,
// panic, timeout, crash, init failure, oversized response) is a Response with
// FunctionError set, not a Go error.
type Response struct {
	// RequestID is the invocation's id (generated when the request had none).
	RequestID string
	// Payload is the function's response, or the error document
	// ({"errorMessage", "errorType", ...}) when FunctionError is set.
	Payload []byte
	// FunctionError is "" on success, else "Unhandled", the value of the
	// X-Amz-Function-Error header.
	FunctionError string
	// Duration is the invoke phase's duration as REPORT shows it.
	Duration time.Duration
	// BilledDuration is Duration plus any init duration, rounded up to 1 ms.
	BilledDuration time.Duration
	// MaxMemoryUsedMB is the instance process's peak resident set size.
	MaxMemoryUsedMB int
	// InitDuration is > 0 only for the invocation that started the instance.
	InitDuration time.Duration
	// LogTail is the last 4 KB of this invocation's log lines, from START to
	// REPORT inclusive (X-Amz-Log-Type: Tail).
	LogTail []byte
}
