package gateway

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// APIKind tells the two API Gateway flavours apart.
type APIKind int

const (
	// RESTAPI is an AWS::Serverless::Api (API Gateway REST API, payload 1.0).
	RESTAPI APIKind = iota
	// HTTPAPI is an AWS::Serverless::HttpApi (API Gateway HTTP API).
	HTTPAPI
)

// String names the kind as SAM does: "Api" or "HttpApi".
func (k APIKind) String() string {
	if k == HTTPAPI {
		return "HttpApi"
	}
	return "Api"
}

// API is one deployed API: its identity, stage and the settings that apply to
// every route. Routes point at it; it is immutable once in a Table.
type API struct {
	// LogicalID is the template's name for the API (ServerlessRestApi,
	// ServerlessHttpApi or the explicit resource's ID).
	LogicalID string
	// ID is the API's id as Ref returns it, the apiId in events.
	ID   string
	Kind APIKind
	// Stage is StageName, "Prod" or "$default" by default, as on AWS; the
	// listener serves the routes without a stage prefix, as `sam local
	// start-api` does, and events name the stage.
	Stage string
	// StageVariables are the stage's Variables (REST APIs) or
	// StageVariables (HTTP APIs); nil when none.
	StageVariables map[string]string
	// BinaryMediaTypes (REST APIs) select which request bodies are base64
	// encoded in the event.
	BinaryMediaTypes []string
	// CORS is the API's Cors/CorsConfiguration, nil when unset.
	CORS *CORS
	// APIKey is the key requests to routes with ApiKeyRequired must send
	// in x-api-key; "" when no route requires one.
	APIKey string

	keySorted []string // stage variable names, sorted
}

// segKind orders path segments by how specific they are: API Gateway picks
// the route whose segments, read left to right, are most specific first.
type segKind uint8

const (
	segLiteral segKind = iota
	segParam
	segGreedy
)

type segment struct {
	kind segKind
	text string // the literal, or the parameter's name
}

// Route is one Api or HttpApi event: a method and a path template on an API,
// served by a function.
type Route struct {
	API *API
	// Method is upper case; "ANY" matches every method.
	Method string
	// Path is the resource path as written ("/items/{id}"), "$default" for
	// an HTTP API's catch-all route.
	Path string
	// Function is the function's name; Invoker runs it.
	Function string
	Invoker  Invoker
	// FunctionARN is what authorizers and logs name.
	FunctionARN string
	// PayloadVersion is "1.0" or "2.0"; REST APIs always use "1.0".
	PayloadVersion string
	// Timeout is the integration timeout (TimeoutInMillis; 29 s for REST
	// APIs and 30 s for HTTP APIs by default).
	Timeout time.Duration
	// ApiKeyRequired makes the route answer 403 without the API's key.
	ApiKeyRequired bool
	// Authorizer guards the route; nil when it is open.
	Authorizer *Authorizer
	// Scopes are the JWT scopes the route requires (AuthorizationScopes).
	Scopes []string

	segs []segment
	// routeKey is "GET /items/{id}" or "$default".
	routeKey string
}

// RouteKey is the route as HTTP APIs name it: "GET /items/{id}", "ANY
// /{proxy+}" or "$default".
func (r *Route) RouteKey() string { return r.routeKey }

func parsePath(p string) []segment {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	parts := strings.Split(p, "/")
	segs := make([]segment, len(parts))
	for i, s := range parts {
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}"):
			segs[i] = segment{segGreedy, s[1 : len(s)-2]}
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			segs[i] = segment{segParam, s[1 : len(s)-1]}
		default:
			segs[i] = segment{segLiteral, s}
		}
	}
	return segs
}

// compareRoutes orders routes most specific first: segment by segment,
// literal before parameter before greedy parameter; a longer path before a
// shorter one it extends; a method before ANY; $default last.
func compareRoutes(a, b *Route) int {
	if ad, bd := a.Path == "$default", b.Path == "$default"; ad != bd {
		if ad {
			return 1
		}
		return -1
	}
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if c := cmp.Compare(a.segs[i].kind, b.segs[i].kind); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(len(b.segs), len(a.segs)); c != 0 {
		return c
	}
	if aa, ba := a.Method == "ANY", b.Method == "ANY"; aa != ba {
		if aa {
			return 1
		}
		return -1
	}
	return cmp.Compare(a.API.LogicalID, b.API.LogicalID)
}

