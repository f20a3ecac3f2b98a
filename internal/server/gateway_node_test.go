package server

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/aloft-dev/aloft/internal/toolchain"
	"github.com/aloft-dev/aloft/internal/toolchain/toolchaintest"
)

// TestGatewayNode sends API Gateway's events to Node.js handlers (ES module,
// on the Node.js version the machine has).
func TestGatewayNode(t *testing.T) {
	node := toolchaintest.Node(t, toolchain.New(toolchaintest.Config(t)))
	n := startHTTPNode(t, "testdata/http/node.yaml", map[string]string{"NodeRuntime": node.Runtime})
	for _, f := range n.dep.Functions {
		if f.Err != nil {
			t.Fatalf("%s (%s) cannot run: %v", f.Name, node.Runtime, f.Err)
		}
	}
	raw := func(t *testing.T, method, path string, body []byte, header map[string]string) map[string]any {
		t.Helper()
		resp, b := n.do(t, method, path, bytes.NewReader(body), header)
		var e struct{ Raw map[string]any }
		if resp.StatusCode != 200 || json.Unmarshal(b, &e) != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return e.Raw
	}

	ev := raw(t, "GET", "/node/7?a=1&a=2", nil, map[string]string{"X-One": "1"})
	if ev["resource"] != "/node/{id}" || dig(ev, "pathParameters", "id") != "7" || dig(ev, "queryStringParameters", "a") != "2" ||
		!reflect.DeepEqual(dig(ev, "multiValueQueryStringParameters", "a"), []any{"1", "2"}) || dig(ev, "headers", "X-One") != "1" ||
		ev["body"] != nil || !hasKey(ev, "body") || dig(ev, "requestContext", "stage") != "Prod" {
		t.Fatalf("v1 event %v", ev)
	}
	ev = raw(t, "POST", "/node2/8?x=1&x=2", []byte("hi"), map[string]string{"Cookie": "c=1; d=2", "Content-Type": "text/plain"})
	if ev["version"] != "2.0" || ev["routeKey"] != "ANY /node2/{id}" || dig(ev, "queryStringParameters", "x") != "1,2" ||
		!reflect.DeepEqual(ev["cookies"], []any{"c=1", "d=2"}) || ev["body"] != "hi" || ev["isBase64Encoded"] != false {
		t.Fatalf("v2 event %v", ev)
	}

	bin := make([]byte, 2048)
	rand.Read(bin)
	for _, path := range []string{"/node/1?action=binary", "/node2/1?action=binary"} {
		resp, got := n.do(t, "POST", path, bytes.NewReader(bin), map[string]string{"Content-Type": "application/octet-stream"})
		if resp.StatusCode != 200 || !bytes.Equal(got, bin) {
			t.Errorf("%s: binary round trip %d, %d bytes", path, resp.StatusCode, len(got))
		}
	}
	if resp, b := n.do(t, "GET", "/node/1?action=multi", nil, nil); resp.StatusCode != 201 || string(b) != "multi" || !reflect.DeepEqual(resp.Header.Values("X-Multi"), []string{"a", "b"}) {
		t.Errorf("multiValueHeaders: %d %s %v", resp.StatusCode, b, resp.Header)
	}
	if resp, _ := n.do(t, "GET", "/node2/1?action=cookies", nil, nil); !reflect.DeepEqual(resp.Header.Values("Set-Cookie"), []string{"a=1", "b=2"}) {
		t.Errorf("cookies: %v", resp.Header)
	}
	if resp, b := n.do(t, "GET", "/node2/1?action=simple", nil, nil); resp.StatusCode != 200 || string(b) != `{"hello":"node"}` {
		t.Errorf("simple response: %d %s", resp.StatusCode, b)
	}
	for _, path := range []string{"/node/1?action=error", "/node2/1?action=error"} {
		if resp, b := n.do(t, "GET", path, nil, nil); resp.StatusCode != http.StatusBadGateway || string(b) != `{"message":"Internal server error"}` {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
}
