package awsapi

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is a failure to report to an AWS client: an HTTP status, the error code the
// client's SDK turns into a typed error, and a message. Each service writes it in
// its own wire shape; codes produced by this package are the JSON services' names
// and a service with other names (S3's SignatureDoesNotMatch) maps them.
type Error struct {
	Status  int
	Code    string
	Message string
	// Limit is the size limit, in bytes, that a RequestTooLarge error refers to.
	Limit int64
	// Reason refines Code for services whose catalogues are finer than the
	// JSON services' (S3 answers an expired presigned URL with AccessDenied and
	// clock skew with RequestTimeTooSkewed, where Lambda says
	// InvalidSignatureException to both); "" for none.
	Reason string
}

// Reasons an Error may carry.
const (
	ReasonExpired   = "expired"    // a presigned URL past its expiry
	ReasonClockSkew = "clock-skew" // a signing time too far from aloft's clock
)

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error when it is (or wraps) one, and otherwise an
// internal server error carrying err's text.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeServiceException, Message: err.Error()}
}

// Error codes the router produces, and generic ones services share.
const (
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	CodeIncompleteSignature        = "IncompleteSignatureException"
	CodeInvalidSignature           = "InvalidSignatureException"
	CodeUnrecognizedClient         = "UnrecognizedClientException"
	CodeInvalidContentSHA256       = "InvalidContentSHA256"
	CodeContentSHA256Mismatch      = "XAmzContentSHA256Mismatch"
	CodeIncompleteBody             = "IncompleteBody"
	CodeRequestTooLarge            = "RequestTooLargeException"
	CodeNotImplemented             = "NotImplemented"
	CodeServiceException           = "ServiceException"
)

// Shared Error values. Callers must not modify them.
var (
	ErrMissingAuthenticationToken = &Error{Status: http.StatusForbidden, Code: CodeMissingAuthenticationToken, Message: "Missing Authentication Token"}
	ErrUnrecognizedClient         = &Error{Status: http.StatusForbidden, Code: CodeUnrecognizedClient, Message: "The security token included in the request is invalid."}
	ErrContentSHA256Mismatch      = &Error{Status: http.StatusBadRequest, Code: CodeContentSHA256Mismatch, Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
)

// queryCodes are the Query protocol's names (SQS, SNS) for the router's
// authentication errors.
var queryCodes = map[string]string{
	CodeMissingAuthenticationToken: "MissingAuthenticationToken",
	CodeIncompleteSignature:        "IncompleteSignature",
	CodeInvalidSignature:           "SignatureDoesNotMatch",
	CodeUnrecognizedClient:         "InvalidClientTokenId",
}

// QueryCode returns the name a Query-protocol service (SQS, SNS) gives to
// one of the router's error codes, or code itself.
func QueryCode(code string) string {
	if q, ok := queryCodes[code]; ok {
		return q
	}
	return code
}
