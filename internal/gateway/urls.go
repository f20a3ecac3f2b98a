package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/runtime"
)

// URLPrefix is where function URLs are served on the HTTP listener:
// /lambda-url/{FunctionName}/… reaches the function with the path after
// the function's name, as https://{url-id}.lambda-url.{region}.on.aws/… does
// on AWS.
const URLPrefix = "/lambda-url/"

// maxURLPayload is Lambda's 6 MB limit on a function URL's request.
const maxURLPayload = 6 << 20

// FunctionURL is one AWS::Lambda::Url (FunctionUrlConfig).
type FunctionURL struct {
	// Function is the function's name, the URL's path segment.
	Function    string
	Invoker     Invoker
	FunctionARN string
	// AuthType is "NONE" or "AWS_IAM" (SigV4 with the node's credentials,
	// service "lambda").
	AuthType string
	// CORS is the URL's Cors, nil when unset.
	CORS *CORS
	// ID is the url-id of the URL AWS would give it, the event's apiId.
	ID string
}

// Path is the URL's path on the HTTP listener.
func (u *FunctionURL) Path() string { return URLPrefix + u.Function + "/" }

// functionURL finds the function URL a path addresses and the path the
// function sees.
func (t *Table) functionURL(path string) (*FunctionURL, string, bool) {
	rest, ok := strings.CutPrefix(path, URLPrefix)
	if !ok || len(t.urls) == 0 {
		return nil, "", false
	}
	name, sub, _ := strings.Cut(rest, "/")
	u, ok := t.urls[name]
	if !ok {
		return nil, "", false
	}
	return u, "/" + sub, true
}

// serveURL answers a request to a function URL.
func (g *Gateway) serveURL(w http.ResponseWriter, c *call, u *FunctionURL, path string) {
	r := c.r
	c.url, c.urlPath = u, path
	c.urlRawPath = path
	if raw := r.URL.EscapedPath(); strings.HasPrefix(raw, URLPrefix) {
		if i := strings.IndexByte(raw[len(URLPrefix):], '/'); i >= 0 {
			c.urlRawPath = raw[len(URLPrefix)+i:]
		} else {
			c.urlRawPath = "/"
		}
	}
	if u.CORS != nil && isPreflight(r) {
		u.CORS.preflight(w, r, HTTPAPI)
		return
	}
	if e, ok := c.readBody(maxURLPayload); !ok {
		if e.status == http.StatusRequestEntityTooLarge {
			e = errURLTooLarge
		}
		e.write(w, c.requestID)
		return
	}
	var accessKey string
	if u.AuthType == "AWS_IAM" {
		if g.cfg.Credentials == nil {
			errURLForbidden.write(w, c.requestID)
			return
		}
		sig, e := awsapi.Verify(r, g.cfg.Credentials, c.body)
		if e != nil || sig.Service != "lambda" {
			errURLForbidden.write(w, c.requestID)
			return
		}
		accessKey = sig.AccessKeyID
	}

	b := []byte(`{"version":"2.0","routeKey":"$default"`)
	b = c.appendV2Request(b)
	b = append(b, `,"requestContext":{"accountId":`...)
	if accessKey == "" {
		b = appendString(b, "anonymous")
	} else {
		b = appendString(b, g.cfg.AccountID)
	}
	b = append(b, `,"apiId":`...)
	b = appendString(b, u.ID)
	if accessKey != "" {
		b = append(b, `,"authorizer":{"iam":`...)
		b = appendIAM(b, accessKey, g.cfg.AccountID)
		b = append(b, '}')
	}
	b = c.appendV2Context(b, "$default", "$default")
	b = c.appendV2Body(b)

	resp, err := u.Invoker.Invoke(r.Context(), &runtime.Request{Payload: b, InvokedARN: u.FunctionARN, ResultOnPost: true})
	switch {
	case errors.Is(err, runtime.ErrTooManyRequests):
		errURLThrottled.write(w, c.requestID)
		return
	case errors.Is(err, context.Canceled):
		return // the client went away
	case err != nil, resp.FunctionError != "":
		errURLInternal.write(w, c.requestID)
		return
	}
	writeV2Response(w, c, resp.Payload, u.CORS, errURLInternal)
}
