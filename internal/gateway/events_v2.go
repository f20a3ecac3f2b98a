package gateway

import (
	"strconv"
	"strings"
)

// appendV2 appends the payload 2.0 event (events.APIGatewayV2HTTPRequest)
// to b: HTTP API routes with the default PayloadFormatVersion.
func (c *call) appendV2(b []byte) []byte {
	api := c.route.API
	b = append(b, `{"version":"2.0","routeKey":`...)
	b = appendString(b, c.route.routeKey)
	b = c.appendV2Request(b)
	pp, pk := c.pathParams()
	if pp != nil {
		b = append(b, `,"pathParameters":`...)
		b = appendStringMap(b, pk, pp)
	}
	if api.StageVariables != nil {
		b = append(b, `,"stageVariables":`...)
		b = appendStringMap(b, api.keySorted, api.StageVariables)
	}
	b = append(b, `,"requestContext":{"accountId":`...)
	b = appendString(b, c.g.cfg.AccountID)
	b = append(b, `,"apiId":`...)
	b = appendString(b, api.ID)
	if c.auth != nil {
		b = append(b, `,"authorizer":`...)
		b = c.auth.appendV2(b, c.g.cfg.AccountID)
	}
	b = c.appendV2Context(b, c.route.routeKey, api.Stage)
	return c.appendV2Body(b)
}

// appendV2Request appends rawPath, rawQueryString, cookies, headers and
// queryStringParameters, shared by HTTP APIs and function URLs.
func (c *call) appendV2Request(b []byte) []byte {
	r := c.r
	rawPath := r.URL.EscapedPath()
	if c.url != nil {
		rawPath = c.urlRawPath
	}
	b = append(b, `,"rawPath":`...)
	b = appendString(b, rawPath)
	b = append(b, `,"rawQueryString":`...)
	b = appendString(b, r.URL.RawQuery)
	if ck := cookies(r); len(ck) > 0 {
		b = append(b, `,"cookies":`...)
		b = appendStringList(b, ck)
	}
	b = append(b, `,"headers":{`...)
	first := true
	for _, h := range c.headers() {
		if h.name == "Cookie" {
			continue
		}
		b = appendKey(b, strings.ToLower(h.name), first)
		first = false
		b = appendString(b, strings.Join(h.values, ","))
	}
	b = append(b, '}')
	if q, qk := c.query(); q != nil {
		b = append(b, `,"queryStringParameters":{`...)
		for i, k := range qk {
			b = appendKey(b, k, i == 0)
			b = appendString(b, strings.Join(q[k], ","))
		}
		b = append(b, '}')
	}
	return b
}

// appendV2Context appends the rest of requestContext after the authorizer,
// closing it.
func (c *call) appendV2Context(b []byte, routeKey, stage string) []byte {
	r := c.r
	host := hostOf(r)
	b = append(b, `,"domainName":`...)
	b = appendString(b, host)
	b = append(b, `,"domainPrefix":`...)
	b = appendString(b, domainPrefix(host))
	b = append(b, `,"http":{"method":`...)
	b = appendString(b, r.Method)
	b = append(b, `,"path":`...)
	b = appendString(b, c.eventPath())
	b = append(b, `,"protocol":`...)
	b = appendString(b, r.Proto)
	b = append(b, `,"sourceIp":`...)
	b = appendString(b, c.sourceIP)
	b = append(b, `,"userAgent":`...)
	b = appendString(b, r.UserAgent())
	b = append(b, `},"requestId":`...)
	b = appendString(b, c.requestID)
	b = append(b, `,"routeKey":`...)
	b = appendString(b, routeKey)
	b = append(b, `,"stage":`...)
	b = appendString(b, stage)
	b = append(b, `,"time":`...)
	b = appendString(b, requestTime(c))
	b = append(b, `,"timeEpoch":`...)
	b = appendInt(b, c.now.UnixMilli())
	return append(b, '}')
}

// eventPath is the decoded path the function sees: the request's, or for a
// function URL the part after the URL's prefix.
func (c *call) eventPath() string {
	if c.url != nil {
		return c.urlPath
	}
	return c.r.URL.Path
}

// appendV2Body appends body (omitted when empty) and isBase64Encoded, and
// closes the event.
func (c *call) appendV2Body(b []byte) []byte {
	binary := len(c.body) > 0 && !isTextType(c.r.Header.Get("Content-Type"))
	if len(c.body) > 0 {
		b = append(b, `,"body":`...)
		b = appendBody(b, c.body, binary)
	}
	b = append(b, `,"isBase64Encoded":`...)
	b = strconv.AppendBool(b, binary)
	return append(b, '}')
}
