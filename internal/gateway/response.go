package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
)

// proxyResponse is a function's answer in the proxy formats: 1.0
// (events.APIGatewayProxyResponse) and the structured 2.0 format
// (events.APIGatewayV2HTTPResponse).
type proxyResponse struct {
	StatusCode        json.RawMessage  `json:"statusCode"`
	Headers           map[string]any   `json:"headers"`
	MultiValueHeaders map[string][]any `json:"multiValueHeaders"`
	Body              *json.RawMessage `json:"body"`
	IsBase64Encoded   bool             `json:"isBase64Encoded"`
	Cookies           []string         `json:"cookies"`
}

// statusCode accepts a number or a numeric string, as API Gateway does.
func (p *proxyResponse) statusCode() (int, bool) {
	s := bytes.Trim(p.StatusCode, `"`)
	n, err := strconv.Atoi(string(s))
	if err != nil || n < 100 || n > 599 {
		return 0, false
	}
	return n, true
}

// body decodes the body: a JSON string (or null), base64 encoded when
// isBase64Encoded.
func (p *proxyResponse) body() ([]byte, bool) {
	if p.Body == nil || string(*p.Body) == "null" {
		return nil, true
	}
	var s string
	if err := json.Unmarshal(*p.Body, &s); err != nil {
		return nil, false
	}
	if !p.IsBase64Encoded {
		return []byte(s), true
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

func headerValue(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// mapped is what a structured proxy response asks for: status, body and
// headers. ok is false when any part is malformed; nothing has been written
// to the client then, so the caller can still answer with an error.
func (p *proxyResponse) mapped() (status int, body []byte, h http.Header, ok bool) {
	if status, ok = p.statusCode(); !ok {
		return 0, nil, nil, false
	}
	if body, ok = p.body(); !ok {
		return 0, nil, nil, false
	}
	h = make(http.Header, len(p.Headers)+len(p.MultiValueHeaders))
	for k, v := range p.Headers {
		s, ok := headerValue(v)
		if !ok {
			return 0, nil, nil, false
		}
		h.Set(k, s)
	}
	for k, vs := range p.MultiValueHeaders {
		ck := http.CanonicalHeaderKey(k)
		if _, single := p.Headers[k]; single {
			delete(h, ck) // multiValueHeaders win where both name a header
		}
		for _, v := range vs {
			s, ok := headerValue(v)
			if !ok {
				return 0, nil, nil, false
			}
			h.Add(ck, s)
		}
	}
	return status, body, h, true
}

// writeV1Response maps a payload 1.0 answer to HTTP; a malformed one is
// API Gateway's 502.
func writeV1Response(w http.ResponseWriter, c *call, payload []byte, cors *CORS) {
	var p proxyResponse
	if err := json.Unmarshal(payload, &p); err != nil {
		errInternal.write(w, c.requestID)
		return
	}
	status, body, h, ok := p.mapped()
	if !ok {
		errInternal.write(w, c.requestID)
		return
	}
	copyHeader(w.Header(), h)
	finish(w, c, status, body, cors)
}

// writeV2Response maps a payload 2.0 answer to HTTP: the structured format
// when the answer is an object with statusCode, else the simplified one
// (200, application/json, the answer itself as the body). Payload 2.0 has no
// multiValueHeaders; cookies become Set-Cookie headers.
func writeV2Response(w http.ResponseWriter, c *call, payload []byte, cors *CORS, malformed apiError) {
	trimmed := bytes.TrimSpace(payload)
	var p proxyResponse
	structured := len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &p) == nil && p.StatusCode != nil
	if !structured {
		if !json.Valid(trimmed) {
			malformed.write(w, c.requestID)
			return
		}
		w.Header()["Content-Type"] = []string{"application/json"}
		finish(w, c, http.StatusOK, trimmed, cors)
		return
	}
	p.MultiValueHeaders = nil
	status, body, h, ok := p.mapped()
	if !ok {
		malformed.write(w, c.requestID)
		return
	}
	copyHeader(w.Header(), h)
	for _, ck := range p.Cookies {
		w.Header().Add("Set-Cookie", ck)
	}
	finish(w, c, status, body, cors)
}

// copyHeader sets each of src's headers on dst, replacing what dst had, as
// Header.Set does.
func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = vs
	}
}

// finish writes the status, API Gateway's headers and the body.
func finish(w http.ResponseWriter, c *call, status int, body []byte, cors *CORS) {
	h := w.Header()
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = []string{"application/json"}
	}
	if !bodyAllowed(status) {
		body = nil // 204, 304: HTTP forbids a body, whatever the function sent
		delete(h, "Content-Length")
	} else {
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	h["X-Amzn-Requestid"] = []string{c.requestID}
	if c.route != nil && c.route.API.Kind == HTTPAPI {
		h["Apigw-Requestid"] = []string{c.requestID}
	}
	if cors != nil {
		cors.decorate(h, c.r)
	}
	w.WriteHeader(status)
	if len(body) > 0 {
		_, _ = w.Write(body) // a client that went away is not the function's error
	}
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
