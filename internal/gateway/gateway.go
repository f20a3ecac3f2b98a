// Package gateway serves a stack's HTTP APIs the way API Gateway does: the
// routes of its Api (REST API, payload 1.0) and HttpApi (HTTP API, payload
// 1.0 or 2.0) events and its function URLs, on one HTTP listener. A request
// is matched to the most specific route, checked (CORS preflight, API key,
// Lambda or JWT authorizer), turned into the event API Gateway would send,
// handed to the function's Invoker, and the function's answer mapped back to
// HTTP. API Gateway's own answers (404, 502, 504, 429, 413, 401, 403) come
// from one catalogue (errors.go).
//
// The design is described in docs/design/gateway.md.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/runtime"
)

// Invoker runs one invocation of a function; *runtime.Pool is one.
type Invoker interface {
	Invoke(ctx context.Context, req *runtime.Request) (*runtime.Response, error)
}

// MaxRequestBytes is API Gateway's limit on a request's body: 10 MB.
const MaxRequestBytes = 10 << 20

// Config configures a Gateway. The zero value serves nothing until Replace
// installs a Table; every field has a usable zero value.
type Config struct {
	// Region and AccountID appear in events and ARNs; "" means us-east-1
	// and 000000000000.
	Region, AccountID string
	// Credentials verify SigV4 signatures on function URLs with AuthType
	// AWS_IAM; nil rejects every such request.
	Credentials awsapi.CredentialStore
	// HTTPClient fetches JWT issuers' discovery documents and JWKS; nil
	// means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock for events and caches; nil means time.Now.
	Now func() time.Time
}

// Gateway serves HTTP APIs and function URLs. Create it with New, install
// routes with Replace (at any time; requests in flight keep the table they
// started with), then Serve a listener and finally Shutdown. It is also an
// http.Handler. Safe for concurrent use.
type Gateway struct {
	cfg   Config
	table atomic.Pointer[Table]
	jwks  *jwksCache
	bufs  sync.Pool // *[]byte event buffers

	mu   sync.Mutex
	srvs []*http.Server
}

// New returns a Gateway with an empty table.
func New(cfg Config) (*Gateway, error) {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Gateway{cfg: cfg, jwks: newJWKSCache(cfg.HTTPClient, cfg.Now)}
	g.table.Store(&Table{})
	return g, nil
}

// Replace installs t as the routes every new request is matched against.
func (g *Gateway) Replace(t *Table) {
	if t == nil {
		t = &Table{}
	}
	g.table.Store(t)
}

// Table returns the routes being served.
func (g *Gateway) Table() *Table { return g.table.Load() }

// Serve accepts connections on l until Shutdown; it returns
// http.ErrServerClosed after a Shutdown, like http.Server.Serve.
func (g *Gateway) Serve(l net.Listener) error {
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	g.mu.Lock()
	g.srvs = append(g.srvs, srv)
	g.mu.Unlock()
	return srv.Serve(l)
}

// Shutdown stops every Serve, waiting for requests in flight until ctx ends.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	srvs := g.srvs
	g.srvs = nil
	g.mu.Unlock()
	var errs []error
	for _, s := range srvs {
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("gateway: shutdown: %w", err))
		}
	}
	return errors.Join(errs...)
}

// call is one request on its way through the gateway.
type call struct {
	g         *Gateway
	r         *http.Request
	body      []byte
	requestID string
	now       time.Time
	route     *Route
	params    []string // path parameters: name, value pairs
	sourceIP  string
	apiKey    string
	auth      *authResult
	url       *FunctionURL
	// urlPath and urlRawPath are the decoded and raw path a function URL's
	// function sees.
	urlPath, urlRawPath string
}

