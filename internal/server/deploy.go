package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/build"
	"github.com/aloft-dev/aloft/internal/lambdaapi"
	"github.com/aloft-dev/aloft/internal/runtime"
	"github.com/aloft-dev/aloft/internal/template"
)

// Deployment reports what Deploy did with each function of a stack.
type Deployment struct {
	Functions []DeployedFunction
	// Warnings are problems that do not stop the stack: functions aloft cannot
	// run yet (they answer every invocation with an error naming why).
	Warnings []string
	// Events are one line per queue, topic and event source the deployment
	// runs ("queue Jobs: http://…", "SQS Jobs → function Worker").
	Events []string
}

// DeployedFunction is one function of a deployed stack.
type DeployedFunction struct {
	Name, LogicalID, Runtime string
	// Interpreter is what runs it, for Node.js and Python functions
	// ("Node.js 20.20.2 (/usr/bin/node)"); "" for native bootstraps.
	Interpreter string
	Cached      bool  // its build came from the cache
	Err         error // why it cannot run, or nil
}

// Deploy builds every function of stack, starts a pool for each and makes them
// invocable, replacing whatever was deployed before. The stack's model is stored
// in the backbone. A function that cannot be built fails the deployment, except
// for code aloft does not support yet, which becomes a warning.
func (s *Server) Deploy(ctx context.Context, stack *template.Stack) (*Deployment, error) {
	fns, err := stack.Functions()
	if err != nil {
		return nil, err
	}
	if err := s.storeStack(ctx, stack); err != nil {
		return nil, err
	}
	layers, layerWarnings, err := s.buildLayers(ctx, stack)
	if err != nil {
		return nil, err
	}
	buckets, err := stack.Buckets()
	if err != nil {
		return nil, err
	}
	bucketWarnings, err := s.deployBuckets(ctx, buckets)
	if err != nil {
		return nil, err
	}
	dep := &Deployment{Warnings: append(layerWarnings, bucketWarnings...)}
	set := make(map[string]*lambdaapi.Function, len(fns))
	var pools []closer
	fail := func(err error) (*Deployment, error) {
		for _, p := range pools {
			err = errors.Join(err, p.Shutdown(ctx))
		}
		return nil, err
	}
	for _, fn := range fns {
		d := DeployedFunction{Name: fn.Name, LogicalID: fn.LogicalID, Runtime: fn.Runtime}
		fnLayers, warnings := functionLayers(fn, layers)
		dep.Warnings = append(dep.Warnings, warnings...)
		f, pool, art, err := s.deployFunction(ctx, stack, fn, fnLayers)
		switch {
		case errors.Is(err, build.ErrUnsupported):
			d.Err = err
			dep.Warnings = append(dep.Warnings, err.Error())
			f = s.functionModel(stack, fn, nil)
			f.Invoker = unavailable{err: err}
		case err != nil:
			return fail(err)
		default:
			d.Cached, d.Interpreter = art.Cached, art.Runtime
			dep.Warnings = append(dep.Warnings, art.Warnings...)
			if pool != nil {
				pools = append(pools, pool)
			}
		}
		set[fn.Name] = f
		if fn.LogicalID != fn.Name {
			if _, taken := set[fn.LogicalID]; !taken {
				set[fn.LogicalID] = f // aloft invoke Hello works whatever FunctionName says
			}
		}
		dep.Functions = append(dep.Functions, d)
	}
	s.functions.replace(set)
	dep.Warnings = append(dep.Warnings, s.deployRoutes(stack)...)
	if err := s.deployEvents(ctx, stack, fns, set, dep); err != nil {
		return fail(err)
	}
	if err := s.deployNotifications(ctx, stack, buckets, set, dep); err != nil {
		return fail(err)
	}
	s.mu.Lock()
	old := s.pools
	s.pools = pools
	s.mu.Unlock()
	for _, p := range old {
		if err := p.Shutdown(ctx); err != nil {
			dep.Warnings = append(dep.Warnings, fmt.Sprintf("stopping the previous deployment: %v", err))
		}
	}
	return dep, nil
}

