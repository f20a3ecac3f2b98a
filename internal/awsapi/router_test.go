package awsapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// echoService answers authenticated requests with the body it read and renders
// errors as JSON with the code in X-Amzn-ErrorType, like Lambda.
type echoService struct{}

func (echoService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		echoService{}.WriteError(w, r, AsError(err))
		return
	}
	w.Header().Set("X-Access-Key", AccessKeyFrom(r.Context()))
	for k, v := range r.Trailer {
		w.Header()["X-Trailer-"+k] = v
	}
	w.Header().Set("X-Content-Encoding", r.Header.Get("Content-Encoding"))
	w.Write(body)
}

func (echoService) WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(map[string]string{"message": e.Message})
}

var testCreds = Credentials{AccessKeyID: "AKIATESTTESTTESTTEST", SecretAccessKey: "secretsecretsecretsecretsecretsecretsecr"}

func newTestServer(t *testing.T, maxBody int64) *httptest.Server {
	t.Helper()
	rt, err := NewRouter(Config{
		Credentials:     testCreds,
		MaxBufferedBody: maxBody,
		Routes: []Route{
			{SigningName: "lambda", Service: echoService{}},
			{SigningName: "s3", Service: echoService{}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	return srv
}

func sign(t *testing.T, r *http.Request, body []byte, service string, creds Credentials, at time.Time, opts ...func(*v4.SignerOptions)) {
	t.Helper()
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if service == "s3" {
		r.Header.Set("X-Amz-Content-Sha256", hash)
	}
	err := v4.NewSigner(opts...).SignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
		r, hash, service, "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
}

func do(t *testing.T, r *http.Request) (int, string, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), string(b)
}

func TestRouterAcceptsSDKSignatures(t *testing.T) {
	srv := newTestServer(t, 0)
	cases := []struct {
		name, service, method, path string
		body                        string
	}{
		{"lambda invoke", "lambda", "POST", "/2015-03-31/functions/Hello/invocations", `{"name":"x"}`},
		{"qualified ARN with escapes", "lambda", "POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3AHello%3A%24LATEST/invocations?Qualifier=%24LATEST", `{}`},
		{"empty body GET with query", "lambda", "GET", "/2015-03-31/functions/?MaxItems=10&Marker=a%20b", ""},
		{"s3 key with spaces and unicode", "s3", "PUT", "/bucket/dir/a%20b%C3%A9.txt?x-id=PutObject", "hello"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
			sign(t, r, []byte(c.body), c.service, testCreds, time.Now(), func(o *v4.SignerOptions) {
				o.DisableURIPathEscaping = c.service == "s3"
			})
			status, code, body := do(t, r)
			if status != 200 || body != c.body {
				t.Fatalf("status %d code %s body %q, want 200 and the body echoed", status, code, body)
			}
		})
	}
}

func TestRouterRejections(t *testing.T) {
	srv := newTestServer(t, 16)
	post := func(body string) *http.Request {
		r, _ := http.NewRequest("POST", srv.URL+"/2015-03-31/functions/Hello/invocations", strings.NewReader(body))
		return r
	}
	wrongSecret := testCreds
	wrongSecret.SecretAccessKey = "not-the-secret"
	unknownKey := testCreds
	unknownKey.AccessKeyID = "AKIAUNKNOWNUNKNOWN00"

	cases := []struct {
		name       string
		req        func() *http.Request
		wantStatus int
		wantCode   string
	}{
		{"unsigned", func() *http.Request { return post("{}") }, 403, CodeMissingAuthenticationToken},
		{"wrong secret", func() *http.Request {
			r := post("{}")
			sign(t, r, []byte("{}"), "lambda", wrongSecret, time.Now())
			return r
		}, 403, CodeInvalidSignature},
		{"unknown key", func() *http.Request {
			r := post("{}")
			sign(t, r, []byte("{}"), "lambda", unknownKey, time.Now())
			return r
		}, 403, CodeUnrecognizedClient},
		{"body changed after signing", func() *http.Request {
			r := post(`{"a":2}`)
			sign(t, r, []byte(`{"a":1}`), "lambda", testCreds, time.Now())
			return r
		}, 403, CodeInvalidSignature},
		{"clock skew", func() *http.Request {
			r := post("{}")
			sign(t, r, []byte("{}"), "lambda", testCreds, time.Now().Add(-time.Hour))
			return r
		}, 403, CodeInvalidSignature},
		{"header tampered", func() *http.Request {
			r := post("{}")
			r.Header.Set("X-Amz-Invocation-Type", "Event")
			sign(t, r, []byte("{}"), "lambda", testCreds, time.Now())
			r.Header.Set("X-Amz-Invocation-Type", "RequestResponse")
			return r
		}, 403, CodeInvalidSignature},
		{"too large to buffer", func() *http.Request {
			body := strings.Repeat("x", 17)
			r := post(body)
			sign(t, r, []byte(body), "lambda", testCreds, time.Now())
			return r
		}, 413, CodeRequestTooLarge},
		{"malformed authorization", func() *http.Request {
			r := post("{}")
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=nope")
			r.Header.Set("X-Amz-Date", time.Now().UTC().Format(amzDateFormat))
			return r
		}, 400, CodeIncompleteSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, code, body := do(t, c.req())
			if status != c.wantStatus || code != c.wantCode {
				t.Fatalf("got %d %s (%s), want %d %s", status, code, body, c.wantStatus, c.wantCode)
			}
		})
	}
}

func TestRouterDetectsPayloadHashMismatch(t *testing.T) {
	srv := newTestServer(t, 0)
	r, _ := http.NewRequest("PUT", srv.URL+"/bucket/key", bytes.NewReader([]byte("tampered")))
	sign(t, r, []byte("original"), "s3", testCreds, time.Now(), func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	status, code, _ := do(t, r)
	if status != 400 || code != CodeContentSHA256Mismatch {
		t.Fatalf("got %d %s, want 400 %s", status, code, CodeContentSHA256Mismatch)
	}
}

func TestRouterAcceptsPresignedURL(t *testing.T) {
	srv := newTestServer(t, 0)
	r, _ := http.NewRequest("GET", srv.URL+"/bucket/a%20key?X-Amz-Expires=300", nil)
	url, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey}, r, UnsignedPayload, "s3", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pr, _ := http.NewRequest("GET", url, nil)
	if status, code, body := do(t, pr); status != 200 {
		t.Fatalf("presigned GET: %d %s %s", status, code, body)
	}
	expired, _ := http.NewRequest("GET", srv.URL+"/bucket/k?X-Amz-Expires=1", nil)
	url, _, _ = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey}, expired, UnsignedPayload, "s3", "us-east-1", time.Now().Add(-time.Minute))
	er, _ := http.NewRequest("GET", url, nil)
	if status, code, _ := do(t, er); status != 403 || code != CodeInvalidSignature {
		t.Fatalf("expired presigned GET: %d %s", status, code)
	}
}
