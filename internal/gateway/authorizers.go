package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/runtime"
)

// AuthorizerKind is what an Authorizer runs.
type AuthorizerKind int

const (
	// AuthToken is a REST API Lambda authorizer of type TOKEN.
	AuthToken AuthorizerKind = iota
	// AuthRequest is a REST API Lambda authorizer of type REQUEST.
	AuthRequest
	// AuthHTTPLambda is an HTTP API Lambda authorizer (payload 2.0).
	AuthHTTPLambda
	// AuthJWT is an HTTP API JWT authorizer.
	AuthJWT
	// AuthIAM is AWS_IAM authorization: a SigV4 signature (service
	// execute-api) by the node's credentials.
	AuthIAM
)

// IdentitySource is one part of the request an authorizer needs: its value
// is passed to a Lambda authorizer and keys its cache; a request without it
// is answered 401 without running the authorizer.
type IdentitySource struct {
	// In is "header", "query", "stageVariable" or "context".
	In   string
	Name string
}

// Authorizer guards routes: a Lambda authorizer (REST TOKEN or REQUEST,
// HTTP API REQUEST) with its result cache, or a JWT authorizer. Build it
// with its exported fields, then share it between the routes that name it.
// Safe for concurrent use; the cache lock is never held across a call to
// the authorizer function.
type Authorizer struct {
	Name string
	Kind AuthorizerKind
	// Invoker runs the Lambda authorizer's function; FunctionARN names it.
	Invoker     Invoker
	FunctionARN string
	// Identity lists the identity sources; for TOKEN authorizers the one
	// header holding the token.
	Identity []IdentitySource
	// Validation, for TOKEN authorizers, is the ValidationExpression the
	// token must match before the function runs.
	Validation *regexp.Regexp
	// TTL is ReauthorizeEvery / the result TTL; 0 disables the cache.
	TTL time.Duration
	// SimpleResponses selects the HTTP API {"isAuthorized": …} answer
	// format instead of an IAM policy.
	SimpleResponses bool
	// PayloadVersion is an HTTP API Lambda authorizer's
	// AuthorizerPayloadFormatVersion: "2.0" ("" means it) or "1.0".
	PayloadVersion string
	// Issuer and Audience configure a JWT authorizer.
	Issuer   string
	Audience []string

	mu    sync.Mutex
	cache map[string]cachedAuth
}

type cachedAuth struct {
	expires time.Time
	res     *authResult
}

// authResult is what an authorizer decided and passes on to the event.
type authResult struct {
	kind        AuthorizerKind
	principalID string
	context     map[string]any
	policy      *policy // REST and non-simple HTTP Lambda authorizers
	allowed     bool    // simple responses
	claims      map[string]string
	scopes      []string
	accessKey   string // AuthIAM: who signed
}

// authorize runs (or recalls) the route's authorizer for c. It returns the
// result, or API Gateway's answer for a request that may not pass.
func (a *Authorizer) authorize(ctx context.Context, c *call) (*authResult, *apiError) {
	switch a.Kind {
	case AuthJWT:
		return a.authorizeJWT(c)
	case AuthIAM:
		return authorizeIAM(c)
	}
	values, ok := a.identityValues(c)
	if !ok {
		return nil, &errUnauthorized
	}
	key := strings.Join(values, "\x00")
	res := a.cached(key, c.now)
	if res == nil {
		var e *apiError
		res, e = a.invoke(ctx, c, values)
		if e != nil {
			return nil, e
		}
		if a.TTL > 0 && len(a.Identity) > 0 {
			a.store(key, res, c.now)
		}
	}
	return res, a.decide(res, c)
}

// identityValues collects the identity sources' values; false when one is
// missing or a TOKEN fails its ValidationExpression.
func (a *Authorizer) identityValues(c *call) ([]string, bool) {
	values := make([]string, 0, len(a.Identity))
	for _, src := range a.Identity {
		var v string
		switch src.In {
		case "header":
			v = strings.Join(c.r.Header.Values(src.Name), ",")
		case "query":
			v = strings.Join(c.r.URL.Query()[src.Name], ",")
		case "stageVariable":
			v = c.route.API.StageVariables[src.Name]
		case "context":
			v = c.requestID
		}
		if v == "" {
			return nil, false
		}
		values = append(values, v)
	}
	if a.Kind == AuthToken && a.Validation != nil && (len(values) == 0 || !a.Validation.MatchString(values[0])) {
		return nil, false
	}
	return values, true
}

func (a *Authorizer) cached(key string, now time.Time) *authResult {
	if a.TTL <= 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.cache[key]
	if !ok {
		return nil
	}
	if now.After(e.expires) {
		delete(a.cache, key)
		return nil
	}
	return e.res
}

