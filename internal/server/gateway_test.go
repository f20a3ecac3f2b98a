package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestGateway runs the HTTP API app (testdata/http/template.yaml) once and
// checks events, responses, errors, CORS, authorizers, API keys and function
// URLs through real HTTP clients and real function processes.
func TestGateway(t *testing.T) {
	is := newIssuer(t)
	n := startHTTPNode(t, "testdata/http/template.yaml", map[string]string{"Issuer": is.srv.URL})

	t.Run("REST API v1 event", func(t *testing.T) {
		req, _ := http.NewRequest("GET", n.base+"/items?a=1&a=2&b=x%20y", nil)
		req.Header.Add("X-Multi", "one")
		req.Header.Add("X-Multi", "two")
		req.Header.Set("User-Agent", "gw-test/1.0")
		resp, b := send(t, req)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		var e echoed
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(e.Typed, &ev); err != nil {
			t.Fatal(err)
		}
		rc := ev.RequestContext
		want := map[string]any{
			"resource": ev.Resource == "/items", "path": ev.Path == "/items", "httpMethod": ev.HTTPMethod == "GET",
			"headers":                         ev.Headers["X-Multi"] == "two" && ev.Headers["User-Agent"] == "gw-test/1.0" && ev.Headers["Host"] != "" && ev.Headers["X-Forwarded-For"] == "127.0.0.1",
			"multiValueHeaders":               reflect.DeepEqual(ev.MultiValueHeaders["X-Multi"], []string{"one", "two"}),
			"queryStringParameters":           ev.QueryStringParameters["a"] == "2" && ev.QueryStringParameters["b"] == "x y",
			"multiValueQueryStringParameters": reflect.DeepEqual(ev.MultiValueQueryStringParameters["a"], []string{"1", "2"}),
			"stage":                           rc.Stage == "Prod", "resourcePath": rc.ResourcePath == "/items", "rc.httpMethod": rc.HTTPMethod == "GET",
			"rc.path": rc.Path == "/Prod/items", "sourceIp": rc.Identity.SourceIP == "127.0.0.1", "userAgent": rc.Identity.UserAgent == "gw-test/1.0",
			"requestId":        rc.RequestID == resp.Header.Get("X-Amzn-Requestid") && rc.RequestID != "",
			"requestTimeEpoch": rc.RequestTimeEpoch > 0 && rc.RequestTime != "", "accountId": rc.AccountID == "000000000000",
			"apiId": rc.APIID != "" && rc.ResourceID != "", "protocol": rc.Protocol == "HTTP/1.1",
		}
		for k, ok := range want {
			if ok != true {
				t.Errorf("%s wrong in %s", k, e.Typed)
			}
		}
		// What AWS sends as null is null, not omitted.
		for _, k := range []string{"pathParameters", "stageVariables", "body"} {
			if v, ok := e.Raw[k]; !ok || v != nil {
				t.Errorf("%s = %v (present %v), want null", k, v, ok)
			}
		}
		if e.Raw["isBase64Encoded"] != false {
			t.Errorf("isBase64Encoded = %v", e.Raw["isBase64Encoded"])
		}
	})

	t.Run("path parameters and greedy proxy", func(t *testing.T) {
		var ev events.APIGatewayProxyRequest
		n.echo(t, "DELETE", "/items/42", nil, nil, &ev)
		if ev.Resource != "/items/{id}" || ev.PathParameters["id"] != "42" || ev.HTTPMethod != "DELETE" {
			t.Fatalf("got %+v", ev)
		}
		n.echo(t, "PUT", "/files/a/b/c.txt", nil, nil, &ev)
		if ev.Resource != "/files/{proxy+}" || ev.PathParameters["proxy"] != "a/b/c.txt" {
			t.Fatalf("got resource %q params %v", ev.Resource, ev.PathParameters)
		}
	})

	t.Run("text and binary bodies per BinaryMediaTypes", func(t *testing.T) {
		var ev events.APIGatewayProxyRequest
		n.echo(t, "POST", "/items", strings.NewReader(`{"a":"é"}`), map[string]string{"Content-Type": "application/json"}, &ev)
		if ev.IsBase64Encoded || ev.Body != `{"a":"é"}` {
			t.Fatalf("text body: %v %q", ev.IsBase64Encoded, ev.Body)
		}
		bin := make([]byte, 4096)
		rand.Read(bin)
		n.echo(t, "POST", "/items", bytes.NewReader(bin), map[string]string{"Content-Type": "application/octet-stream"}, &ev)
		if !ev.IsBase64Encoded {
			t.Fatal("octet-stream body not base64 encoded")
		}
		resp, got := n.do(t, "POST", "/items?action=binary", bytes.NewReader(bin), map[string]string{"Content-Type": "image/png"})
		if resp.StatusCode != 200 || !bytes.Equal(got, bin) || resp.Header.Get("Content-Type") != "application/octet-stream" {
			t.Fatalf("binary round trip: %d, %d bytes, equal %v", resp.StatusCode, len(got), bytes.Equal(got, bin))
		}
	})

	t.Run("v1 response headers and multiValueHeaders", func(t *testing.T) {
		resp, b := n.do(t, "GET", "/items?action=multi", nil, nil)
		if resp.StatusCode != 201 || string(b) != "multi" || resp.Header.Get("X-Single") != "one" ||
			!reflect.DeepEqual(resp.Header.Values("X-Multi"), []string{"a", "b"}) || len(resp.Cookies()) != 2 {
			t.Fatalf("%d %q %v", resp.StatusCode, b, resp.Header)
		}
	})

	t.Run("status codes, with and without a body", func(t *testing.T) {
		for code, body := range map[int]string{204: "", 304: "", 418: "status body", 503: "status body"} {
			resp, b := n.do(t, "GET", fmt.Sprintf("/items?action=status&code=%d", code), nil, nil)
			if resp.StatusCode != code || string(b) != body {
				t.Errorf("status %d: got %d %q", code, resp.StatusCode, b)
			}
		}
	})

	t.Run("explicit REST API: stage, stage variables, API key", func(t *testing.T) {
		key := ""
		for _, a := range n.srv.HTTPRoutes().APIs() {
			if a.LogicalID == "ShopApi" {
				key = a.APIKey
			}
		}
		if len(key) != 40 {
			t.Fatalf("API key %q", key)
		}
		if resp, _ := n.do(t, "GET", "/shop/keyed", nil, nil); resp.StatusCode != 403 {
			t.Fatalf("without key: %d", resp.StatusCode)
		}
		if resp, b := n.do(t, "GET", "/shop/keyed", nil, map[string]string{"X-Api-Key": "wrong"}); resp.StatusCode != 403 || string(b) != `{"message":"Forbidden"}` {
			t.Fatalf("wrong key: %d %s", resp.StatusCode, b)
		}
		var ev events.APIGatewayProxyRequest
		n.echo(t, "GET", "/shop/keyed", nil, map[string]string{"X-Api-Key": key}, &ev)
		if ev.RequestContext.Stage != "v1" || ev.StageVariables["mode"] != "test" || ev.RequestContext.Identity.APIKey != key || ev.RequestContext.Identity.APIKeyID == "" {
			t.Fatalf("got stage %q vars %v identity %+v", ev.RequestContext.Stage, ev.StageVariables, ev.RequestContext.Identity)
		}
	})

	t.Run("HTTP API v2 event", func(t *testing.T) {
		req, _ := http.NewRequest("GET", n.base+"/users/7?x=1&x=2&y=%C3%A9", nil)
		req.Header.Add("X-Multi", "one")
		req.Header.Add("X-Multi", "two")
		req.Header.Set("Cookie", "a=1; b=2")
		req.Header.Set("User-Agent", "gw-test/2.0")
		resp, b := send(t, req)
		var e echoed
		if resp.StatusCode != 200 || json.Unmarshal(b, &e) != nil {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(e.Typed, &ev); err != nil {
			t.Fatal(err)
		}
		h := ev.RequestContext.HTTP
		checks := map[string]bool{
			"version": ev.Version == "2.0", "routeKey": ev.RouteKey == "GET /users/{id}", "rawPath": ev.RawPath == "/users/7",
			"rawQueryString": ev.RawQueryString == "x=1&x=2&y=%C3%A9", "cookies": reflect.DeepEqual(ev.Cookies, []string{"a=1", "b=2"}),
			"headers": ev.Headers["x-multi"] == "one,two" && ev.Headers["user-agent"] == "gw-test/2.0" && ev.Headers["cookie"] == "",
			"query":   ev.QueryStringParameters["x"] == "1,2" && ev.QueryStringParameters["y"] == "é", "pathParameters": ev.PathParameters["id"] == "7",
			"http": h.Method == "GET" && h.Path == "/users/7" && h.Protocol == "HTTP/1.1" && h.SourceIP == "127.0.0.1" && h.UserAgent == "gw-test/2.0",
			"context": ev.RequestContext.Stage == "$default" && ev.RequestContext.RouteKey == "GET /users/{id}" && ev.RequestContext.TimeEpoch > 0 &&
				ev.RequestContext.RequestID == resp.Header.Get("Apigw-Requestid") && ev.RequestContext.APIID != "",
			"isBase64Encoded": !ev.IsBase64Encoded,
		}
		for k, ok := range checks {
			if !ok {
				t.Errorf("%s wrong in %s", k, e.Typed)
			}
		}
		for _, k := range []string{"body", "stageVariables"} {
			if hasKey(e.Raw, k) {
				t.Errorf("%s present, want omitted as AWS omits it", k)
			}
		}
	})

	t.Run("v2 responses: cookies, simple format, binary", func(t *testing.T) {
		resp, b := n.do(t, "GET", "/v2/x?action=cookies", nil, nil)
		if resp.StatusCode != 200 || string(b) != "cookies" || !reflect.DeepEqual(resp.Header.Values("Set-Cookie"), []string{"a=1; Path=/", "b=2"}) {
			t.Fatalf("cookies: %d %q %v", resp.StatusCode, b, resp.Header)
		}
		resp, b = n.do(t, "GET", "/v2/x?action=simple", nil, nil)
		if resp.StatusCode != 200 || string(b) != `{"hello":"world"}` || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("simple: %d %q %v", resp.StatusCode, b, resp.Header)
		}
		resp, b = n.do(t, "GET", "/v2/x?action=string", nil, nil)
		if resp.StatusCode != 200 || string(b) != `"just a string"` {
			t.Fatalf("simple string: %d %q", resp.StatusCode, b)
		}
		bin := make([]byte, 70000)
		rand.Read(bin)
		var ev events.APIGatewayV2HTTPRequest
		n.echo(t, "POST", "/v2/up", bytes.NewReader(bin), map[string]string{"Content-Type": "image/png"}, &ev)
		if !ev.IsBase64Encoded {
			t.Fatal("image/png body not base64 encoded")
		}
		n.echo(t, "POST", "/v2/up", strings.NewReader("a=b"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, &ev)
		if ev.IsBase64Encoded || ev.Body != "a=b" {
			t.Fatalf("form body: %v %q", ev.IsBase64Encoded, ev.Body)
		}
		resp, got := n.do(t, "POST", "/v2/up?action=binary", bytes.NewReader(bin), map[string]string{"Content-Type": "image/png"})
		if resp.StatusCode != 200 || !bytes.Equal(got, bin) {
			t.Fatalf("binary round trip: %d, %d bytes", resp.StatusCode, len(got))
		}
	})

	t.Run("HTTP API route with payload 1.0", func(t *testing.T) {
		var ev events.APIGatewayProxyRequest
		raw := n.echo(t, "POST", "/legacy", strings.NewReader("hi"), map[string]string{"Content-Type": "text/plain"}, &ev)
		if ev.Resource != "/legacy" || ev.Body != "hi" || ev.HTTPMethod != "POST" || ev.RequestContext.Stage != "$default" || raw["multiValueHeaders"] == nil {
			t.Fatalf("got %+v", ev)
		}
	})

	t.Run("error answers", func(t *testing.T) {
		cases := []struct {
			method, path string
			body         []byte
			status       int
			want         string
		}{
			{"GET", "/nowhere", nil, 404, `{"message":"Not Found"}`},
			{"POST", "/users/1", nil, 404, `{"message":"Not Found"}`},
			{"GET", "/items?action=error", nil, 502, `{"message":"Internal server error"}`},
			{"GET", "/items?action=malformed", nil, 502, `{"message":"Internal server error"}`},
			{"GET", "/v2/x?action=error", nil, 502, `{"message":"Internal server error"}`},
			{"GET", "/v2/x?action=badstatus", nil, 502, `{"message":"Internal server error"}`},
			{"GET", "/slow?action=sleep&ms=3000", nil, 504, `{"message":"Endpoint request timed out"}`},
			{"GET", "/throttled", nil, 429, `{"message":"Too Many Requests"}`},
			{"POST", "/items", make([]byte, 10<<20+1), 413, `{"message":"Request Entity Too Large"}`},
			// The same answers from an HTTP API (payload v2).
			{"GET", "/v2slow?action=sleep&ms=3000", nil, 504, `{"message":"Endpoint request timed out"}`},
			{"GET", "/v2throttled", nil, 429, `{"message":"Too Many Requests"}`},
			{"POST", "/v2/x", make([]byte, 10<<20+1), 413, `{"message":"Request Entity Too Large"}`},
		}
		for _, c := range cases {
			resp, b := n.do(t, c.method, c.path, bytes.NewReader(c.body), nil)
			if resp.StatusCode != c.status || string(b) != c.want || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, resp.StatusCode, b, c.status, c.want)
			}
		}
	})

	t.Run("CORS", func(t *testing.T) {
		pre := map[string]string{"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"}
		resp, _ := n.do(t, "OPTIONS", "/shop/token", nil, pre)
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
			resp.Header.Get("Access-Control-Allow-Headers") != "Content-Type,Authorization" || resp.Header.Get("Access-Control-Max-Age") != "600" {
			t.Fatalf("REST preflight: %d %v", resp.StatusCode, resp.Header)
		}
		if resp, _ = n.do(t, "OPTIONS", "/shop/keyed", nil, nil); resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
			t.Fatalf("REST OPTIONS without Origin: %d %v", resp.StatusCode, resp.Header)
		}
		pre = map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-auth"}
		resp, _ = n.do(t, "OPTIONS", "/secure/lambda", nil, pre)
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
			resp.Header.Get("Access-Control-Allow-Methods") != "GET,POST" || resp.Header.Get("Access-Control-Max-Age") != "300" {
			t.Fatalf("HTTP API preflight: %d %v", resp.StatusCode, resp.Header)
		}
		pre["Origin"] = "https://evil.example"
		if resp, _ = n.do(t, "OPTIONS", "/secure/lambda", nil, pre); resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("disallowed origin got %v", resp.Header)
		}
		resp, _ = n.do(t, "GET", "/secure/lambda", nil, map[string]string{"Origin": "https://app.example", "X-Auth": "allow"})
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || resp.Header.Get("Access-Control-Expose-Headers") != "x-request-id" {
			t.Fatalf("HTTP API response CORS: %d %v", resp.StatusCode, resp.Header)
		}
		resp, _ = n.do(t, "OPTIONS", "/lambda-url/PublicUrl/any", nil, map[string]string{"Origin": "https://x.example", "Access-Control-Request-Method": "PUT"})
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("function URL preflight: %d %v", resp.StatusCode, resp.Header)
		}
	})

	t.Run("TOKEN authorizer: allow, deny, unauthorized, cached", func(t *testing.T) {
		cases := []struct {
			token  string
			status int
			body   string
		}{
			{"", 401, `{"message":"Unauthorized"}`},
			{"deny", 403, `{"Message":"User is not authorized to access this resource with an explicit deny"}`},
			{"unauthorized", 401, `{"message":"Unauthorized"}`},
			{"broken", 500, `{"message":null}`},
		}
		for _, c := range cases {
			resp, b := n.do(t, "GET", "/shop/token", nil, map[string]string{"Authorization": c.token})
			if resp.StatusCode != c.status || string(b) != c.body {
				t.Errorf("token %q: %d %s", c.token, resp.StatusCode, b)
			}
		}
		var first, second events.APIGatewayProxyRequest
		n.echo(t, "GET", "/shop/token", nil, map[string]string{"Authorization": "allow"}, &first)
		n.echo(t, "GET", "/shop/token", nil, map[string]string{"Authorization": "allow"}, &second)
		a := first.RequestContext.Authorizer
		if a["principalId"] != "user-1" || a["tenant"] != "acme" || !hasKey(a, "integrationLatency") {
			t.Fatalf("authorizer context %v", a)
		}
		var authEvent events.APIGatewayCustomAuthorizerRequest
		if err := json.Unmarshal([]byte(a["event"].(string)), &authEvent); err != nil || authEvent.Type != "TOKEN" ||
			!strings.HasSuffix(authEvent.MethodArn, "/v1/GET/shop/token") || authEvent.AuthorizationToken != "allow" {
			t.Fatalf("TOKEN event %v: %+v", err, authEvent)
		}
		if second.RequestContext.Authorizer["calls"] != a["calls"] {
			t.Fatalf("second request ran the authorizer again (calls %v then %v): not cached", a["calls"], second.RequestContext.Authorizer["calls"])
		}
	})

	t.Run("REQUEST authorizer: allow, deny, missing identity, cached", func(t *testing.T) {
		if resp, _ := n.do(t, "GET", "/shop/request/1", nil, nil); resp.StatusCode != 401 {
			t.Fatalf("no identity: %d", resp.StatusCode)
		}
		if resp, _ := n.do(t, "GET", "/shop/request/1", nil, map[string]string{"X-Auth": "deny"}); resp.StatusCode != 403 {
			t.Fatalf("deny: %d", resp.StatusCode)
		}
		var first, second events.APIGatewayProxyRequest
		n.echo(t, "GET", "/shop/request/1?q=1", nil, map[string]string{"X-Auth": "allow"}, &first)
		n.echo(t, "GET", "/shop/request/1", nil, map[string]string{"X-Auth": "allow"}, &second)
		var authEvent events.APIGatewayCustomAuthorizerRequestTypeRequest
		if err := json.Unmarshal([]byte(first.RequestContext.Authorizer["event"].(string)), &authEvent); err != nil || authEvent.Type != "REQUEST" ||
			authEvent.PathParameters["id"] != "1" || authEvent.QueryStringParameters["q"] != "1" || authEvent.Headers["X-Auth"] != "allow" || authEvent.RequestContext.Stage != "v1" {
			t.Fatalf("REQUEST event %v: %+v", err, authEvent)
		}
		if second.RequestContext.Authorizer["calls"] != first.RequestContext.Authorizer["calls"] {
			t.Fatalf("not cached: calls %v then %v", first.RequestContext.Authorizer["calls"], second.RequestContext.Authorizer["calls"])
		}
		// The cached policy allows only /shop/request/1: API Gateway
		// evaluates a cached policy against each request's ARN.
		if resp, b := n.do(t, "GET", "/shop/request/2", nil, map[string]string{"X-Auth": "allow"}); resp.StatusCode != 403 ||
			string(b) != `{"Message":"User is not authorized to access this resource"}` {
			t.Fatalf("other resource with the cached policy: %d %s", resp.StatusCode, b)
		}
	})

	t.Run("HTTP API Lambda authorizer with simple responses", func(t *testing.T) {
		if resp, b := n.do(t, "GET", "/secure/lambda", nil, nil); resp.StatusCode != 401 || string(b) != `{"message":"Unauthorized"}` {
			t.Fatalf("no identity: %d %s", resp.StatusCode, b)
		}
		if resp, b := n.do(t, "GET", "/secure/lambda", nil, map[string]string{"X-Auth": "nope"}); resp.StatusCode != 403 || string(b) != `{"message":"Forbidden"}` {
			t.Fatalf("deny: %d %s", resp.StatusCode, b)
		}
		var first, second events.APIGatewayV2HTTPRequest
		n.echo(t, "GET", "/secure/lambda", nil, map[string]string{"X-Auth": "allow"}, &first)
		n.echo(t, "GET", "/secure/lambda", nil, map[string]string{"X-Auth": "allow"}, &second)
		l := first.RequestContext.Authorizer.Lambda
		if !strings.HasSuffix(fmt.Sprint(l["routeArn"]), "/live/GET/secure/lambda") || fmt.Sprint(l["identity"]) != "[allow]" {
			t.Fatalf("authorizer context %v", l)
		}
		if second.RequestContext.Authorizer.Lambda["calls"] != l["calls"] {
			t.Fatalf("not cached: calls %v then %v", l["calls"], second.RequestContext.Authorizer.Lambda["calls"])
		}
		if first.RequestContext.Stage != "live" || first.StageVariables["tier"] != "gold" {
			t.Fatalf("stage %q vars %v", first.RequestContext.Stage, first.StageVariables)
		}
	})

	t.Run("ReauthorizeEvery 0: every request runs the authorizer", func(t *testing.T) {
		// The gateway package's TestAuthorizerCacheTTL steps a clock through
		// a TTL; here real authorizer functions show nothing is cached.
		var first, second events.APIGatewayProxyRequest
		n.echo(t, "GET", "/shop/uncached", nil, map[string]string{"Authorization": "allow"}, &first)
		n.echo(t, "GET", "/shop/uncached", nil, map[string]string{"Authorization": "allow"}, &second)
		if c1, c2 := first.RequestContext.Authorizer["calls"], second.RequestContext.Authorizer["calls"]; c1 == nil || c1 == c2 {
			t.Fatalf("TOKEN authorizer calls %v then %v: cached", c1, c2)
		}
		var firstV2, secondV2 events.APIGatewayV2HTTPRequest
		n.echo(t, "GET", "/secure/uncached", nil, map[string]string{"X-Auth": "allow"}, &firstV2)
		n.echo(t, "GET", "/secure/uncached", nil, map[string]string{"X-Auth": "allow"}, &secondV2)
		if c1, c2 := firstV2.RequestContext.Authorizer.Lambda["calls"], secondV2.RequestContext.Authorizer.Lambda["calls"]; c1 == nil || c1 == c2 {
			t.Fatalf("HTTP API authorizer calls %v then %v: cached", c1, c2)
		}
	})

	t.Run("HTTP API Lambda authorizer with payload 1.0 and policies", func(t *testing.T) {
		if resp, _ := n.do(t, "GET", "/secure/legacy", nil, nil); resp.StatusCode != 401 {
			t.Fatalf("no identity: %d", resp.StatusCode)
		}
		if resp, b := n.do(t, "GET", "/secure/legacy", nil, map[string]string{"X-Auth": "deny"}); resp.StatusCode != 403 || string(b) != `{"message":"Forbidden"}` {
			t.Fatalf("deny: %d %s", resp.StatusCode, b)
		}
		var ev events.APIGatewayV2HTTPRequest
		n.echo(t, "GET", "/secure/legacy", nil, map[string]string{"X-Auth": "allow"}, &ev)
		l := ev.RequestContext.Authorizer.Lambda
		var authEvent events.APIGatewayV2CustomAuthorizerV1Request
		if err := json.Unmarshal([]byte(fmt.Sprint(l["event"])), &authEvent); err != nil || authEvent.Version != "1.0" || authEvent.Type != "REQUEST" ||
			authEvent.IdentitySource != "allow" || !strings.HasSuffix(authEvent.MethodArn, "/live/GET/secure/legacy") || l["tenant"] != "acme" {
			t.Fatalf("1.0 authorizer: %v %+v context %v", err, authEvent, l)
		}
	})

	t.Run("AWS_IAM routes", func(t *testing.T) {
		creds := n.srv.Credentials()
		signed := func(path, service string) *http.Request {
			body := "signed"
			sum := sha256.Sum256([]byte(body))
			req, _ := http.NewRequest("POST", n.base+path, strings.NewReader(body))
			if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
				req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			return req
		}
		if resp, b := n.do(t, "POST", "/shop/iam", nil, nil); resp.StatusCode != 403 || string(b) != `{"message":"Missing Authentication Token"}` {
			t.Fatalf("REST unsigned: %d %s", resp.StatusCode, b)
		}
		resp, b := send(t, signed("/shop/iam", "execute-api"))
		var e echoed
		var v1 events.APIGatewayProxyRequest
		if resp.StatusCode != 200 || json.Unmarshal(b, &e) != nil || json.Unmarshal(e.Typed, &v1) != nil {
			t.Fatalf("REST signed: %d %s", resp.StatusCode, b)
		}
		if id := v1.RequestContext.Identity; id.AccessKey != creds.AccessKeyID || id.UserArn == "" || id.AccountID != "000000000000" || v1.Body != "signed" {
			t.Fatalf("REST IAM identity %+v", id)
		}
		if resp, b := n.do(t, "POST", "/secure/iam", nil, nil); resp.StatusCode != 403 || string(b) != `{"message":"Forbidden"}` {
			t.Fatalf("HTTP unsigned: %d %s", resp.StatusCode, b)
		}
		if resp, _ := send(t, signed("/secure/iam", "lambda")); resp.StatusCode != 403 {
			t.Fatalf("HTTP signed for another service: %d", resp.StatusCode)
		}
		resp, b = send(t, signed("/secure/iam", "execute-api"))
		var v2 events.APIGatewayV2HTTPRequest
		if resp.StatusCode != 200 || json.Unmarshal(b, &e) != nil || json.Unmarshal(e.Typed, &v2) != nil {
			t.Fatalf("HTTP signed: %d %s", resp.StatusCode, b)
		}
		if a := v2.RequestContext.Authorizer; a == nil || a.IAM == nil || a.IAM.AccessKey != creds.AccessKeyID {
			t.Fatalf("HTTP IAM authorizer %s", e.Typed)
		}
	})

	t.Run("JWT authorizer", func(t *testing.T) {
		cases := []struct {
			name   string
			header map[string]string
			status int
		}{
			{"missing", nil, 401},
			{"garbage", bearer("not.a.jwt"), 401},
			{"wrong audience", bearer(is.token(t, map[string]any{"aud": "someone-else"})), 401},
			{"expired", bearer(is.token(t, map[string]any{"exp": time.Now().Add(-time.Minute).Unix()})), 401},
			{"wrong issuer", bearer(is.token(t, map[string]any{"iss": "https://other.example"})), 401},
		}
		for _, c := range cases {
			if resp, _ := n.do(t, "GET", "/secure/jwt", nil, c.header); resp.StatusCode != c.status {
				t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.status)
			}
		}
		var ev events.APIGatewayV2HTTPRequest
		n.echo(t, "GET", "/secure/jwt", nil, bearer(is.token(t, map[string]any{"scope": "read write"})), &ev)
		j := ev.RequestContext.Authorizer.JWT
		if j == nil || j.Claims["sub"] != "user-1" || j.Claims["iss"] != is.srv.URL || !reflect.DeepEqual(j.Scopes, []string{"read", "write"}) {
			t.Fatalf("jwt authorizer %+v", j)
		}
		if resp, b := n.do(t, "GET", "/secure/scoped", nil, bearer(is.token(t, map[string]any{"scope": "read"}))); resp.StatusCode != 403 || string(b) != `{"message":"Forbidden"}` {
			t.Fatalf("missing scope: %d %s", resp.StatusCode, b)
		}
		n.echo(t, "GET", "/secure/scoped", nil, bearer(is.token(t, map[string]any{"scope": "admin", "client_id": "aloft-test", "aud": nil})), &ev)
		if f := is.fetches.Load(); f != 1 {
			t.Fatalf("JWKS fetched %d times, want once (cached)", f)
		}
	})

	t.Run("function URL, AuthType NONE", func(t *testing.T) {
		var ev events.LambdaFunctionURLRequest
		raw := n.echo(t, "POST", "/lambda-url/PublicUrl/my/path?p=1&p=2", strings.NewReader(`{"x":1}`),
			map[string]string{"Content-Type": "application/json", "Cookie": "c=1"}, &ev)
		rc := ev.RequestContext
		if ev.Version != "2.0" || ev.RawPath != "/my/path" || ev.RawQueryString != "p=1&p=2" || ev.QueryStringParameters["p"] != "1,2" ||
			ev.Body != `{"x":1}` || ev.IsBase64Encoded || !reflect.DeepEqual(ev.Cookies, []string{"c=1"}) ||
			rc.HTTP.Method != "POST" || rc.HTTP.Path != "/my/path" || rc.AccountID != "anonymous" || rc.Authorizer != nil || len(rc.APIID) != 32 {
			t.Fatalf("event %+v", ev)
		}
		if raw["routeKey"] != "$default" || dig(raw, "requestContext", "stage") != "$default" {
			t.Fatalf("routeKey/stage %v", raw)
		}
	})

	t.Run("function URL, AuthType AWS_IAM", func(t *testing.T) {
		if resp, b := n.do(t, "GET", "/lambda-url/PrivateUrl/", nil, nil); resp.StatusCode != 403 || string(b) != `{"Message":"Forbidden"}` {
			t.Fatalf("unsigned: %d %s", resp.StatusCode, b)
		}
		creds := n.srv.Credentials()
		body := `{"signed":true}`
		sum := sha256.Sum256([]byte(body))
		req, _ := http.NewRequest("POST", n.base+"/lambda-url/PrivateUrl/in?x=1", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
			req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		resp, b := send(t, req)
		var e echoed
		if resp.StatusCode != 200 || json.Unmarshal(b, &e) != nil {
			t.Fatalf("signed: %d %s", resp.StatusCode, b)
		}
		var ev events.LambdaFunctionURLRequest
		json.Unmarshal(e.Typed, &ev)
		if ev.RequestContext.Authorizer == nil || ev.RequestContext.Authorizer.IAM == nil || ev.RequestContext.Authorizer.IAM.AccessKey != creds.AccessKeyID || ev.Body != body {
			t.Fatalf("IAM event %s", e.Typed)
		}
		// A tampered body fails the signature.
		req, _ = http.NewRequest("POST", n.base+"/lambda-url/PrivateUrl/in?x=1", strings.NewReader(body))
		v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: "wrong"},
			req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now())
		if resp, _ := send(t, req); resp.StatusCode != 403 {
			t.Fatalf("bad signature: %d", resp.StatusCode)
		}
	})

	t.Run("keep-alive and HTTP/1.1 pipelining", func(t *testing.T) {
		u, _ := url.Parse(n.base)
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var batch bytes.Buffer
		for i := range 5 {
			fmt.Fprintf(&batch, "GET /items/%d HTTP/1.1\r\nHost: %s\r\n\r\n", i, u.Host)
		}
		if _, err := conn.Write(batch.Bytes()); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		for i := range 5 {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("response %d: %v", i, err)
			}
			var e echoed
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := dig(e.Raw, "pathParameters", "id"); got != fmt.Sprint(i) {
				t.Fatalf("response %d answers request %v", i, got)
			}
		}
	})
}

// TestGatewayRoutePrecedence checks that the most specific route wins and
// that $default catches the rest.
func TestGatewayRoutePrecedence(t *testing.T) {
	n := startHTTPNode(t, "testdata/http/default.yaml", nil)
	cases := []struct{ method, path, routeKey string }{
		{"GET", "/a/b", "GET /a/b"},
		{"GET", "/a/c", "GET /a/{x}"},
		{"POST", "/a/c", "ANY /a/{x}"},
		{"GET", "/a/c/d", "ANY /a/{proxy+}"},
		{"GET", "/elsewhere", "$default"},
		{"DELETE", "/", "$default"},
	}
	for _, c := range cases {
		var ev events.APIGatewayV2HTTPRequest
		n.echo(t, c.method, c.path, nil, nil, &ev)
		if ev.RouteKey != c.routeKey {
			t.Errorf("%s %s: route %q, want %q", c.method, c.path, ev.RouteKey, c.routeKey)
		}
	}
}
