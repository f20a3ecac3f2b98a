package lambdaapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/aloft-dev/aloft/internal/awsapi"
)

// The Lambda API's error codes, as its clients expect them in X-Amzn-ErrorType.
const (
	codeResourceNotFound      = "ResourceNotFoundException"
	codeInvalidParameterValue = "InvalidParameterValueException"
	codeInvalidRequestContent = "InvalidRequestContentException"
	codeTooManyRequests       = "TooManyRequestsException"
	codeRequestTooLarge       = "RequestTooLargeException"
)

func errFunctionNotFound(arn string) *awsapi.Error {
	return awsapi.Errorf(http.StatusNotFound, codeResourceNotFound, "Function not found: %s", arn)
}

func errInvalidParameter(format string, args ...any) *awsapi.Error {
	return awsapi.Errorf(http.StatusBadRequest, codeInvalidParameterValue, format, args...)
}

func errNotImplemented(op string) *awsapi.Error {
	return awsapi.Errorf(http.StatusNotImplemented, awsapi.CodeNotImplemented, "aloft does not implement the Lambda operation %s yet", op)
}

// writeError renders e as Lambda does: the code in X-Amzn-ErrorType and a JSON body
// with Type and message (and Reason for throttling).
func writeError(w http.ResponseWriter, e *awsapi.Error) {
	body := map[string]string{"Type": "User", "message": e.Message}
	code := e.Code
	switch code {
	case awsapi.CodeRequestTooLarge:
		code = codeRequestTooLarge
		if e.Limit > 0 {
			body["message"] = fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", e.Limit)
		}
	case codeTooManyRequests:
		body["Reason"] = "ReservedFunctionConcurrentInvocationLimitExceeded"
		w.Header().Set("Retry-After", "1")
	case awsapi.CodeServiceException:
		body["Type"] = "Service"
	}
	if e.Status >= 500 {
		body["Type"] = "Service"
	}
	b, _ := json.Marshal(body)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", code)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	w.Write(b)
}