// maxCachedAuth bounds an authorizer's cache; past it the cache starts over.
const maxCachedAuth = 10000

func (a *Authorizer) store(key string, res *authResult, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cache == nil || len(a.cache) >= maxCachedAuth {
		a.cache = make(map[string]cachedAuth)
	}
	a.cache[key] = cachedAuth{expires: now.Add(a.TTL), res: res}
}

// invoke runs the authorizer function with the event its kind receives.
func (a *Authorizer) invoke(ctx context.Context, c *call, values []string) (*authResult, *apiError) {
	fault := &errAuthorizerFault
	if a.Kind == AuthHTTPLambda {
		fault = &errHTTPAuthFault
	}
	var event []byte
	switch a.Kind {
	case AuthToken:
		event = append(event, `{"type":"TOKEN","methodArn":`...)
		event = appendString(event, c.routeARN())
		event = append(event, `,"authorizationToken":`...)
		event = appendString(event, values[0])
		event = append(event, '}')
	case AuthRequest:
		event = append(event, `{"type":"REQUEST","methodArn":`...)
		event = appendString(event, c.routeARN())
		event = append(event, ',')
		event = append(event, c.appendV1Shape(nil, v1RESTAuthorizer)[1:]...)
	case AuthHTTPLambda:
		if a.PayloadVersion == "1.0" {
			joined := strings.Join(values, ",")
			event = append(event, `{"version":"1.0","type":"REQUEST","methodArn":`...)
			event = appendString(event, c.routeARN())
			event = append(event, `,"identitySource":`...)
			event = appendString(event, joined)
			event = append(event, `,"authorizationToken":`...)
			event = appendString(event, joined)
			event = append(event, ',')
			event = append(event, c.appendV1Shape(nil, v1HTTPAuthorizer)[1:]...)
			break
		}
		event = c.appendV2Authorizer(values)
	}
	ctx, cancel := context.WithTimeout(ctx, c.route.Timeout)
	defer cancel()
	resp, err := a.Invoker.Invoke(ctx, &runtime.Request{Payload: event, InvokedARN: a.FunctionARN, ResultOnPost: true})
	if err != nil {
		return nil, fault
	}
	if resp.FunctionError != "" {
		var fe struct {
			ErrorMessage string `json:"errorMessage"`
		}
		if json.Unmarshal(resp.Payload, &fe) == nil && fe.ErrorMessage == "Unauthorized" {
			return nil, &errUnauthorized
		}
		return nil, fault
	}
	res := &authResult{kind: a.Kind}
	if a.SimpleResponses {
		var sr struct {
			IsAuthorized *bool          `json:"isAuthorized"`
			Context      map[string]any `json:"context"`
		}
		if err := json.Unmarshal(resp.Payload, &sr); err != nil || sr.IsAuthorized == nil {
			return nil, fault
		}
		res.allowed, res.context = *sr.IsAuthorized, sr.Context
		return res, nil
	}
	var pr struct {
		PrincipalID    string          `json:"principalId"`
		PolicyDocument json.RawMessage `json:"policyDocument"`
		Context        map[string]any  `json:"context"`
	}
	if err := json.Unmarshal(resp.Payload, &pr); err != nil {
		return nil, fault
	}
	p, err := parsePolicy(pr.PolicyDocument)
	if err != nil {
		return nil, fault
	}
	for _, v := range pr.Context {
		switch v.(type) {
		case string, float64, bool:
		default:
			return nil, fault // API Gateway accepts only scalar context values
		}
	}
	res.principalID, res.policy, res.context = pr.PrincipalID, p, pr.Context
	return res, nil
}

// decide applies a (possibly cached) result to this request's route.
func (a *Authorizer) decide(res *authResult, c *call) *apiError {
	if a.SimpleResponses {
		if !res.allowed {
			return &errForbidden
		}
		return nil
	}
	switch res.policy.evaluate(c.routeARN()) {
	case effectAllow:
		return nil
	case effectDeny:
		if a.Kind == AuthHTTPLambda {
			return &errForbidden
		}
		return &errExplicitDeny
	default:
		if a.Kind == AuthHTTPLambda {
			return &errForbidden
		}
		return &errNotAuthorized
	}
}

// routeARN is the methodArn / routeArn authorizers see and policies name:
// arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}{path}.
func (c *call) routeARN() string {
	api := c.route.API
	return "arn:aws:execute-api:" + c.g.cfg.Region + ":" + c.g.cfg.AccountID + ":" + api.ID + "/" + api.Stage + "/" + c.r.Method + c.r.URL.Path
}

