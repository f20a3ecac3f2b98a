package lambdaapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/runtime"
)

// invoke serves POST /2015-03-31/functions/{FunctionName}/invocations.
func (s *Service) invoke(w http.ResponseWriter, r *http.Request, name string) {
	fn, e := s.resolve(name, r.URL.Query().Get("Qualifier"))
	if e != nil {
		writeError(w, e)
		return
	}
	invocationType := r.Header.Get("X-Amz-Invocation-Type")
	switch invocationType {
	case "", "RequestResponse":
	case "DryRun":
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		w.WriteHeader(http.StatusNoContent)
		return
	case "Event":
		if s.cfg.Async == nil {
			writeError(w, errNotImplemented("Invoke with X-Amz-Invocation-Type: Event (asynchronous invocation)"))
			return
		}
	default:
		writeError(w, errInvalidParameter("1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", invocationType))
		return
	}
	logType := r.Header.Get("X-Amz-Log-Type")
	if logType != "" && logType != "None" && logType != "Tail" {
		writeError(w, errInvalidParameter("1 validation error detected: Value '%s' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]", logType))
		return
	}

	payload, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes+1))
	if err != nil {
		writeError(w, awsapi.AsError(err))
		return
	}
	limit := MaxPayloadBytes
	if invocationType == "Event" {
		limit = MaxAsyncPayloadBytes
	}
	if len(payload) > limit {
		writeError(w, &awsapi.Error{Status: http.StatusRequestEntityTooLarge, Code: awsapi.CodeRequestTooLarge, Limit: int64(limit)})
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	} else if !json.Valid(payload) {
		writeError(w, awsapi.Errorf(http.StatusBadRequest, codeInvalidRequestContent, "Could not parse request body into json: Could not parse payload into json"))
		return
	}
	req := &runtime.Request{Payload: payload, InvokedARN: s.functionARN(fn.Configuration.FunctionName, "")}
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		decoded, err := base64.StdEncoding.DecodeString(cc)
		if err != nil || !json.Valid(decoded) {
			writeError(w, errInvalidParameter("Client context must be a valid Base64-encoded JSON object."))
			return
		}
		req.ClientContext = string(decoded)
	}

	if invocationType == "Event" {
		id, err := s.cfg.Async.Enqueue(r.Context(), fn.Configuration.FunctionName, payload, req.ClientContext)
		if err != nil {
			writeError(w, awsapi.AsError(err))
			return
		}
		w.Header().Set("X-Amzn-Requestid", id)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	resp, err := fn.Invoker.Invoke(r.Context(), req)
	if err != nil {
		switch {
		case errors.Is(err, runtime.ErrTooManyRequests):
			writeError(w, awsapi.Errorf(http.StatusTooManyRequests, codeTooManyRequests, "Rate Exceeded."))
		default:
			writeError(w, awsapi.AsError(err))
		}
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amz-Executed-Version", "$LATEST")
	h.Set("X-Amzn-Requestid", resp.RequestID)
	if resp.FunctionError != "" {
		h.Set("X-Amz-Function-Error", resp.FunctionError)
	}
	if logType == "Tail" {
		h.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString(resp.LogTail))
	}
	h.Set("Content-Length", strconv.Itoa(len(resp.Payload)))
	w.WriteHeader(http.StatusOK)
	w.Write(resp.Payload)
}
