// Command httpfn is the gateway tests' function. MODE selects which
// aws-lambda-go events type it decodes (v1, v2, url) or which authorizer it
// is (token, request, httpauth); the request's "action" query parameter
// selects what it answers.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// calls counts this instance's invocations, so tests can see an authorizer
// result come from the cache.
var calls atomic.Int64

// echo is what echo actions answer: the event as received and as decoded.
type echo struct {
	Raw   json.RawMessage `json:"raw"`
	Typed any             `json:"typed"`
}

func main() {
	mode := os.Getenv("MODE")
	lambda.Start(func(ctx context.Context, raw json.RawMessage) (any, error) {
		n := calls.Add(1)
		switch mode {
		case "v1":
			var e events.APIGatewayProxyRequest
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, err
			}
			return v1(raw, e)
		case "v2":
			var e events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, err
			}
			return v2(raw, e.QueryStringParameters["action"], e, e.Body, e.IsBase64Encoded)
		case "url":
			var e events.LambdaFunctionURLRequest
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, err
			}
			return v2(raw, e.QueryStringParameters["action"], e, e.Body, e.IsBase64Encoded)
		case "token":
			var e events.APIGatewayCustomAuthorizerRequest
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, err
			}
			return policy(e.AuthorizationToken, e.MethodArn, n, raw)
		case "request":
			var e events.APIGatewayCustomAuthorizerRequestTypeRequest
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, err
			}
			return policy(e.Headers["X-Auth"], e.MethodArn, n, raw)
		case "httpauth":
			var e events.APIGatewayV2CustomAuthorizerV2Request
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, err
			}
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{
				IsAuthorized: e.Headers["x-auth"] == "allow",
				Context:      map[string]any{"calls": n, "routeArn": e.RouteArn, "identity": e.IdentitySource},
			}, nil
		}
		return nil, fmt.Errorf("unknown MODE %q", mode)
	})
}

func v1(raw json.RawMessage, e events.APIGatewayProxyRequest) (any, error) {
	switch e.QueryStringParameters["action"] {
	case "error":
		return nil, errors.New("handler failed")
	case "malformed":
		return "not a proxy response", nil
	case "sleep":
		ms, _ := strconv.Atoi(e.QueryStringParameters["ms"])
		time.Sleep(time.Duration(ms) * time.Millisecond)
	case "binary":
		body := e.Body
		if !e.IsBase64Encoded {
			body = base64.StdEncoding.EncodeToString([]byte(e.Body))
		}
		return events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/octet-stream"},
			Body: body, IsBase64Encoded: true}, nil
	case "status":
		code, _ := strconv.Atoi(e.QueryStringParameters["code"])
		return events.APIGatewayProxyResponse{StatusCode: code, Body: "status body"}, nil
	case "multi":
		return events.APIGatewayProxyResponse{StatusCode: 201,
			Headers:           map[string]string{"X-Single": "one"},
			MultiValueHeaders: map[string][]string{"X-Multi": {"a", "b"}, "Set-Cookie": {"a=1", "b=2"}},
			Body:              "multi"}, nil
	}
	b, err := json.Marshal(echo{Raw: raw, Typed: e})
	return events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}, err
}

func v2(raw json.RawMessage, action string, typed any, body string, b64 bool) (any, error) {
	switch action {
	case "error":
		return nil, errors.New("handler failed")
	case "simple":
		return map[string]any{"hello": "world"}, nil
	case "string":
		return "just a string", nil
	case "badstatus":
		return map[string]any{"statusCode": "teapot"}, nil
	case "sleep":
		if typed, ok := typed.(events.APIGatewayV2HTTPRequest); ok {
			ms, _ := strconv.Atoi(typed.QueryStringParameters["ms"])
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
	case "cookies":
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Cookies: []string{"a=1; Path=/", "b=2"},
			Headers: map[string]string{"Content-Type": "text/plain"}, Body: "cookies"}, nil
	case "binary":
		if !b64 {
			body = base64.StdEncoding.EncodeToString([]byte(body))
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "image/png"},
			Body: body, IsBase64Encoded: true}, nil
	}
	b, err := json.Marshal(echo{Raw: raw, Typed: typed})
	return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}, err
}

// policy answers a REST Lambda authorizer: "allow", "deny", or
// "unauthorized" (the error API Gateway turns into 401).
func policy(token, methodArn string, n int64, raw json.RawMessage) (any, error) {
	effect := "Deny"
	switch token {
	case "allow", "Bearer allow":
		effect = "Allow"
	case "unauthorized":
		return nil, errors.New("Unauthorized")
	case "broken":
		return nil, errors.New("authorizer crashed")
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: "user-1",
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
			{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{methodArn}},
		}},
		Context: map[string]any{"calls": n, "tenant": "acme", "event": string(raw)},
	}, nil
}
