package gateway

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/template"
)

func TestMatch(t *testing.T) {
	api := &API{LogicalID: "A", Kind: HTTPAPI}
	mk := func(method, path string) *Route {
		return &Route{API: api, Method: method, Path: path, Function: method + path}
	}
	table, warnings := NewTable([]*Route{
		mk("ANY", "$default"),
		mk("ANY", "/{proxy+}"),
		mk("GET", "/pets"),
		mk("GET", "/pets/{id}"),
		mk("ANY", "/pets/{id}"),
		mk("GET", "/pets/dog"),
		mk("GET", "/pets/{id}/toys/{toy}"),
		mk("GET", "/{a}/x"),
		mk("GET", "/pets/{proxy+}"),
		mk("get", "/pets"), // duplicate
	}, nil)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "shadowed") {
		t.Fatalf("warnings %v", warnings)
	}
	cases := []struct {
		method, path, want string
		params             []string
	}{
		{"GET", "/pets", "GET /pets", nil},
		{"GET", "/pets/", "GET /pets", nil},
		{"GET", "/pets/dog", "GET /pets/dog", nil},
		{"GET", "/pets/cat", "GET /pets/{id}", []string{"id", "cat"}},
		{"POST", "/pets/cat", "ANY /pets/{id}", []string{"id", "cat"}},
		{"GET", "/pets/1/toys/ball", "GET /pets/{id}/toys/{toy}", []string{"id", "1", "toy", "ball"}},
		{"GET", "/pets/1/toys", "GET /pets/{proxy+}", []string{"proxy", "1/toys"}},
		{"GET", "/pets/x", "GET /pets/{id}", []string{"id", "x"}},
		{"GET", "/cats/x", "GET /{a}/x", []string{"a", "cats"}},
		{"PUT", "/cats/x", "ANY /{proxy+}", []string{"proxy", "cats/x"}},
		{"GET", "/", "$default", nil},
	}
	for _, c := range cases {
		r, params, _ := table.match(c.method, c.path)
		if r == nil || r.RouteKey() != c.want || !reflect.DeepEqual(params, c.params) {
			got := "<nil>"
			if r != nil {
				got = r.RouteKey()
			}
			t.Errorf("%s %s: %s %v, want %s %v", c.method, c.path, got, params, c.want, c.params)
		}
	}
}

func TestPolicy(t *testing.T) {
	p, err := parsePolicy([]byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"execute-api:Invoke","Resource":["arn:aws:execute-api:us-east-1:1:api/*/GET/*"]},
		{"Effect":"Deny","Action":["execute-api:*"],"Resource":"arn:aws:execute-api:us-east-1:1:api/prod/GET/admin/*"},
		{"Effect":"Allow","Action":"*","Resource":"arn:aws:execute-api:us-east-1:1:api/prod/P?ST/x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]effect{
		"arn:aws:execute-api:us-east-1:1:api/prod/GET/items/1":  effectAllow,
		"arn:aws:execute-api:us-east-1:1:api/prod/GET/admin/1":  effectDeny,
		"arn:aws:execute-api:us-east-1:1:api/prod/POST/items":   effectNone,
		"arn:aws:execute-api:us-east-1:1:api/prod/POST/x":       effectAllow,
		"arn:aws:execute-api:us-east-1:1:other/prod/GET/items/": effectNone,
	}
	for arn, want := range cases {
		if got := p.evaluate(arn); got != want {
			t.Errorf("%s: %v, want %v", arn, got, want)
		}
	}
}

func TestBinaryRules(t *testing.T) {
	types := []string{"image/png", "application/*"}
	for ct, want := range map[string]bool{"image/png": true, "image/png; q=1": true, "application/zip": true, "text/plain": false, "": false} {
		if got := isBinaryFor(types, ct); got != want {
			t.Errorf("REST %q: %v", ct, got)
		}
	}
	for ct, want := range map[string]bool{"text/html; charset=utf-8": true, "application/json": true, "application/vnd.api+json": true,
		"application/x-www-form-urlencoded": true, "image/png": false, "application/octet-stream": false, "multipart/form-data; boundary=x": false} {
		if got := isTextType(ct); got != want {
			t.Errorf("HTTP %q: %v", ct, got)
		}
	}
}

