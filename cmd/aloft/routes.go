package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aloft-dev/aloft/internal/gateway"
	"github.com/aloft-dev/aloft/internal/server"
)

// printRoutes lists every HTTP API route and function URL `aloft up` serves,
// one line each, as `sam local start-api` mounts them.
func printRoutes(out io.Writer, srv *server.Server) {
	base := srv.HTTPURL()
	if base == "" {
		return
	}
	fmt.Fprintf(out, "aloft: HTTP APIs and function URLs on %s\n", base)
	t := srv.HTTPRoutes()
	routes := t.Routes() // most specific first; listed by path for reading
	slices.SortStableFunc(routes, func(a, b *gateway.Route) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	})
	for _, r := range routes {
		path := r.Path
		if path == "$default" {
			path = "/* ($default)"
		}
		var extra []string
		extra = append(extra, r.API.Kind.String()+" "+r.API.LogicalID, "stage "+r.API.Stage, "payload "+r.PayloadVersion)
		if r.Authorizer != nil {
			extra = append(extra, "authorizer "+r.Authorizer.Name)
		}
		if r.ApiKeyRequired {
			extra = append(extra, "API key")
		}
		fmt.Fprintf(out, "aloft: route %-6s %s%s -> %s (%s)\n", r.Method, base, path, r.Function, strings.Join(extra, ", "))
	}
	for _, a := range t.APIs() {
		if a.APIKey != "" {
			fmt.Fprintf(out, "aloft: API key for %s: x-api-key: %s\n", a.LogicalID, a.APIKey)
		}
	}
	for _, u := range t.FunctionURLs() {
		fmt.Fprintf(out, "aloft: function URL %s%s -> %s (AuthType %s)\n", base, u.Path(), u.Function, u.AuthType)
	}
}
