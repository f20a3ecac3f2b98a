package gateway

import (
	"net/http"
	"strconv"
)

// apiError is one answer API Gateway (or a function URL) gives on its own,
// without the function: the status, the JSON body and the x-amzn-ErrorType
// header REST APIs send. Every such answer comes from the catalogue below.
type apiError struct {
	status    int
	body      string
	errorType string
}

// The catalogue of API Gateway's own answers, with the bodies AWS sends.
var (
	errNotFound          = apiError{http.StatusNotFound, `{"message":"Not Found"}`, "NotFoundException"}
	errInternal          = apiError{http.StatusBadGateway, `{"message":"Internal server error"}`, "InternalServerErrorException"}
	errTimeout           = apiError{http.StatusGatewayTimeout, `{"message":"Endpoint request timed out"}`, "IntegrationTimeout"}
	errThrottled         = apiError{http.StatusTooManyRequests, `{"message":"Too Many Requests"}`, "ThrottledException"}
	errTooLarge          = apiError{http.StatusRequestEntityTooLarge, `{"message":"Request Entity Too Large"}`, "RequestEntityTooLargeException"}
	errUnauthorized      = apiError{http.StatusUnauthorized, `{"message":"Unauthorized"}`, "UnauthorizedException"}
	errForbidden         = apiError{http.StatusForbidden, `{"message":"Forbidden"}`, "ForbiddenException"}
	errExplicitDeny      = apiError{http.StatusForbidden, `{"Message":"User is not authorized to access this resource with an explicit deny"}`, "AccessDeniedException"}
	errNotAuthorized     = apiError{http.StatusForbidden, `{"Message":"User is not authorized to access this resource"}`, "AccessDeniedException"}
	errMissingToken      = apiError{http.StatusForbidden, `{"message":"Missing Authentication Token"}`, "MissingAuthenticationTokenException"}
	errSignatureMismatch = apiError{http.StatusForbidden, `{"message":"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}`, "InvalidSignatureException"}
	errAuthorizerFault   = apiError{http.StatusInternalServerError, `{"message":null}`, "AuthorizerConfigurationException"}
	errHTTPAuthFault     = apiError{http.StatusInternalServerError, `{"message":"Internal Server Error"}`, ""}
	// Function URLs answer in Lambda's own words.
	errURLForbidden = apiError{http.StatusForbidden, `{"Message":"Forbidden"}`, "AccessDeniedException"}
	errURLInternal  = apiError{http.StatusBadGateway, `{"Message":"Internal Server Error"}`, ""}
	errURLThrottled = apiError{http.StatusTooManyRequests, `{"Message":"Rate Exceeded."}`, "TooManyRequestsException"}
	errURLTooLarge  = apiError{http.StatusRequestEntityTooLarge, `{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}`, "RequestTooLargeException"}
)

// write sends the answer. requestID names the request in the headers both
// API flavours send.
func (e apiError) write(w http.ResponseWriter, requestID string) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(e.body))}
	if requestID != "" {
		h["X-Amzn-Requestid"] = []string{requestID}
		h["Apigw-Requestid"] = []string{requestID}
	}
	if e.errorType != "" {
		h["X-Amzn-Errortype"] = []string{e.errorType}
	}
	w.WriteHeader(e.status)
	_, _ = w.Write([]byte(e.body)) // the client going away is not the gateway's error
}
