package gateway

import (
	"strconv"
)

// v1Shape selects what appendV1 leaves out for the authorizer events that
// share the proxy event's fields.
type v1Shape int

const (
	v1Proxy          v1Shape = iota // the whole proxy event
	v1RESTAuthorizer                // REST REQUEST authorizers: no body
	v1HTTPAuthorizer                // HTTP API 1.0 authorizers: no body, no multi-value maps
)

// appendV1 appends the payload 1.0 event (events.APIGatewayProxyRequest) to
// b: REST APIs, and HTTP API routes with PayloadFormatVersion "1.0".
func (c *call) appendV1(b []byte) []byte { return c.appendV1Shape(b, v1Proxy) }

func (c *call) appendV1Shape(b []byte, shape v1Shape) []byte {
	r, route, api := c.r, c.route, c.route.API
	resource := route.Path
	if resource == "$default" {
		resource = r.URL.Path
	}
	b = append(b, `{"resource":`...)
	b = appendString(b, resource)
	b = append(b, `,"path":`...)
	b = appendString(b, r.URL.Path)
	b = append(b, `,"httpMethod":`...)
	b = appendString(b, r.Method)

	hs := c.headers()
	b = append(b, `,"headers":{`...)
	for i, h := range hs {
		b = appendKey(b, h.name, i == 0)
		b = appendString(b, h.values[len(h.values)-1])
	}
	b = append(b, '}')
	if shape != v1HTTPAuthorizer {
		b = append(b, `,"multiValueHeaders":{`...)
		for i, h := range hs {
			b = appendKey(b, h.name, i == 0)
			b = appendStringList(b, h.values)
		}
		b = append(b, '}')
	}

	q, qk := c.query()
	b = append(b, `,"queryStringParameters":`...)
	if q == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, k := range qk {
			b = appendKey(b, k, i == 0)
			vs := q[k]
			b = appendString(b, vs[len(vs)-1])
		}
		b = append(b, '}')
	}
	if shape != v1HTTPAuthorizer {
		b = append(b, `,"multiValueQueryStringParameters":`...)
		b = appendMultiMap(b, qk, q)
	}

	pp, pk := c.pathParams()
	b = append(b, `,"pathParameters":`...)
	b = appendStringMap(b, pk, pp)
	b = append(b, `,"stageVariables":`...)
	b = appendStringMap(b, api.keySorted, api.StageVariables)

	b = append(b, `,"requestContext":{"accountId":`...)
	b = appendString(b, c.g.cfg.AccountID)
	b = append(b, `,"apiId":`...)
	b = appendString(b, api.ID)
	if c.auth != nil && c.auth.kind != AuthIAM {
		b = append(b, `,"authorizer":`...)
		b = c.auth.appendV1(b)
	}
	host := hostOf(r)
	b = append(b, `,"domainName":`...)
	b = appendString(b, host)
	b = append(b, `,"domainPrefix":`...)
	b = appendString(b, domainPrefix(host))
	b = append(b, `,"extendedRequestId":`...)
	b = appendString(b, c.requestID)
	b = append(b, `,"httpMethod":`...)
	b = appendString(b, r.Method)
	b = append(b, `,"identity":`...)
	b = c.appendIdentityCaller(b)
	if c.apiKey != "" {
		b = append(b, `"apiKey":`...)
		b = appendString(b, c.apiKey)
		b = append(b, `,"apiKeyId":`...)
		b = appendString(b, apiKeyID(api))
		b = append(b, ',')
	}
	b = append(b, `"cognitoAuthenticationProvider":null,"cognitoAuthenticationType":null,"cognitoIdentityId":null,"cognitoIdentityPoolId":null,"principalOrgId":null,"sourceIp":`...)
	b = appendString(b, c.sourceIP)
	b = append(b, `,"userAgent":`...)
	b = appendString(b, r.UserAgent())
	b = c.appendIdentityUser(b)
	b = append(b, '}')
	b = append(b, `,"path":`...)
	if api.Kind == RESTAPI {
		b = appendString(b, "/"+api.Stage+r.URL.Path)
	} else {
		b = appendString(b, r.URL.Path)
	}
	b = append(b, `,"protocol":`...)
	b = appendString(b, r.Proto)
	b = append(b, `,"requestId":`...)
	b = appendString(b, c.requestID)
	b = append(b, `,"requestTime":`...)
	b = appendString(b, requestTime(c))
	b = append(b, `,"requestTimeEpoch":`...)
	b = appendInt(b, c.now.UnixMilli())
	b = append(b, `,"resourceId":`...)
	b = appendString(b, resourceID(route))
	b = append(b, `,"resourcePath":`...)
	b = appendString(b, resource)
	b = append(b, `,"stage":`...)
	b = appendString(b, api.Stage)
	b = append(b, '}')
	if shape != v1Proxy {
		return append(b, '}')
	}
	b = append(b, `,"body":`...)
	if len(c.body) == 0 {
		b = append(b, "null"...)
	} else {
		b = appendBody(b, c.body, c.binaryV1())
	}
	b = append(b, `,"isBase64Encoded":`...)
	b = strconv.AppendBool(b, len(c.body) > 0 && c.binaryV1())
	return append(b, '}')
}

// binaryV1 reports whether the body goes base64 encoded in a 1.0 event:
// REST APIs follow BinaryMediaTypes, HTTP APIs their own text/binary rule.
func (c *call) binaryV1() bool {
	ct := c.r.Header.Get("Content-Type")
	if c.route.API.Kind == RESTAPI {
		return isBinaryFor(c.route.API.BinaryMediaTypes, ct)
	}
	return !isTextType(ct)
}

// resourceID is a stable 6-character id per route, like API Gateway's.
func resourceID(r *Route) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	var h uint32 = 2166136261
	for i := 0; i < len(r.Path); i++ {
		h = (h ^ uint32(r.Path[i])) * 16777619
	}
	var out [6]byte
	for i := range out {
		out[i] = alphabet[h%36]
		h /= 36
	}
	return string(out[:])
}

// appendIdentityCaller opens requestContext.identity with the IAM caller's
// accessKey, accountId and caller (null unless the route is AWS_IAM).
func (c *call) appendIdentityCaller(b []byte) []byte {
	if c.auth == nil || c.auth.kind != AuthIAM {
		return append(b, `{"accessKey":null,"accountId":null,"caller":null,`...)
	}
	b = append(b, `{"accessKey":`...)
	b = appendString(b, c.auth.accessKey)
	b = append(b, `,"accountId":`...)
	b = appendString(b, c.g.cfg.AccountID)
	b = append(b, `,"caller":`...)
	b = appendString(b, c.auth.accessKey)
	return append(b, ',')
}

// appendIdentityUser appends identity's user and userArn.
func (c *call) appendIdentityUser(b []byte) []byte {
	if c.auth == nil || c.auth.kind != AuthIAM {
		return append(b, `,"user":null,"userArn":null`...)
	}
	b = append(b, `,"user":`...)
	b = appendString(b, c.auth.accessKey)
	b = append(b, `,"userArn":`...)
	return appendString(b, "arn:aws:iam::"+c.g.cfg.AccountID+":root")
}
