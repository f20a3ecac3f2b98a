package gateway

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/template"
)

// Functions finds a deployed function by name for the routes that call it.
type Functions interface {
	// Lookup returns the function's invoker and ARN.
	Lookup(name string) (inv Invoker, arn string, ok bool)
}

// StackConfig is what FromStack needs besides the stack.
type StackConfig struct {
	// Functions resolves the functions routes, authorizers and URLs name.
	Functions Functions
	// KeySeed is the secret API keys are derived from (see APIKey).
	KeySeed string
}

// Default integration timeouts: API Gateway's 29 s for REST APIs, 30 s for
// HTTP APIs.
const (
	defaultRESTTimeout = 29 * time.Second
	defaultHTTPTimeout = 30 * time.Second
)

// FromStack builds the routing table for a stack's Api and HttpApi events
// and function URLs, from the SAM metadata the template package records.
// Warnings name what is declared but not served as written: unsupported
// properties, unknown authorizers, shadowed routes.
func FromStack(stack *template.Stack, cfg StackConfig) (*Table, []string) {
	b := &stackBuilder{stack: stack, cfg: cfg, apis: map[string]*apiBuild{}}
	ids := make([]string, 0, len(stack.Resources))
	for id := range stack.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		res := stack.Resources[id]
		switch res.Type {
		case "AWS::ApiGateway::RestApi":
			b.api(res, RESTAPI)
		case "AWS::ApiGatewayV2::Api":
			b.api(res, HTTPAPI)
		}
	}
	var routes []*Route
	var urls []*FunctionURL
	for _, id := range ids {
		res := stack.Resources[id]
		if ev, ok := res.Metadata[template.MetaSAMEvent].(map[string]any); ok {
			if r := b.route(ev); r != nil {
				routes = append(routes, r)
			}
		}
		if res.Type == "AWS::Lambda::Url" {
			if u := b.url(res); u != nil {
				urls = append(urls, u)
			}
		}
	}
	t, w := NewTable(routes, urls)
	return t, append(b.warnings, w...)
}

type stackBuilder struct {
	stack    *template.Stack
	cfg      StackConfig
	apis     map[string]*apiBuild
	warnings []string
}

// apiBuild is an API with what its routes inherit.
type apiBuild struct {
	api            *API
	authorizers    map[string]*Authorizer
	defaultAuth    string
	apiKeyRequired bool
}

func (b *stackBuilder) warn(format string, args ...any) {
	b.warnings = append(b.warnings, fmt.Sprintf(format, args...))
}

// Properties that change nothing a local gateway does, accepted silently.
var inertAPIProps = []string{"Name", "Description", "Tags", "EndpointConfiguration", "TracingEnabled",
	"AccessLogSetting", "AccessLogSettings", "OpenApiVersion", "CacheClusterEnabled", "CacheClusterSize",
	"DisableExecuteApiEndpoint", "FailOnWarnings", "Mode", "AlwaysDeploy", "MergeDefinitions", "PropagateTags",
	"DefaultRouteSettings", "RouteSettings"}

func (b *stackBuilder) api(res *template.Resource, kind APIKind) {
	props, _ := res.Metadata[template.MetaSAMProperties].(map[string]any)
	if props == nil {
		return // declared as plain CloudFormation: no SAM events route to it
	}
	a := &API{LogicalID: res.LogicalID, ID: res.PhysicalID, Kind: kind, Stage: "$default"}
	ab := &apiBuild{api: a, authorizers: map[string]*Authorizer{}}
	if kind == RESTAPI {
		a.Stage = "Prod"
		// REST APIs know AWS_IAM without declaring it; HTTP APIs need
		// Auth.EnableIamAuthorizer.
		ab.authorizers["AWS_IAM"] = &Authorizer{Name: "AWS_IAM", Kind: AuthIAM}
	}
	if s, ok := props["StageName"].(string); ok && s != "" {
		a.Stage = s
	}
	for _, k := range sortedKeys(props) {
		v := props[k]
		switch k {
		case "StageName":
		case "Variables", "StageVariables":
			a.StageVariables = stringMap(v)
		case "BinaryMediaTypes":
			for _, t := range stringList(v) {
				a.BinaryMediaTypes = append(a.BinaryMediaTypes, strings.ReplaceAll(t, "~1", "/"))
			}
		case "Cors":
			a.CORS = restCORS(v)
		case "CorsConfiguration":
			a.CORS = httpCORS(v)
		case "Auth":
			b.auth(ab, v)
		case "DefinitionBody", "DefinitionUri":
			b.warn("API %s: %s: only the routes of the functions' %s events are served", res.LogicalID, k, kind)
		default:
			if !slices.Contains(inertAPIProps, k) {
				b.warn("API %s: property %s is not supported by aloft's gateway (ignored)", res.LogicalID, k)
			}
		}
	}
	b.apis[res.LogicalID] = ab
}

