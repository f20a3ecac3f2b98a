// Package lambdaapi serves AWS Lambda's REST API on aloft's endpoint: Invoke,
// GetFunction, GetFunctionConfiguration and ListFunctions, against the functions
// of the running stack. Requests reach it already authenticated by awsapi.Router.
package lambdaapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/runtime"
)

// MaxPayloadBytes is Lambda's limit on a synchronous invocation's request and
// response payloads: 6 MiB.
const MaxPayloadBytes = 6 << 20

// MaxAsyncPayloadBytes is Lambda's limit on an asynchronous invocation's
// payload: 1 MiB.
const MaxAsyncPayloadBytes = 1 << 20

// Invoker runs one invocation of a function; *runtime.Pool is one.
type Invoker interface {
	Invoke(ctx context.Context, req *runtime.Request) (*runtime.Response, error)
}

// Function is a deployed function as the Lambda API shows and invokes it.
type Function struct {
	Configuration FunctionConfiguration
	// ReservedConcurrency is ReservedConcurrentExecutions, or nil when unset.
	ReservedConcurrency *int
	Invoker             Invoker
}

// Registry finds the deployed functions. Lookups are by function name; the
// implementation must be safe for concurrent use.
type Registry interface {
	Function(name string) (*Function, bool)
	Functions() []*Function // sorted by name
}

// AsyncInvoker accepts asynchronous invocations (X-Amz-Invocation-Type:
// Event). Enqueue returns the request id only once the event is stored
// durably; clientContext is the decoded X-Amz-Client-Context ("" for none),
// which the function must receive as with a synchronous invocation.
// *eventbus.Bus is one.
type AsyncInvoker interface {
	Enqueue(ctx context.Context, function string, payload []byte, clientContext string) (requestID string, err error)
}

// Config configures a Service.
type Config struct {
	Region    string // default "us-east-1"
	AccountID string // default "000000000000"
	Functions Registry
	// Async accepts Event invocations; nil answers them NotImplemented.
	Async AsyncInvoker
}

// Service is the Lambda API. It implements awsapi.Service and is safe for
// concurrent use.
type Service struct {
	cfg Config
}

var _ awsapi.Service = (*Service)(nil)

// New returns a Lambda API service over cfg.Functions.
func New(cfg Config) *Service {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	return &Service{cfg: cfg}
}

// IsLambdaRequest reports whether r addresses the Lambda API by its path, for
// routing requests that carry no signature.
func IsLambdaRequest(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/2015-03-31/") || strings.HasPrefix(r.URL.Path, "/2014-11-13/")
}

// WriteError implements awsapi.Service.
func (s *Service) WriteError(w http.ResponseWriter, r *http.Request, e *awsapi.Error) {
	writeError(w, e)
}

// ServeHTTP routes a Lambda API request to its operation.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions")
	if !ok {
		writeError(w, errNotImplemented(r.Method+" "+r.URL.Path))
		return
	}
	rest = strings.TrimPrefix(rest, "/")
	if rest == "" {
		if r.Method == http.MethodGet {
			s.listFunctions(w, r)
			return
		}
		writeError(w, errNotImplemented("CreateFunction"))
		return
	}
	name, sub, _ := strings.Cut(rest, "/")
	switch {
	case sub == "invocations" && r.Method == http.MethodPost:
		s.invoke(w, r, name)
	case sub == "" && r.Method == http.MethodGet:
		s.getFunction(w, r, name)
	case sub == "configuration" && r.Method == http.MethodGet:
		s.getFunctionConfiguration(w, r, name)
	default:
		writeError(w, errNotImplemented(r.Method+" /2015-03-31/functions/{FunctionName}/"+sub))
	}
}

// resolve finds the function a FunctionName (name, name:qualifier, partial or full
// ARN) and optional Qualifier parameter designate. aloft serves only $LATEST.
func (s *Service) resolve(nameParam, qualifier string) (*Function, *awsapi.Error) {
	name := nameParam
	if rest, ok := strings.CutPrefix(name, "arn:"); ok {
		// arn:partition:lambda:region:account:function:name[:qualifier]
		parts := strings.Split(rest, ":")
		if len(parts) < 6 || parts[1] != "lambda" || parts[4] != "function" {
			return nil, errInvalidParameter("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern", nameParam)
		}
		name = strings.Join(parts[5:], ":")
	} else if parts := strings.Split(name, ":"); len(parts) >= 3 && parts[1] == "function" {
		name = strings.Join(parts[2:], ":") // account:function:name[:qualifier]
	}
	name, inlineQualifier, hasQualifier := strings.Cut(name, ":")
	if hasQualifier {
		if qualifier != "" && qualifier != inlineQualifier {
			return nil, errInvalidParameter("The derived qualifier from the function name does not match the specified qualifier.")
		}
		qualifier = inlineQualifier
	}
	fn, ok := s.cfg.Functions.Function(name)
	if !ok {
		return nil, errFunctionNotFound(s.functionARN(name, qualifier))
	}
	if qualifier != "" && qualifier != "$LATEST" {
		return nil, errFunctionNotFound(s.functionARN(name, qualifier))
	}
	return fn, nil
}

func (s *Service) functionARN(name, qualifier string) string {
	arn := "arn:aws:lambda:" + s.cfg.Region + ":" + s.cfg.AccountID + ":function:" + name
	if qualifier != "" {
		arn += ":" + qualifier
	}
	return arn
}

func (s *Service) getFunction(w http.ResponseWriter, r *http.Request, name string) {
	fn, e := s.resolve(name, r.URL.Query().Get("Qualifier"))
	if e != nil {
		writeError(w, e)
		return
	}
	out := getFunctionOutput{
		Configuration: fn.Configuration,
		Code:          functionCodeLocation{RepositoryType: "S3", Location: "file://" + fn.Configuration.codePath},
		Tags:          map[string]string{},
	}
	if fn.ReservedConcurrency != nil {
		out.Concurrency = &concurrency{ReservedConcurrentExecutions: *fn.ReservedConcurrency}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) getFunctionConfiguration(w http.ResponseWriter, r *http.Request, name string) {
	fn, e := s.resolve(name, r.URL.Query().Get("Qualifier"))
	if e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, fn.Configuration)
}

func (s *Service) listFunctions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	maxItems := 50
	if v := q.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, errInvalidParameter("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000", v))
			return
		}
		maxItems = min(n, 50)
	}
	all := s.cfg.Functions.Functions()
	start := 0
	if marker := q.Get("Marker"); marker != "" {
		// The marker is the name of the last function of the previous page.
		for start < len(all) && all[start].Configuration.FunctionName <= marker {
			start++
		}
	}
	out := listFunctionsOutput{Functions: []FunctionConfiguration{}}
	for i := start; i < len(all) && len(out.Functions) < maxItems; i++ {
		out.Functions = append(out.Functions, all[i].Configuration)
	}
	if n := start + len(out.Functions); n < len(all) {
		out.NextMarker = all[n-1].Configuration.FunctionName
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, awsapi.AsError(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
