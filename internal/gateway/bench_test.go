package gateway

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkServeHTTP measures the gateway's own work per request — match,
// event, response mapping — with an Invoker that answers at once, so the
// figure excludes the network and the function.
func BenchmarkServeHTTP(b *testing.B) {
	for _, version := range []string{"1.0", "2.0"} {
		b.Run("payload"+version, func(b *testing.B) {
			g, _ := New(Config{})
			fn := &recorder{answer: `{"statusCode":200,"headers":{"Content-Type":"application/json"},"body":"{\"message\":\"Hello, bench!\"}"}`}
			api := &API{LogicalID: "A", ID: "abc", Kind: HTTPAPI, Stage: "$default"}
			var routes []*Route
			for _, p := range []string{"/a", "/b/{x}", "/c/{proxy+}", "/hello/{name}", "/items", "/items/{id}"} {
				routes = append(routes, &Route{API: api, Method: "GET", Path: p, Invoker: fn, PayloadVersion: version, Timeout: time.Second})
			}
			t, _ := NewTable(routes, nil)
			g.Replace(t)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", "http://127.0.0.1:3000/hello/bench?x=1", strings.NewReader(""))
				req.Header.Set("User-Agent", "wrk")
				req.Header.Set("Accept", "*/*")
				w := httptest.NewRecorder()
				g.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatal(w.Code, w.Body)
				}
				fn.events = fn.events[:0]
			}
		})
	}
}