type fakeFunctions map[string]bool

func (f fakeFunctions) Lookup(name string) (Invoker, string, bool) {
	if !f[name] {
		return nil, "", false
	}
	return &recorder{}, "arn:aws:lambda:us-east-1:000000000000:function:" + name, true
}

// TestFromStack reads the template package's API fixtures: stages,
// routes, authorizer and CORS settings, and the warnings for what is not
// served.
func TestFromStack(t *testing.T) {
	src := `
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      Cors: "'*'"
      GatewayResponses: {}
      Auth:
        ApiKeyRequired: true
        DefaultAuthorizer: Tok
        UsagePlan: {CreateUsagePlan: PER_API}
        Authorizers:
          Tok: {FunctionArn: !GetAtt Auth.Arn, Identity: {ValidationExpression: "Bearer .*", ReauthorizeEvery: 0}}
          Pool: {UserPoolArn: arn:aws:cognito-idp:us-east-1:1:userpool/x}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: bootstrap
      Runtime: provided.al2023
      FunctionUrlConfig: {AuthType: NONE, InvokeMode: RESPONSE_STREAM}
      Events:
        A: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /a, Method: get, RequestParameters: [method.request.header.x]}}
        B: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /b, Method: post, Auth: {Authorizer: NONE, ApiKeyRequired: false}}}
        H: {Type: HttpApi, Properties: {Path: /h, Method: get, TimeoutInMillis: 1500}}
        D: {Type: HttpApi}
  Auth:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: ., Handler: bootstrap, Runtime: provided.al2023}
`
	stack, err := template.Parse("template.yaml", []byte(src), t.TempDir(), template.Options{StackName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	table, warnings := FromStack(stack, StackConfig{Functions: fakeFunctions{"Fn": true, "Auth": true}, KeySeed: "seed"})
	joined := strings.Join(warnings, "\n")
	for _, w := range []string{"property GatewayResponses", "Auth.UsagePlan", "Cognito user pool", "property RequestParameters", "RESPONSE_STREAM"} {
		if !strings.Contains(joined, w) {
			t.Errorf("no warning about %s in:\n%s", w, joined)
		}
	}
	got := map[string]*Route{}
	for _, r := range table.Routes() {
		got[r.RouteKey()] = r
	}
	a, b, h, d := got["GET /a"], got["POST /b"], got["GET /h"], got["$default"]
	if a == nil || b == nil || h == nil || d == nil {
		t.Fatalf("routes %v", got)
	}
	if a.API.Stage != "dev" || !a.ApiKeyRequired || a.Authorizer == nil || a.Authorizer.Kind != AuthToken || a.Authorizer.TTL != 0 ||
		a.Authorizer.Validation == nil || a.API.APIKey != APIKey("seed", a.API.ID) || a.API.CORS == nil || a.API.CORS.AllowOrigins[0] != "*" {
		t.Errorf("route /a: %+v api %+v", a, a.API)
	}
	if b.ApiKeyRequired || b.Authorizer != nil {
		t.Errorf("route /b should be open: %+v", b)
	}
	if h.API.Stage != "$default" || h.PayloadVersion != "2.0" || h.Timeout.Milliseconds() != 1500 || d.Method != "ANY" {
		t.Errorf("HTTP routes: %+v %+v", h, d)
	}
	if us := table.FunctionURLs(); len(us) != 1 || us[0].AuthType != "NONE" || len(us[0].ID) != 32 || us[0].Path() != "/lambda-url/Fn/" {
		t.Errorf("URLs %+v", us)
	}
}