// ServeHTTP answers one request on the HTTP listener.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := g.table.Load()
	c := &call{g: g, r: r, now: g.cfg.Now(), requestID: runtime.NewRequestID(), sourceIP: sourceIP(r)}
	if u, rest, ok := t.functionURL(r.URL.Path); ok {
		g.serveURL(w, c, u, rest)
		return
	}
	route, params, pathRoute := t.match(r.Method, r.URL.Path)
	if r.Method == http.MethodOptions {
		// HTTP APIs answer CORS preflights; REST APIs answer every OPTIONS
		// on a path of an API with Cors, as SAM's generated mock method does.
		if api := preflightAPI(t, r, route, pathRoute); api != nil && api.CORS != nil && (isPreflight(r) || api.Kind == RESTAPI) {
			api.CORS.preflight(w, r, api.Kind)
			return
		}
	}
	if route == nil {
		errNotFound.write(w, c.requestID)
		return
	}
	c.route, c.params = route, params
	if e, ok := c.readBody(MaxRequestBytes); !ok {
		e.write(w, c.requestID)
		return
	}
	if route.ApiKeyRequired {
		key := r.Header.Get("X-Api-Key")
		if key == "" || key != route.API.APIKey {
			errForbidden.write(w, c.requestID)
			return
		}
		c.apiKey = key
	}
	if route.Authorizer != nil {
		res, e := route.Authorizer.authorize(r.Context(), c)
		if e != nil {
			e.write(w, c.requestID)
			return
		}
		c.auth = res
	}
	g.invoke(w, c)
}

// readBody reads the whole request body, refusing more than limit bytes.
func (c *call) readBody(limit int64) (apiError, bool) {
	r := c.r
	if r.ContentLength > limit {
		return errTooLarge, false
	}
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return apiError{}, true
	}
	var err error
	if r.ContentLength > 0 {
		c.body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, c.body)
	} else {
		c.body, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
		if int64(len(c.body)) > limit {
			return errTooLarge, false
		}
	}
	if err != nil {
		// The client went away or sent less than it announced; API Gateway
		// would never have invoked the function.
		return apiError{http.StatusBadRequest, `{"message":"Bad Request"}`, "BadRequestException"}, false
	}
	return apiError{}, true
}

// invoke builds the route's event, runs the function and writes its answer.
func (g *Gateway) invoke(w http.ResponseWriter, c *call) {
	route := c.route
	bp := g.buffer()
	var event []byte
	if route.PayloadVersion == "2.0" {
		event = c.appendV2(*bp)
	} else {
		event = c.appendV1(*bp)
	}
	ctx, cancel := context.WithTimeout(c.r.Context(), route.Timeout)
	resp, err := route.Invoker.Invoke(ctx, &runtime.Request{Payload: event, InvokedARN: route.FunctionARN, ResultOnPost: true})
	cancel()
	if err != nil {
		// The invocation may still be reading the event: the buffer is not
		// reused.
		invokeError(err).write(w, c.requestID)
		return
	}
	*bp = event[:0]
	g.bufs.Put(bp)
	if resp.FunctionError != "" {
		errInternal.write(w, c.requestID)
		return
	}
	var cors *CORS
	if route.API.Kind == HTTPAPI {
		cors = route.API.CORS
	}
	if route.PayloadVersion == "2.0" {
		writeV2Response(w, c, resp.Payload, cors, errInternal)
	} else {
		writeV1Response(w, c, resp.Payload, cors)
	}
}

// invokeError maps an Invoker's error to API Gateway's answer.
func invokeError(err error) apiError {
	switch {
	case errors.Is(err, runtime.ErrTooManyRequests):
		return errThrottled
	case errors.Is(err, context.DeadlineExceeded):
		return errTimeout
	default:
		return errInternal
	}
}

func (g *Gateway) buffer() *[]byte {
	if bp, ok := g.bufs.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, 4096)
	return &b
}

// sourceIP is the client's address without its port.
func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// localPort is the listener's port, for X-Forwarded-Port.
func localPort(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		return strconv.Itoa(a.Port)
	}
	return "80"
}
