package awsapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// TestVerify checks the exported verification that handlers outside the
// Router (function URLs) use on an already-read body.
func TestVerify(t *testing.T) {
	body := []byte(`{"x":1}`)
	newReqFor := func(service string, creds Credentials, at time.Time) *http.Request {
		// As a server receives it: RequestURI set, Content-Length a header.
		r := httptest.NewRequest("POST", "http://127.0.0.1:3000/lambda-url/F/path?a=1", bytes.NewReader(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		sign(t, r, body, service, creds, at)
		return r
	}
	newReq := func(creds Credentials, at time.Time) *http.Request { return newReqFor("lambda", creds, at) }
	if sig, e := Verify(newReq(testCreds, time.Now()), testCreds, body); e != nil || sig.AccessKeyID != testCreds.AccessKeyID || sig.Service != "lambda" {
		t.Fatalf("valid request: %v %+v", e, sig)
	}
	cases := map[string]struct {
		r    *http.Request
		body []byte
		code string
	}{
		"wrong secret":  {newReq(Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: "nope"}, time.Now()), body, CodeInvalidSignature},
		"unknown key":   {newReq(Credentials{AccessKeyID: "AKIAOTHER", SecretAccessKey: "x"}, time.Now()), body, CodeUnrecognizedClient},
		"old signature": {newReq(testCreds, time.Now().Add(-time.Hour)), body, CodeInvalidSignature},
		"other body":    {newReq(testCreds, time.Now()), []byte(`{"x":2}`), CodeInvalidSignature},
		"declared hash": {newReqFor("s3", testCreds, time.Now()), []byte(`{"x":2}`), CodeContentSHA256Mismatch},
		"unsigned":      {httptest.NewRequest("GET", "http://h/", nil), nil, CodeMissingAuthenticationToken},
	}
	for name, c := range cases {
		if _, e := Verify(c.r, testCreds, c.body); e == nil || e.Code != c.code {
			t.Errorf("%s: %v, want %s", name, e, c.code)
		}
	}
}
