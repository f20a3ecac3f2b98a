package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHTTPCORS(t *testing.T) {
	c := httpCORS(map[string]any{
		"AllowOrigins": []any{"https://*.example.com"}, "AllowMethods": []any{"GET"}, "AllowHeaders": []any{"x-a"},
		"AllowCredentials": true, "MaxAge": int64(60),
	})
	cases := []struct {
		origin, method, headers string
		allowed                 bool
	}{
		{"https://app.example.com", "GET", "X-A", true},
		{"https://app.example.com", "POST", "", false},
		{"https://app.example.com", "GET", "x-b", false},
		{"https://evil.com", "GET", "", false},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("OPTIONS", "/x", nil)
		r.Header.Set("Origin", tc.origin)
		r.Header.Set("Access-Control-Request-Method", tc.method)
		if tc.headers != "" {
			r.Header.Set("Access-Control-Request-Headers", tc.headers)
		}
		w := httptest.NewRecorder()
		c.preflight(w, r, HTTPAPI)
		got := w.Header().Get("Access-Control-Allow-Origin")
		if w.Code != http.StatusNoContent || (got == tc.origin) != tc.allowed {
			t.Errorf("%+v: %d allow-origin %q", tc, w.Code, got)
		}
		if tc.allowed && (w.Header().Get("Access-Control-Allow-Credentials") != "true" || w.Header().Get("Access-Control-Max-Age") != "60") {
			t.Errorf("%+v: headers %v", tc, w.Header())
		}
	}
	if all := httpCORS(true); all.allowOriginFor("https://x") != "*" || httpCORS(false) != nil {
		t.Errorf("CorsConfiguration true/false: %+v", all)
	}
	rest := restCORS(map[string]any{"AllowOrigin": "'https://a.example'", "AllowMethods": "'GET,POST'", "MaxAge": "'10'"})
	if rest.AllowOrigins[0] != "https://a.example" || len(rest.AllowMethods) != 2 || rest.MaxAge != 10 {
		t.Errorf("REST Cors: %+v", rest)
	}
}