func (b *stackBuilder) auth(ab *apiBuild, v any) {
	auth, _ := v.(map[string]any)
	id := ab.api.LogicalID
	for _, k := range sortedKeys(auth) {
		switch k {
		case "EnableIamAuthorizer":
			if on, _ := auth[k].(bool); on {
				ab.authorizers["AWS_IAM"] = &Authorizer{Name: "AWS_IAM", Kind: AuthIAM}
			}
		case "DefaultAuthorizer":
			ab.defaultAuth, _ = auth[k].(string)
		case "ApiKeyRequired":
			ab.apiKeyRequired, _ = auth[k].(bool)
		case "Authorizers":
			authorizers, _ := auth[k].(map[string]any)
			for _, name := range sortedKeys(authorizers) {
				spec, _ := authorizers[name].(map[string]any)
				if a := b.authorizer(ab.api, name, spec); a != nil {
					ab.authorizers[name] = a
				}
			}
		case "AddDefaultAuthorizerToCorsPreflight", "AddApiKeyRequiredToCorsPreflight":
		default:
			b.warn("API %s: Auth.%s is not supported by aloft's gateway (ignored)", id, k)
		}
	}
	if ab.defaultAuth != "" && ab.defaultAuth != "NONE" && ab.authorizers[ab.defaultAuth] == nil {
		b.warn("API %s: DefaultAuthorizer %s is not an authorizer aloft can run; its routes are not guarded", id, ab.defaultAuth)
	}
}

// authorizer builds one entry of Auth.Authorizers.
func (b *stackBuilder) authorizer(api *API, name string, spec map[string]any) *Authorizer {
	where := "API " + api.LogicalID + ": authorizer " + name
	a := &Authorizer{Name: name}
	identity, _ := spec["Identity"].(map[string]any)
	if jc, ok := spec["JwtConfiguration"].(map[string]any); ok {
		a.Kind = AuthJWT
		a.Issuer, _ = jc["issuer"].(string)
		a.Audience = stringList(jc["audience"])
		if src, ok := spec["IdentitySource"].(string); ok {
			a.Identity = identitySources(src)
		}
		if a.Issuer == "" {
			b.warn("%s: JwtConfiguration has no issuer; its routes answer 401", where)
		}
		return a
	}
	if spec["UserPoolArn"] != nil {
		b.warn("%s: Cognito user pool authorizers are not supported; its routes are not guarded", where)
		return nil
	}
	arn, _ := spec["FunctionArn"].(string)
	fn := functionName(arn)
	inv, fnARN, ok := b.cfg.Functions.Lookup(fn)
	if !ok {
		b.warn("%s: function %q is not deployed; its routes are not guarded", where, arn)
		return nil
	}
	a.Invoker, a.FunctionARN = inv, fnARN
	a.TTL = 300 * time.Second
	if n, ok := toInt(identity["ReauthorizeEvery"]); ok {
		a.TTL = time.Duration(n) * time.Second
	}
	if api.Kind == RESTAPI {
		a.Kind = AuthToken
		if t, _ := spec["FunctionPayloadType"].(string); t == "REQUEST" {
			a.Kind = AuthRequest
		}
		if a.Kind == AuthToken {
			h := "Authorization"
			if s, ok := identity["Header"].(string); ok && s != "" {
				h = s
			}
			a.Identity = []IdentitySource{{In: "header", Name: h}}
			if expr, ok := identity["ValidationExpression"].(string); ok && expr != "" {
				re, err := regexp.Compile("^(?:" + expr + ")$")
				if err != nil {
					b.warn("%s: ValidationExpression: %v (not applied)", where, err)
				} else {
					a.Validation = re
				}
			}
			return a
		}
	} else {
		a.Kind = AuthHTTPLambda
		a.PayloadVersion = "2.0"
		a.SimpleResponses, _ = spec["EnableSimpleResponses"].(bool)
		if v, _ := spec["AuthorizerPayloadFormatVersion"].(string); v == "1.0" {
			a.PayloadVersion = "1.0"
			if a.SimpleResponses {
				b.warn("%s: EnableSimpleResponses needs AuthorizerPayloadFormatVersion 2.0; policies are expected", where)
				a.SimpleResponses = false
			}
		}
	}
	for _, h := range stringList(identity["Headers"]) {
		a.Identity = append(a.Identity, IdentitySource{In: "header", Name: h})
	}
	for _, q := range stringList(identity["QueryStrings"]) {
		a.Identity = append(a.Identity, IdentitySource{In: "query", Name: q})
	}
	for _, s := range stringList(identity["StageVariables"]) {
		a.Identity = append(a.Identity, IdentitySource{In: "stageVariable", Name: s})
	}
	for _, s := range stringList(identity["Context"]) {
		a.Identity = append(a.Identity, IdentitySource{In: "context", Name: s})
	}
	if len(a.Identity) == 0 {
		a.TTL = 0 // nothing to key a cache on
	}
	return a
}