// Table is the routes and function URLs of one deployment. Build it with
// NewTable; it is immutable afterwards and shared by every request.
type Table struct {
	routes []*Route // most specific first
	urls   map[string]*FunctionURL
	apis   []*API
}

// NewTable orders routes for matching. Two routes with the same API-less
// method and path (from different APIs, served on one listener) keep the
// first in API order; the others are returned as warnings.
func NewTable(routes []*Route, urls []*FunctionURL) (*Table, []string) {
	t := &Table{urls: make(map[string]*FunctionURL, len(urls))}
	var warnings []string
	seen := map[string]*Route{}
	apis := map[*API]bool{}
	for _, r := range routes {
		r.segs = parsePath(r.Path)
		r.Method = strings.ToUpper(r.Method)
		if r.Path == "$default" {
			r.routeKey = "$default"
		} else {
			r.routeKey = r.Method + " " + r.Path
		}
		key := r.Method + " " + normalizedTemplate(r.segs)
		if r.Path == "$default" {
			key = "$default"
		}
		if prev, dup := seen[key]; dup {
			warnings = append(warnings, "route "+r.routeKey+" of "+r.API.LogicalID+" (function "+r.Function+
				") is shadowed by the same route of "+prev.API.LogicalID+" (function "+prev.Function+"): every API is served on one listener")
			continue
		}
		seen[key] = r
		t.routes = append(t.routes, r)
		if !apis[r.API] {
			apis[r.API] = true
			t.apis = append(t.apis, r.API)
		}
	}
	slices.SortStableFunc(t.routes, compareRoutes)
	slices.SortFunc(t.apis, func(a, b *API) int { return cmp.Compare(a.LogicalID, b.LogicalID) })
	for _, a := range t.apis {
		a.keySorted = sortedKeys(a.StageVariables)
	}
	for _, u := range urls {
		t.urls[u.Function] = u
	}
	return t, warnings
}

func normalizedTemplate(segs []segment) string {
	var sb strings.Builder
	for _, s := range segs {
		sb.WriteByte('/')
		switch s.kind {
		case segParam:
			sb.WriteString("{}")
		case segGreedy:
			sb.WriteString("{+}")
		default:
			sb.WriteString(s.text)
		}
	}
	return sb.String()
}

// Routes lists the table's routes, most specific first.
func (t *Table) Routes() []*Route { return slices.Clone(t.routes) }

// FunctionURLs lists the table's function URLs by function name.
func (t *Table) FunctionURLs() []*FunctionURL {
	out := make([]*FunctionURL, 0, len(t.urls))
	for _, u := range t.urls {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b *FunctionURL) int { return cmp.Compare(a.Function, b.Function) })
	return out
}

// APIs lists the APIs with at least one route, by logical ID.
func (t *Table) APIs() []*API { return slices.Clone(t.apis) }

// match finds the most specific route for method and path (already cleaned,
// starting with "/"), and its path parameters. anyMethod reports whether
// some route matched the path with another method.
func (t *Table) match(method, path string) (r *Route, params []string, pathOnly *Route) {
	var parts [16]string
	segs := splitPath(path, parts[:0])
	for _, r := range t.routes {
		if r.Path == "$default" {
			if pathOnly == nil {
				pathOnly = r
			}
			return r, nil, pathOnly
		}
		p, ok := matchSegs(r.segs, segs, nil)
		if !ok {
			continue
		}
		if r.Method == "ANY" || r.Method == method {
			return r, p, r
		}
		if pathOnly == nil {
			pathOnly = r
		}
	}
	return nil, nil, pathOnly
}

func splitPath(path string, out []string) []string {
	path = strings.Trim(path, "/")
	for path != "" {
		seg, rest, _ := strings.Cut(path, "/")
		out = append(out, seg)
		path = rest
	}
	return out
}

// matchSegs matches a request path's segments against a route's; params
// collects name, value pairs.
func matchSegs(route []segment, segs []string, params []string) ([]string, bool) {
	for i, s := range route {
		switch s.kind {
		case segGreedy:
			if i >= len(segs) {
				return nil, false
			}
			return append(params, s.text, strings.Join(segs[i:], "/")), true
		case segParam:
			if i >= len(segs) || segs[i] == "" {
				return nil, false
			}
			params = append(params, s.text, segs[i])
		default:
			if i >= len(segs) || segs[i] != s.text {
				return nil, false
			}
		}
	}
	return params, len(route) == len(segs)
}

func sortedKeys[V any](m map[string]V) []string {
	if m == nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