// deployFunction builds fn and starts its pool. The pool is nil for a function
// that needs none (ReservedConcurrentExecutions 0).
func (s *Server) deployFunction(ctx context.Context, stack *template.Stack, fn template.Function, layers []*build.Layer) (f *lambdaapi.Function, pool *runtime.Pool, art *build.Artifact, err error) {
	if fn.PackageType == "Image" {
		return nil, nil, nil, fmt.Errorf("function %s: PackageType Image is %w", fn.Name, build.ErrUnsupported)
	}
	art, err = s.builder.Build(ctx, build.Spec{
		Name: fn.Name, Runtime: fn.Runtime, Handler: fn.Handler, CodePath: fn.CodePath, BuildMethod: fn.BuildMethod,
		BuildProperties: fn.BuildProperties, Layers: layers, InlineCode: fn.InlineCode,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	f = s.functionModel(stack, fn, art)
	maxConc := s.cfg.DefaultConcurrency
	if fn.ReservedConcurrency != nil {
		if *fn.ReservedConcurrency == 0 {
			f.Invoker = throttled{}
			return f, nil, art, nil
		}
		maxConc = *fn.ReservedConcurrency
	}
	pool, err = runtime.NewPool(runtime.PoolConfig{
		Function: runtime.FunctionSpec{
			Name: fn.Name, Version: "$LATEST", ARN: fn.ARN,
			Runtime: fn.Runtime, Handler: fn.Handler,
			Command: art.Command, TaskRoot: art.TaskRoot,
			MemoryMB: fn.MemorySize, Timeout: time.Duration(fn.Timeout) * time.Second,
			Env: s.functionEnv(fn, art.Env),
		},
		MaxConcurrency: maxConc,
		Logs:           s.logs.prefixed(fn.Name),
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("function %s: %w", fn.Name, err)
	}
	f.Invoker = pool
	return f, pool, art, nil
}

// functionEnv is what aloft adds to a function's environment: the template's
// variables, then credentials and the endpoint so that AWS SDKs in the function
// reach this node. The host's AWS_CA_BUNDLE and friends are deliberately not
// passed (a host path would not exist inside a sandbox); with Config.TLS,
// AWS_CA_BUNDLE names aloft's own CA, which a sandbox must then make visible
// at that path. The build's variables (NODE_PATH, PYTHONPATH) come first, so
// the template can override them as on Lambda.
func (s *Server) functionEnv(fn template.Function, buildEnv map[string]string) map[string]string {
	env := make(map[string]string, len(fn.Environment)+len(buildEnv)+6)
	for k, v := range buildEnv {
		env[k] = v
	}
	for k, v := range fn.Environment {
		env[k] = v
	}
	if _, set := env["AWS_ENDPOINT_URL"]; !set {
		env["AWS_ENDPOINT_URL"] = s.EndpointURL()
	}
	env["AWS_ACCESS_KEY_ID"] = s.creds.AccessKeyID
	env["AWS_SECRET_ACCESS_KEY"] = s.creds.SecretAccessKey
	env["AWS_REGION"] = s.cfg.Region
	env["AWS_DEFAULT_REGION"] = s.cfg.Region
	if ca := s.CAPath(); ca != "" {
		env["AWS_CA_BUNDLE"] = ca // aloft's own CA, not the host's
	}
	return env
}

func (s *Server) functionModel(stack *template.Stack, fn template.Function, art *build.Artifact) *lambdaapi.Function {
	arch := fn.Architectures
	if len(arch) == 0 {
		arch = []string{"x86_64"}
	}
	c := lambdaapi.FunctionConfiguration{
		FunctionName:     fn.Name,
		FunctionArn:      fn.ARN,
		Runtime:          fn.Runtime,
		Role:             roleOf(stack, fn),
		Handler:          fn.Handler,
		Description:      fn.Description,
		Timeout:          fn.Timeout,
		MemorySize:       fn.MemorySize,
		LastModified:     time.Now().UTC().Format("2006-01-02T15:04:05.000+0000"),
		Version:          "$LATEST",
		TracingConfig:    lambdaapi.TracingConfig{Mode: "PassThrough"},
		State:            "Active",
		LastUpdateStatus: "Successful",
		PackageType:      "Zip",
		Architectures:    arch,
		EphemeralStorage: lambdaapi.EphemeralStorage{Size: 512},
		LoggingConfig:    lambdaapi.LoggingConfig{LogFormat: "Text", LogGroup: "/aws/lambda/" + fn.Name},
	}
	if fn.PackageType != "" {
		c.PackageType = fn.PackageType
	}
	if len(fn.Environment) > 0 {
		c.Environment = &lambdaapi.Environment{Variables: fn.Environment}
	}
	if art != nil {
		c.CodeSha256, c.CodeSize = art.CodeSha256, art.CodeSize
		c.RevisionID = revisionID(art.CodeSha256)
	}
	c.SetCodePath(fn.CodePath)
	return &lambdaapi.Function{Configuration: c, ReservedConcurrency: fn.ReservedConcurrency}
}

// roleOf is the function's resolved Role property (an ARN, or the placeholder
// ARN of the role SAM generates).
func roleOf(stack *template.Stack, fn template.Function) string {
	if r, ok := stack.Resources[fn.LogicalID]; ok {
		if role, ok := r.Properties["Role"].(string); ok {
			return role
		}
	}
	return ""
}

// revisionID derives a stable UUID-shaped revision from the code hash.
func revisionID(codeSha string) string {
	h := fmt.Sprintf("%x", []byte(codeSha))
	for len(h) < 32 {
		h += "0"
	}
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (s *Server) storeStack(ctx context.Context, stack *template.Stack) error {
	b, err := json.Marshal(stack)
	if err != nil {
		return fmt.Errorf("server: encode stack: %w", err)
	}
	if _, err := s.state.Put(ctx, "stacks."+stack.Name, b); err != nil {
		return fmt.Errorf("server: store stack %s: %w", stack.Name, err)
	}
	return nil
}

// registry is the set of invocable functions; Deploy swaps it whole.
type registry struct {
	byName atomic.Pointer[map[string]*lambdaapi.Function]
}

var _ lambdaapi.Registry = (*registry)(nil)

func newRegistry() *registry {
	r := &registry{}
	r.byName.Store(&map[string]*lambdaapi.Function{})
	return r
}

func (r *registry) replace(set map[string]*lambdaapi.Function) { r.byName.Store(&set) }

func (r *registry) Function(name string) (*lambdaapi.Function, bool) {
	f, ok := (*r.byName.Load())[name]
	return f, ok
}

func (r *registry) Functions() []*lambdaapi.Function {
	m := *r.byName.Load()
	seen := make(map[*lambdaapi.Function]bool, len(m))
	out := make([]*lambdaapi.Function, 0, len(m))
	for _, f := range m {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.Compare(out[i].Configuration.FunctionName, out[j].Configuration.FunctionName) < 0
	})
	return out
}

// unavailable answers every invocation of a function aloft cannot run.
type unavailable struct{ err error }

func (u unavailable) Invoke(context.Context, *runtime.Request) (*runtime.Response, error) {
	return nil, &awsapi.Error{Status: http.StatusNotImplemented, Code: awsapi.CodeNotImplemented, Message: u.err.Error()}
}

// throttled is a function with ReservedConcurrentExecutions 0: every invocation
// is throttled, as on Lambda.
type throttled struct{}

func (throttled) Invoke(context.Context, *runtime.Request) (*runtime.Response, error) {
	return nil, runtime.ErrTooManyRequests
}