// identitySources parses "$request.header.Authorization,
// $request.querystring.token" style identity sources.
func identitySources(s string) []IdentitySource {
	var out []IdentitySource
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		switch {
		case strings.HasPrefix(part, "$request.header."):
			out = append(out, IdentitySource{In: "header", Name: strings.TrimPrefix(part, "$request.header.")})
		case strings.HasPrefix(part, "$request.querystring."):
			out = append(out, IdentitySource{In: "query", Name: strings.TrimPrefix(part, "$request.querystring.")})
		}
	}
	return out
}

var eventProps = []string{"Path", "Method", "RestApiId", "ApiId", "Auth", "PayloadFormatVersion", "TimeoutInMillis"}

// route builds the route of one Api or HttpApi event.
func (b *stackBuilder) route(ev map[string]any) *Route {
	typ, _ := ev["Type"].(string)
	if typ != "Api" && typ != "HttpApi" {
		return nil
	}
	fnID, _ := ev["Function"].(string)
	evName, _ := ev["Name"].(string)
	apiID, _ := ev["Api"].(string)
	props, _ := ev["Properties"].(map[string]any)
	where := "function " + fnID + " event " + evName
	ab := b.apis[apiID]
	if ab == nil {
		b.warn("%s: API %s is not an AWS::Serverless::%s in this template; the route is not served", where, apiID, typ)
		return nil
	}
	name := fnID
	if res, ok := b.stack.Resources[fnID]; ok && res.PhysicalID != "" {
		name = res.PhysicalID
	}
	inv, arn, ok := b.cfg.Functions.Lookup(name)
	if !ok {
		b.warn("%s: function %s is not deployed; the route is not served", where, name)
		return nil
	}
	for _, k := range sortedKeys(props) {
		if !slices.Contains(eventProps, k) {
			b.warn("%s: property %s is not supported by aloft's gateway (ignored)", where, k)
		}
	}
	r := &Route{API: ab.api, Function: name, Invoker: inv, FunctionARN: arn, PayloadVersion: "1.0", Timeout: defaultRESTTimeout}
	r.Path, _ = props["Path"].(string)
	r.Method, _ = props["Method"].(string)
	if ab.api.Kind == HTTPAPI {
		r.PayloadVersion, r.Timeout = "2.0", defaultHTTPTimeout
		if v, ok := props["PayloadFormatVersion"].(string); ok && v != "" {
			r.PayloadVersion = v
		}
		if r.Path == "" && r.Method == "" {
			r.Path, r.Method = "$default", "ANY"
		}
	}
	if strings.EqualFold(r.Method, "any") {
		r.Method = "ANY"
	}
	if r.Path == "" || r.Method == "" {
		b.warn("%s: Path and Method are required; the route is not served", where)
		return nil
	}
	if ms, ok := toInt(props["TimeoutInMillis"]); ok && ms > 0 {
		r.Timeout = time.Duration(ms) * time.Millisecond
	}
	authName := ab.defaultAuth
	r.ApiKeyRequired = ab.apiKeyRequired
	if auth, ok := props["Auth"].(map[string]any); ok {
		if n, ok := auth["Authorizer"].(string); ok {
			authName = n
		}
		if k, ok := auth["ApiKeyRequired"].(bool); ok {
			r.ApiKeyRequired = k
		}
		r.Scopes = stringList(auth["AuthorizationScopes"])
	}
	if authName != "" && authName != "NONE" {
		if a := ab.authorizers[authName]; a != nil {
			r.Authorizer = a
		} else if authName != ab.defaultAuth {
			b.warn("%s: authorizer %s is not one aloft can run; the route is not guarded", where, authName)
		}
	}
	if r.ApiKeyRequired {
		if ab.api.Kind != RESTAPI {
			b.warn("%s: ApiKeyRequired applies to REST APIs only (ignored)", where)
			r.ApiKeyRequired = false
		} else {
			ab.api.APIKey = APIKey(b.cfg.KeySeed, ab.api.ID)
		}
	}
	return r
}

