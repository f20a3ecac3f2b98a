package gateway

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// CORS is an API's Cors (REST API), CorsConfiguration (HTTP API) or a
// function URL's Cors, normalized. REST APIs answer preflights with the
// configured values as SAM's generated OPTIONS method does, and leave other
// responses to the function; HTTP APIs and function URLs check the Origin,
// answer preflights themselves and add the headers to every response.
type CORS struct {
	AllowOrigins     []string
	AllowMethods     []string
	AllowHeaders     []string
	ExposeHeaders    []string
	MaxAge           int // seconds; < 0 when unset
	AllowCredentials bool
}

func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// preflightAPI picks the API whose CORS answers a preflight: the one the
// path belongs to, else the first HTTP API with CORS (HTTP APIs answer
// preflights on every path).
func preflightAPI(t *Table, r *http.Request, route, pathRoute *Route) *API {
	if route != nil && route.Method != "ANY" && route.Path != "$default" {
		// An explicit OPTIONS route: REST APIs let it answer.
		if route.API.Kind == RESTAPI {
			return nil
		}
	}
	if pathRoute != nil && pathRoute.API.CORS != nil {
		return pathRoute.API
	}
	if !isPreflight(r) {
		return nil
	}
	for _, a := range t.apis {
		if a.Kind == HTTPAPI && a.CORS != nil {
			return a
		}
	}
	return nil
}

// preflight answers an OPTIONS preflight request.
func (c *CORS) preflight(w http.ResponseWriter, r *http.Request, kind APIKind) {
	h := w.Header()
	if kind == RESTAPI {
		// SAM's mock integration returns the configured values verbatim.
		setList(h, "Access-Control-Allow-Origin", c.AllowOrigins)
		setList(h, "Access-Control-Allow-Methods", c.AllowMethods)
		setList(h, "Access-Control-Allow-Headers", c.AllowHeaders)
		if c.MaxAge >= 0 {
			h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
		}
		if c.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	if c.originAllowed(origin) && matchesAny(c.AllowMethods, method) && c.headersAllowed(r.Header.Get("Access-Control-Request-Headers")) {
		h.Set("Access-Control-Allow-Origin", c.allowOriginFor(origin))
		if slices.Contains(c.AllowMethods, "*") {
			h.Set("Access-Control-Allow-Methods", method)
		} else {
			setList(h, "Access-Control-Allow-Methods", c.AllowMethods)
		}
		if reqHeaders := r.Header.Get("Access-Control-Request-Headers"); reqHeaders != "" {
			if slices.Contains(c.AllowHeaders, "*") {
				h.Set("Access-Control-Allow-Headers", strings.ToLower(reqHeaders))
			} else {
				setList(h, "Access-Control-Allow-Headers", c.AllowHeaders)
			}
		}
		if c.MaxAge >= 0 {
			h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
		}
		if c.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		h.Set("Vary", "Origin")
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}

// decorate adds the CORS headers HTTP APIs and function URLs add to a
// response to an allowed Origin, replacing the function's own.
func (c *CORS) decorate(h http.Header, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || !c.originAllowed(origin) {
		return
	}
	h.Set("Access-Control-Allow-Origin", c.allowOriginFor(origin))
	setList(h, "Access-Control-Expose-Headers", c.ExposeHeaders)
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Add("Vary", "Origin")
}

func (c *CORS) originAllowed(origin string) bool {
	for _, o := range c.AllowOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
		if prefix, suffix, ok := strings.Cut(o, "*"); ok && strings.HasPrefix(origin, prefix) && strings.HasSuffix(origin, suffix) {
			return true
		}
	}
	return false
}

// allowOriginFor is "*" for a wildcard configuration without credentials,
// else the origin itself.
func (c *CORS) allowOriginFor(origin string) string {
	if slices.Contains(c.AllowOrigins, "*") && !c.AllowCredentials {
		return "*"
	}
	return origin
}

func (c *CORS) headersAllowed(list string) bool {
	if list == "" || slices.Contains(c.AllowHeaders, "*") {
		return true
	}
	for _, h := range strings.Split(list, ",") {
		if h = strings.TrimSpace(h); h != "" && !containsFold(c.AllowHeaders, h) {
			return false
		}
	}
	return true
}

func matchesAny(list []string, v string) bool {
	return slices.Contains(list, "*") || containsFold(list, v)
}

func containsFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

func setList(h http.Header, name string, vs []string) {
	if len(vs) > 0 {
		h.Set(name, strings.Join(vs, ","))
	}
}
