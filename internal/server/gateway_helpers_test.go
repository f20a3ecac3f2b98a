package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/aloft-dev/aloft/internal/template"

	"github.com/aloft-dev/aloft/internal/testenv"
	"github.com/aloft-dev/aloft/internal/toolchain/toolchaintest"
)

// httpNode is a server with an HTTP listener on port 0 and a test app.
type httpNode struct {
	srv  *Server
	base string
	dep  *Deployment
	logs *testenv.Buffer
}

// startHTTPNode starts a node serving HTTP APIs and deploys the template.
func startHTTPNode(t *testing.T, path string, params map[string]string) *httpNode {
	t.Helper()
	ctx := context.Background()
	logs := &testenv.Buffer{}
	cfg := DefaultConfig(t.TempDir())
	cfg.Endpoint = "127.0.0.1:0"
	cfg.HTTP = "127.0.0.1:0"
	cfg.BuildCacheDir = buildCache
	cfg.Toolchains = toolchaintest.Config(t)
	cfg.Logs = logs
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	stack, err := template.Load(path, template.Options{StackName: "gw", Parameters: params})
	if err != nil {
		t.Fatal(err)
	}
	dep, err := srv.Deploy(ctx, stack)
	if err != nil {
		t.Fatal(err)
	}
	return &httpNode{srv: srv, base: srv.HTTPURL(), dep: dep, logs: logs}
}

// do sends one request and returns the response with its body read.
func (n *httpNode) do(t *testing.T, method, path string, body io.Reader, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, n.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return send(t, req)
}

func send(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// echoed is what the fixture's echo action answers.
type echoed struct {
	Raw   map[string]any  `json:"raw"`
	Typed json.RawMessage `json:"typed"`
}

// echo sends a request that the fixture echoes, checks 200, and decodes the
// raw event and the typed one into typed.
func (n *httpNode) echo(t *testing.T, method, path string, body io.Reader, header map[string]string, typed any) map[string]any {
	t.Helper()
	resp, b := n.do(t, method, path, body, header)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	var e echoed
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
	if typed != nil {
		if err := json.Unmarshal(e.Typed, typed); err != nil {
			t.Fatal(err)
		}
	}
	return e.Raw
}

// dig walks a decoded JSON value by keys.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func hasKey(v any, key string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, has := m[key]
	return has
}

// issuer is an OpenID issuer on 127.0.0.1:0 that signs tokens with one RSA
// key and counts JWKS fetches.
type issuer struct {
	srv     *httptest.Server
	key     *rsa.PrivateKey
	fetches atomic.Int64
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// token signs claims over sensible defaults (this issuer, audience
// aloft-test, valid for an hour); a nil value removes a default.
func (is *issuer) token(t *testing.T, claims map[string]any) string {
	t.Helper()
	c := jwt.MapClaims{"iss": is.srv.URL, "aud": "aloft-test", "sub": "user-1", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(is.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func contains(s, sub string) bool { return strings.Contains(s, sub) }