// appendV2Authorizer is the HTTP API Lambda authorizer's payload 2.0 event
// (events.APIGatewayV2CustomAuthorizerV2Request).
func (c *call) appendV2Authorizer(values []string) []byte {
	api := c.route.API
	b := append([]byte(nil), `{"version":"2.0","type":"REQUEST","routeArn":`...)
	b = appendString(b, c.routeARN())
	b = append(b, `,"identitySource":`...)
	b = appendStringList(b, values)
	b = append(b, `,"routeKey":`...)
	b = appendString(b, c.route.routeKey)
	b = c.appendV2Request(b)
	pp, pk := c.pathParams()
	b = append(b, `,"pathParameters":`...)
	b = appendStringMap(b, pk, pp)
	b = append(b, `,"stageVariables":`...)
	b = appendStringMap(b, api.keySorted, api.StageVariables)
	b = append(b, `,"requestContext":{"accountId":`...)
	b = appendString(b, c.g.cfg.AccountID)
	b = append(b, `,"apiId":`...)
	b = appendString(b, api.ID)
	b = c.appendV2Context(b, c.route.routeKey, api.Stage)
	return append(b, '}')
}

// appendV1 appends requestContext.authorizer for payload 1.0 events.
func (res *authResult) appendV1(b []byte) []byte {
	if res.kind == AuthIAM {
		return append(b, "null"...) // IAM callers appear in requestContext.identity
	}
	if res.kind == AuthJWT {
		b = append(b, `{"claims":`...)
		b = appendStringMap(b, sortedKeys(res.claims), res.claims)
		b = append(b, `,"scopes":`...)
		if res.scopes == nil {
			b = append(b, "null"...)
		} else {
			b = appendStringList(b, res.scopes)
		}
		return append(b, '}')
	}
	b = append(b, '{')
	first := true
	if res.policy != nil {
		b = append(b, `"principalId":`...)
		b = appendString(b, res.principalID)
		first = false
	}
	for _, k := range sortedKeys(res.context) {
		b = appendKey(b, k, first)
		first = false
		b = appendScalar(b, res.context[k])
	}
	b = appendKey(b, "integrationLatency", first)
	return append(b, '0', '}')
}

// appendV2 appends requestContext.authorizer for payload 2.0 events.
func (res *authResult) appendV2(b []byte, account string) []byte {
	if res.kind == AuthIAM {
		b = append(b, `{"iam":`...)
		b = appendIAM(b, res.accessKey, account)
		return append(b, '}')
	}
	if res.kind == AuthJWT {
		b = append(b, `{"jwt":{"claims":`...)
		b = appendStringMap(b, sortedKeys(res.claims), res.claims)
		if res.scopes != nil {
			b = append(b, `,"scopes":`...)
			b = appendStringList(b, res.scopes)
		}
		return append(b, '}', '}')
	}
	b = append(b, `{"lambda":`...)
	if res.context == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, k := range sortedKeys(res.context) {
			b = appendKey(b, k, i == 0)
			b = appendScalar(b, res.context[k])
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendScalar appends a context value: HTTP API authorizers may return any
// JSON; REST ones only scalars.
func appendScalar(b []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return appendString(b, v)
	case float64:
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	case bool:
		return strconv.AppendBool(b, v)
	case nil:
		return append(b, "null"...)
	default:
		j, err := json.Marshal(v)
		if err != nil {
			return append(b, "null"...)
		}
		return append(b, bytes.TrimSpace(j)...)
	}
}

// authorizeIAM checks an AWS_IAM route's SigV4 signature (service
// execute-api) against the node's credentials.
func authorizeIAM(c *call) (*authResult, *apiError) {
	rest := c.route.API.Kind == RESTAPI
	if c.g.cfg.Credentials == nil {
		return nil, &errForbidden
	}
	sig, e := awsapi.Verify(c.r, c.g.cfg.Credentials, c.body)
	switch {
	case e == awsapi.ErrMissingAuthenticationToken && rest:
		return nil, &errMissingToken
	case e != nil && rest:
		return nil, &errSignatureMismatch
	case e != nil || sig.Service != "execute-api":
		return nil, &errForbidden
	}
	return &authResult{kind: AuthIAM, accessKey: sig.AccessKeyID}, nil
}

// appendIAM appends the IAM caller object of payload 2.0 events and
// function URL events.
func appendIAM(b []byte, accessKey, account string) []byte {
	b = append(b, `{"accessKey":`...)
	b = appendString(b, accessKey)
	b = append(b, `,"accountId":`...)
	b = appendString(b, account)
	b = append(b, `,"callerId":`...)
	b = appendString(b, accessKey)
	b = append(b, `,"cognitoIdentity":null,"principalOrgId":null,"userArn":`...)
	b = appendString(b, "arn:aws:iam::"+account+":root")
	b = append(b, `,"userId":`...)
	b = appendString(b, account)
	return append(b, '}')
}