// url builds a function URL from an AWS::Lambda::Url.
func (b *stackBuilder) url(res *template.Resource) *FunctionURL {
	p := res.Properties
	target, _ := p["TargetFunctionArn"].(string)
	name := functionName(target)
	inv, arn, ok := b.cfg.Functions.Lookup(name)
	if !ok {
		b.warn("function URL %s: function %s is not deployed; the URL is not served", res.LogicalID, name)
		return nil
	}
	u := &FunctionURL{Function: name, Invoker: inv, FunctionARN: arn, AuthType: "AWS_IAM"}
	if s, ok := p["AuthType"].(string); ok {
		u.AuthType = s
	}
	if c, ok := p["Cors"]; ok {
		u.CORS = httpCORS(c)
	}
	if mode, _ := p["InvokeMode"].(string); mode == "RESPONSE_STREAM" {
		b.warn("function URL %s: InvokeMode RESPONSE_STREAM is served buffered", res.LogicalID)
	}
	u.ID = name
	if full := res.Attrs["FunctionUrl"]; full != "" {
		host := strings.TrimPrefix(full, "https://")
		u.ID, _, _ = strings.Cut(host, ".")
	}
	return u
}

// functionName takes a function name out of a name or an ARN (with or
// without a qualifier).
func functionName(s string) string {
	if rest, ok := strings.CutPrefix(s, "arn:"); ok {
		parts := strings.Split(rest, ":")
		// aws:lambda:region:account:function:name[:qualifier]
		if len(parts) >= 6 && parts[4] == "function" {
			return parts[5]
		}
	}
	name, _, _ := strings.Cut(s, ":")
	return name
}

// restCORS reads a REST API's Cors: a quoted origin ("'*'") or a map of
// quoted values, as SAM takes them.
func restCORS(v any) *CORS {
	c := &CORS{MaxAge: -1, AllowMethods: []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}}
	switch v := v.(type) {
	case string:
		c.AllowOrigins = []string{unquote(v)}
	case map[string]any:
		if s, ok := v["AllowOrigin"].(string); ok {
			c.AllowOrigins = []string{unquote(s)}
		}
		if s, ok := v["AllowMethods"].(string); ok {
			c.AllowMethods = splitList(unquote(s))
		}
		if s, ok := v["AllowHeaders"].(string); ok {
			c.AllowHeaders = splitList(unquote(s))
		}
		if s, ok := v["MaxAge"].(string); ok {
			if n, err := strconv.Atoi(unquote(s)); err == nil {
				c.MaxAge = n
			}
		}
		c.AllowCredentials, _ = v["AllowCredentials"].(bool)
	default:
		return nil
	}
	return c
}

// httpCORS reads an HTTP API's CorsConfiguration (true, or a map) or a
// function URL's Cors.
func httpCORS(v any) *CORS {
	c := &CORS{MaxAge: -1}
	switch v := v.(type) {
	case bool:
		if !v {
			return nil
		}
		c.AllowOrigins, c.AllowMethods, c.AllowHeaders = []string{"*"}, []string{"*"}, []string{"*"}
	case map[string]any:
		c.AllowOrigins = stringList(v["AllowOrigins"])
		c.AllowMethods = stringList(v["AllowMethods"])
		c.AllowHeaders = stringList(v["AllowHeaders"])
		c.ExposeHeaders = stringList(v["ExposeHeaders"])
		if n, ok := toInt(v["MaxAge"]); ok {
			c.MaxAge = n
		}
		c.AllowCredentials, _ = v["AllowCredentials"].(bool)
	default:
		return nil
	}
	return c
}

func unquote(s string) string { return strings.Trim(strings.TrimSpace(s), "'") }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func stringMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		switch e := e.(type) {
		case string:
			out[k] = e
		default:
			out[k] = fmt.Sprint(e)
		}
	}
	return out
}

func toInt(v any) (int, bool) {
	switch v := v.(type) {
	case int64:
		return int(v), true
	case int:
		return v, true
	case float64:
		return int(v), true
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}
