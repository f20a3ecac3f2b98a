package gateway

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// testClock is the gateway's clock in tests that step through a cache's
// lifetime: it moves only when the test advances it.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestAuthorizerCacheTTL steps the gateway's clock through a Lambda
// authorizer's result TTL (ReauthorizeEvery) for each kind that caches:
// within the TTL a result is reused per identity, once it has passed the
// authorizer runs again, and a TTL of 0 (ReauthorizeEvery: 0) runs it for
// every request.
func TestAuthorizerCacheTTL(t *testing.T) {
	allow := `{"principalId":"me","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}}`
	rest := &API{LogicalID: "Rest", ID: "restapi001", Kind: RESTAPI, Stage: "Prod"}
	httpAPI := &API{LogicalID: "Http", ID: "httpapi001", Kind: HTTPAPI, Stage: "$default"}
	kinds := []struct {
		name    string
		api     *API
		payload string
		auth    func(inv Invoker, ttl time.Duration) *Authorizer
		answer  string
	}{
		{"TOKEN", rest, "1.0", func(inv Invoker, ttl time.Duration) *Authorizer {
			return &Authorizer{Name: "T", Kind: AuthToken, Invoker: inv, TTL: ttl, Identity: []IdentitySource{{In: "header", Name: "X-Auth"}}}
		}, allow},
		{"REQUEST", rest, "1.0", func(inv Invoker, ttl time.Duration) *Authorizer {
			return &Authorizer{Name: "R", Kind: AuthRequest, Invoker: inv, TTL: ttl, Identity: []IdentitySource{{In: "header", Name: "X-Auth"}}}
		}, allow},
		{"HTTP API simple", httpAPI, "2.0", func(inv Invoker, ttl time.Duration) *Authorizer {
			return &Authorizer{Name: "H", Kind: AuthHTTPLambda, Invoker: inv, TTL: ttl, SimpleResponses: true, Identity: []IdentitySource{{In: "header", Name: "X-Auth"}}}
		}, `{"isAuthorized":true}`},
	}
	for _, k := range kinds {
		for _, ttl := range []time.Duration{time.Second, 0} {
			t.Run(fmt.Sprintf("%s/TTL %v", k.name, ttl), func(t *testing.T) {
				clock := &testClock{now: time.Date(2026, 3, 12, 19, 0, 0, 0, time.UTC)}
				authFn := &recorder{answer: k.answer}
				route := &Route{API: k.api, Method: "GET", Path: "/guarded", Invoker: &recorder{answer: `{"statusCode":200,"body":"ok"}`},
					PayloadVersion: k.payload, Timeout: time.Second, Authorizer: k.auth(authFn, ttl)}
				table, warnings := NewTable([]*Route{route}, nil)
				if len(warnings) > 0 {
					t.Fatal(warnings)
				}
				g, err := New(Config{Now: clock.Now})
				if err != nil {
					t.Fatal(err)
				}
				g.Replace(table)
				srv := httptest.NewServer(g)
				t.Cleanup(srv.Close)

				calls := func() int {
					authFn.mu.Lock()
					defer authFn.mu.Unlock()
					return len(authFn.events)
				}
				// step sends one request as identity and checks how many
				// times the authorizer has run since the test began.
				step := func(what, identity string, wantCalls int) {
					t.Helper()
					req, _ := http.NewRequest("GET", srv.URL+"/guarded", nil)
					req.Header.Set("X-Auth", identity)
					resp, err := srv.Client().Do(req)
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(body) != "ok" {
						t.Fatalf("%s: %d %s", what, resp.StatusCode, body)
					}
					if got := calls(); got != wantCalls {
						t.Fatalf("%s: the authorizer has run %d times, want %d", what, got, wantCalls)
					}
				}
				if ttl == 0 {
					step("first request", "alice", 1)
					step("same identity", "alice", 2)
					clock.advance(time.Hour)
					step("an hour later", "alice", 3)
					return
				}
				step("first request", "alice", 1)
				step("same identity", "alice", 1)
				step("another identity", "bob", 2)
				clock.advance(ttl - time.Millisecond)
				step("just within the TTL", "alice", 2)
				clock.advance(2 * time.Millisecond)
				step("just past the TTL", "alice", 3)
				step("cached again", "alice", 3)
				step("bob's result has expired too", "bob", 4)
			})
		}
	}
}
