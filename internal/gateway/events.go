package gateway

import (
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// This file holds what both payload versions take from a request: headers,
// query strings, the body's encoding, ids and times.

// header is one request header with every value, in arrival order.
type header struct {
	name   string
	values []string
}

// headers lists the request's headers as API Gateway passes them on, sorted
// by name: the client's, Host, and the X-Forwarded-* that API Gateway adds.
func (c *call) headers() []header {
	r := c.r
	hs := make([]header, 0, len(r.Header)+4)
	var fwd []string
	for k, v := range r.Header {
		switch k {
		case "X-Forwarded-For":
			fwd = v
			continue
		case "X-Forwarded-Port", "X-Forwarded-Proto":
			continue
		}
		hs = append(hs, header{k, v})
	}
	if r.Host != "" {
		hs = append(hs, header{"Host", []string{r.Host}})
	}
	xff := c.sourceIP
	if len(fwd) > 0 {
		xff = strings.Join(fwd, ", ") + ", " + c.sourceIP
	}
	hs = append(hs,
		header{"X-Forwarded-For", []string{xff}},
		header{"X-Forwarded-Port", []string{localPort(r)}},
		header{"X-Forwarded-Proto", []string{"http"}},
	)
	slices.SortFunc(hs, func(a, b header) int { return strings.Compare(a.name, b.name) })
	return hs
}

// query is the decoded query string, keys sorted; nil when there is none.
func (c *call) query() (url.Values, []string) {
	if c.r.URL.RawQuery == "" {
		return nil, nil
	}
	q, _ := url.ParseQuery(c.r.URL.RawQuery) // API Gateway passes what it can parse
	if len(q) == 0 {
		return nil, nil
	}
	return q, sortedKeys(q)
}

// textTypes are the content types HTTP APIs and function URLs pass as text;
// every other body is base64 encoded.
func isTextType(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"),
		mt == "application/json", mt == "application/xml", mt == "application/javascript",
		mt == "application/x-www-form-urlencoded", mt == "application/graphql", mt == "application/ecmascript":
		return true
	}
	return false
}

// isBinaryFor reports whether a REST API treats contentType as binary: it
// matches one of BinaryMediaTypes ("image/png", "image/*", "*/*").
func isBinaryFor(types []string, contentType string) bool {
	if len(types) == 0 || contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	for _, t := range types {
		if t == "*/*" || t == mt {
			return true
		}
		if prefix, ok := strings.CutSuffix(t, "/*"); ok && strings.HasPrefix(mt, prefix+"/") {
			return true
		}
	}
	return false
}

// appendBody appends the body as a JSON string, base64 encoded when binary.
func appendBody(b []byte, body []byte, binary bool) []byte {
	if !binary {
		return appendString(b, body)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, body)
	return append(b, '"')
}

// requestTime formats t as API Gateway does: "21/Apr/2020:15:08:21 +0000".
func requestTime(c *call) string { return c.now.UTC().Format("02/Jan/2006:15:04:05 -0700") }

// domainPrefix is the first label of the Host, as in requestContext.
func domainPrefix(host string) string {
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	p, _, _ := strings.Cut(host, ".")
	return p
}

// hostOf is the request's host without the port, the domainName.
func hostOf(r *http.Request) string {
	h := r.Host
	if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[i:], "]") {
		return h[:i]
	}
	return h
}

// pathParams returns the path parameters as a map and sorted names; nil
// when the route has none.
func (c *call) pathParams() (map[string]string, []string) {
	if len(c.params) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(c.params)/2)
	for i := 0; i < len(c.params); i += 2 {
		m[c.params[i]] = c.params[i+1]
	}
	return m, sortedKeys(m)
}

// cookies splits the Cookie headers into the v2 cookies list.
func cookies(r *http.Request) []string {
	var out []string
	for _, line := range r.Header["Cookie"] {
		for _, part := range strings.Split(line, ";") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}
