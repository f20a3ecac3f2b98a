package main

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	httpLine   = regexp.MustCompile(`HTTP APIs and function URLs on (http://\S+)`)
	apiKeyLine = regexp.MustCompile(`API key for ItemsApi: x-api-key: (\S+)`)
)

// TestHTTPAPIExample runs `aloft up` on examples/httpapi and calls what it
// prints: every route, the API key and the function URL.
func TestHTTPAPIExample(t *testing.T) {
	bin := aloftBinary(t)
	up := startUp(t, bin, baseEnv(t), "../../examples/httpapi/template.yaml", "--endpoint", "127.0.0.1:0", "--http", "127.0.0.1:0",
		"--data", filepath.Join(t.TempDir(), "data"))
	out := up.output.String()
	m := httpLine.FindStringSubmatch(out)
	k := apiKeyLine.FindStringSubmatch(out)
	if m == nil || k == nil {
		t.Fatalf("HTTP listener or API key not printed:\n%s", out)
	}
	base := m[1]
	for _, want := range []string{
		"route GET    " + base + "/items -> Items (Api ItemsApi, stage dev, payload 1.0)",
		"route POST   " + base + "/items -> Items (Api ItemsApi, stage dev, payload 1.0, API key)",
		"route GET    " + base + "/items/{id} -> Items (Api ItemsApi, stage dev, payload 1.0)",
		"route GET    " + base + "/hello/{name} -> Hello (HttpApi ServerlessHttpApi, stage $default, payload 2.0)",
		"function URL " + base + "/lambda-url/Hello/ -> Hello (AuthType NONE)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	call := func(method, path, key, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("X-Api-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		method, path, key, body string
		status                  int
		want                    string
	}{
		{"GET", "/items/2", "", "", 200, `{"id":"2","name":"pear"}`},
		{"GET", "/items/9", "", "", 404, `{"error":"no such item"}`},
		{"POST", "/items", "", "x", 403, `{"message":"Forbidden"}`},
		{"POST", "/items", k[1], "plum", 201, `{"created":"plum","stage":"dev"}`},
		{"GET", "/hello/aloft", "", "", 200, "Hello, aloft!\n"},
		{"GET", "/lambda-url/Hello/url", "", "", 200, "Hello, url!\n"},
		{"GET", "/nothing", "", "", 404, `{"message":"Not Found"}`},
	}
	for _, c := range cases {
		if status, body := call(c.method, c.path, c.key, c.body); status != c.status || body != c.want {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, status, body, c.status, c.want)
		}
	}
	up.stop(t)
}
