package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/runtime"
	"github.com/aloft-dev/aloft/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/events/*.json")

// recorder is an Invoker that keeps the events it receives and answers
// with a fixed payload, standing in for a function in the event golden
// test (the server package's tests use real function processes).
type recorder struct {
	mu     sync.Mutex
	events [][]byte
	answer string
}

func (r *recorder) Invoke(_ context.Context, req *runtime.Request) (*runtime.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, append([]byte(nil), req.Payload...))
	return &runtime.Response{Payload: []byte(r.answer)}, nil
}

func (r *recorder) last() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events[len(r.events)-1]
}

// testdataDir is aws-lambda-go's events/testdata in the module cache.
func testdataDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	if err != nil {
		testenv.Unavailable(t, "aws-lambda-go not in the module cache (go mod download): %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "events", "testdata")
}

// TestEventShapes builds the events for a fixed set of requests and compares
// their field names, JSON types and nesting with aws-lambda-go's sample
// events; the exact events are kept in testdata/events (-update rewrites).
func TestEventShapes(t *testing.T) {
	dir := testdataDir(t)
	now := time.Date(2026, 3, 12, 19, 3, 58, 390e6, time.UTC)
	creds := awsapi.Credentials{AccessKeyID: "AKIAGOLDENGOLDENGOLD", SecretAccessKey: "golden-secret"}
	g, err := New(Config{Now: func() time.Time { return now }, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	fn := &recorder{answer: `{"statusCode":200,"body":"ok"}`}
	authFn := &recorder{answer: `{"principalId":"me","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},"context":{"clientName":"Exata","clientId":1}}`}
	httpAuthFn := &recorder{answer: `{"isAuthorized":true,"context":{"key":"value"}}`}
	rest := &API{LogicalID: "Rest", ID: "gy415nuibc", Kind: RESTAPI, Stage: "testStage", StageVariables: map[string]string{"stageVariableName": "stageVariableValue"}}
	httpAPI := &API{LogicalID: "Http", ID: "aaaaaaaaaa", Kind: HTTPAPI, Stage: "$default"}
	tokenAuth := &Authorizer{Name: "T", Kind: AuthToken, Invoker: authFn, Identity: []IdentitySource{{In: "header", Name: "Authorization"}}}
	requestAuth := &Authorizer{Name: "R", Kind: AuthRequest, Invoker: authFn, Identity: []IdentitySource{{In: "header", Name: "HeaderAuth1"}}}
	httpAuth := &Authorizer{Name: "H", Kind: AuthHTTPLambda, Invoker: httpAuthFn, SimpleResponses: true, Identity: []IdentitySource{{In: "header", Name: "Authorization"}}}
	httpAuthV1 := &Authorizer{Name: "H1", Kind: AuthHTTPLambda, PayloadVersion: "1.0", Invoker: authFn, Identity: []IdentitySource{{In: "header", Name: "HeaderAuth1"}}}
	iam := &Authorizer{Name: "AWS_IAM", Kind: AuthIAM}
	routes := []*Route{
		{API: rest, Method: "ANY", Path: "/{proxy+}", Invoker: fn, PayloadVersion: "1.0", Timeout: time.Second},
		{API: rest, Method: "GET", Path: "/token", Invoker: fn, PayloadVersion: "1.0", Timeout: time.Second, Authorizer: tokenAuth},
		{API: rest, Method: "GET", Path: "/request", Invoker: fn, PayloadVersion: "1.0", Timeout: time.Second, Authorizer: requestAuth},
		{API: httpAPI, Method: "GET", Path: "/v2/lambda", Invoker: fn, PayloadVersion: "2.0", Timeout: time.Second, Authorizer: httpAuth},
		{API: httpAPI, Method: "GET", Path: "/v2/lambda1", Invoker: fn, PayloadVersion: "2.0", Timeout: time.Second, Authorizer: httpAuthV1},
		{API: httpAPI, Method: "GET", Path: "/v2/{proxy+}", Invoker: fn, PayloadVersion: "2.0", Timeout: time.Second, Authorizer: iam},
		{API: httpAPI, Method: "ANY", Path: "$default", Invoker: fn, PayloadVersion: "2.0", Timeout: time.Second},
	}
	urls := []*FunctionURL{{Function: "f", Invoker: fn, AuthType: "NONE", ID: "urlid"}}
	table, warnings := NewTable(routes, urls)
	if len(warnings) > 0 {
		t.Fatal(warnings)
	}
	g.Replace(table)

	type sample struct {
		name, method, target, body string
		header                     map[string]string
		from                       *recorder
		want                       string // aws-lambda-go testdata file
	}
	samples := []sample{
		{"v1-proxy", "POST", "/hello/world?name=me", "{\r\n\t\"a\": 1\r\n}",
			map[string]string{"Content-Type": "application/json", "headerName": "headerValue"}, fn, "apigw-request.json"},
		{"v1-token-authorizer", "GET", "/token", "", map[string]string{"Authorization": "allow"}, authFn, "apigw-custom-auth-request.json"},
		{"v1-request-authorizer", "GET", "/request?QueryString1=queryValue1", "", map[string]string{"HeaderAuth1": "headerValue1"}, authFn, "apigw-custom-auth-request-type-request.json"},
		{"v2-default", "GET", "/", "", nil, fn, "apigw-v2-request-no-authorizer.json"},
		{"v2-lambda-authorizer-request", "GET", "/v2/lambda?parameter1=value1&parameter1=value2", "", map[string]string{"Authorization": "x", "Cookie": "cookie1; cookie2"}, httpAuthFn, "apigw-v2-custom-authorizer-v2-request.json"},
		{"v2-lambda-authorized", "GET", "/v2/lambda?q=1", "", map[string]string{"Authorization": "x", "Cookie": "c=1"}, fn, "apigw-v2-request-lambda-authorizer.json"},
		{"v2-lambda-authorizer-v1-request", "GET", "/v2/lambda1?QueryString1=queryValue1", "", map[string]string{"HeaderAuth1": "headerValue1"}, authFn, "apigw-v2-custom-authorizer-v1-request.json"},
		{"v2-iam", "GET", "/v2/hello/world?parameter1=value1&parameter1=value2", "", map[string]string{"Cookie": "cookie1; cookie2", "x-sign": "execute-api"}, fn, "apigw-v2-request-iam.json"},
		{"function-url", "POST", "/lambda-url/f/my/path?parameter1=value1&parameter1=value2", "Hello from client!", map[string]string{"Cookie": "cookie1; cookie2"}, fn, "lambda-urls-request.json"},
	}
	for _, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			req := httptest.NewRequest(s.method, "http://gy415nuibc.execute-api.us-east-1.amazonaws.com"+s.target, strings.NewReader(s.body))
			req.RemoteAddr = "192.168.196.186:4711"
			req.Header.Set("User-Agent", "PostmanRuntime/2.4.5")
			for k, v := range s.header {
				req.Header.Set(k, v)
			}
			if service := req.Header.Get("x-sign"); service != "" {
				req.Header.Del("x-sign")
				empty := sha256.Sum256(nil)
				if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
					req, hex.EncodeToString(empty[:]), service, "us-east-1", time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			w := httptest.NewRecorder()
			g.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			got := s.from.last()
			var ours any
			if err := json.Unmarshal(got, &ours); err != nil {
				t.Fatalf("event is not JSON: %v\n%s", err, got)
			}
			theirsRaw, err := os.ReadFile(filepath.Join(dir, s.want))
			if err != nil {
				t.Fatal(err)
			}
			var theirs any
			if err := json.Unmarshal(theirsRaw, &theirs); err != nil {
				t.Fatal(err)
			}
			for _, d := range compareShapes("", ours, theirs) {
				t.Errorf("%s vs %s: %s", s.name, s.want, d)
			}
			golden := filepath.Join("testdata", "events", s.name+".json")
			var pretty bytes.Buffer
			json.Indent(&pretty, stripVolatile(got), "", "  ")
			pretty.WriteByte('\n')
			if *update {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("event differs from %s (run with -update, then review)\n--- got\n%s", golden, pretty.Bytes())
			}
		})
	}
}

// stripVolatile blanks the per-request ids and the listener's port so the
// golden files are stable.
func stripVolatile(b []byte) []byte {
	var v any
	json.Unmarshal(b, &v)
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				switch k {
				case "requestId", "extendedRequestId":
					v[k] = "REQUEST-ID"
				case "authorization", "x-amz-date":
					if s, _ := e.(string); strings.HasPrefix(s, "AWS4-") || k == "x-amz-date" {
						v[k] = "SIGNED-AT-TEST-TIME"
					}
				default:
					walk(e)
				}
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // values decoded from JSON always encode
	return out.Bytes()
}

// dynamicKeys are objects whose keys are data (header names, parameters):
// only their values' types are compared.
var dynamicKeys = map[string]bool{
	"headers": true, "multiValueHeaders": true, "queryStringParameters": true, "multiValueQueryStringParameters": true,
	"pathParameters": true, "stageVariables": true, "requestContext.authorizer": true, "requestContext.authorizer.lambda": true,
}

// notModelled are sample fields aloft has no source for: mutual TLS client
// certificates, Cognito and IAM identities on API routes, operation names.
var notModelled = map[string]bool{
	"requestContext.authentication": true, "requestContext.identity.clientCert": true,
	"requestContext.identity.cognitoIdentityPoolId": true, "requestContext.identity.cognitoIdentityId": true,
	"requestContext.identity.caller": true, "requestContext.identity.apiKey": true, "requestContext.identity.apiKeyId": true,
	"requestContext.identity.accessKey": true, "requestContext.identity.accountId": true, "requestContext.identity.userArn": true,
	"requestContext.identity.user": true, "requestContext.identity.cognitoAuthenticationType": true,
	"requestContext.identity.cognitoAuthenticationProvider": true, "requestContext.operationName": true,
	"requestContext.authorizer.iam": true, "requestContext.authorizer.jwt": true,
	// The function URL sample shows an AWS_IAM URL; this one is NONE.
	"requestContext.authorizer": true,
}

// compareShapes reports fields present on one side only and JSON type
// mismatches. null matches any type: AWS sends null where a value may be.
func compareShapes(path string, ours, theirs any) []string {
	if ours == nil || theirs == nil {
		return nil
	}
	var diffs []string
	switch t := theirs.(type) {
	case map[string]any:
		o, ok := ours.(map[string]any)
		if !ok {
			return []string{path + ": ours is " + typeName(ours) + ", theirs an object"}
		}
		if dynamicKeys[path] {
			var sample any
			for _, v := range t {
				sample = v
				break
			}
			for k, v := range o {
				if sample != nil && typeName(v) != typeName(sample) && v != nil {
					diffs = append(diffs, path+"."+k+": ours is "+typeName(v)+", theirs "+typeName(sample))
				}
			}
			return diffs
		}
		for _, k := range sortedKeys(t) {
			p := strings.TrimPrefix(path+"."+k, ".")
			if _, ok := o[k]; !ok {
				if !notModelled[p] && !omittedWhenEmpty[p] {
					diffs = append(diffs, p+": missing from ours")
				}
				continue
			}
			diffs = append(diffs, compareShapes(p, o[k], t[k])...)
		}
		for _, k := range sortedKeys(o) {
			p := strings.TrimPrefix(path+"."+k, ".")
			if _, ok := t[k]; !ok && !knownExtra[p] {
				diffs = append(diffs, p+": ours only")
			}
		}
	case []any:
		o, ok := ours.([]any)
		if !ok {
			return []string{path + ": ours is " + typeName(ours) + ", theirs a list"}
		}
		if len(t) > 0 {
			for _, e := range o {
				diffs = append(diffs, compareShapes(path+"[]", e, t[0])...)
			}
		}
	default:
		if typeName(ours) != typeName(theirs) {
			diffs = append(diffs, path+": ours is "+typeName(ours)+", theirs "+typeName(theirs))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// knownExtra are fields AWS sends that a sample leaves out; each is in
// aws-lambda-go's types.
var knownExtra = map[string]bool{
	"isBase64Encoded": true, "routeKey": true, "requestContext.routeKey": true, "requestContext.stage": true,
	"requestContext.identity.principalOrgId": true, "requestContext.domainName": true, "requestContext.domainPrefix": true,
	"requestContext.extendedRequestId": true, "requestContext.protocol": true, "requestContext.requestTime": true,
	"requestContext.requestTimeEpoch": true, "requestContext.path": true, "requestContext.identity.userAgent": true,
	"requestContext.identity.user": true, "requestContext.identity.userArn": true, "requestContext.identity.accessKey": true,
	"requestContext.identity.accountId": true, "requestContext.identity.caller": true,
	"requestContext.identity.cognitoAuthenticationProvider": true, "requestContext.identity.cognitoAuthenticationType": true,
	"requestContext.identity.cognitoIdentityId": true, "requestContext.identity.cognitoIdentityPoolId": true,
	"requestContext.authorizer": true, "pathParameters": true, "stageVariables": true, "body": true,
}

// omittedWhenEmpty are payload 2.0 fields AWS leaves out when there is
// nothing to send (omitempty in aws-lambda-go's types).
var omittedWhenEmpty = map[string]bool{
	"cookies": true, "queryStringParameters": true, "pathParameters": true, "stageVariables": true, "body": true,
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return "?"
}
