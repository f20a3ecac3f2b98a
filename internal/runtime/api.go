package runtime

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Runtime API, as served to one instance. Paths, headers, status codes
// and error bodies follow AWS's documentation and its Runtime Interface
// Emulator:
//
//	GET  /2018-06-01/runtime/invocation/next           200, the event
//	POST /2018-06-01/runtime/invocation/{id}/response  202 {"status":"OK"}; 413 when too large
//	POST /2018-06-01/runtime/invocation/{id}/error     202 {"status":"OK"}
//	POST /2018-06-01/runtime/init/error                202 {"status":"OK"}
//
// A call out of turn gets 403 InvalidStateTransition; a result for an id
// that is not the current invocation's gets 400 InvalidRequestID.
const apiPrefix = "/2018-06-01/runtime/"

const (
	hdrRequestID       = "Lambda-Runtime-Aws-Request-Id"
	hdrDeadline        = "Lambda-Runtime-Deadline-Ms"
	hdrInvokedARN      = "Lambda-Runtime-Invoked-Function-Arn"
	hdrTraceID         = "Lambda-Runtime-Trace-Id"
	hdrClientContext   = "Lambda-Runtime-Client-Context"
	hdrCognito         = "Lambda-Runtime-Cognito-Identity"
	hdrErrorType       = "Lambda-Runtime-Function-Error-Type"
	trailerErrorType   = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody   = "Lambda-Runtime-Function-Error-Body"
	payloadSizeSlack   = 100 // Lambda accepts 6 MiB + 100 bytes and names that figure
	unknownErrorType   = "Runtime.Unknown"
	stateNotAllowedMsg = "State transition is not allowed"
)

// ServeHTTP routes the Runtime API of one instance.
func (i *instance) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, apiPrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	method := http.MethodPost
	var handle func()
	switch {
	case path == "invocation/next":
		method, handle = http.MethodGet, func() { i.handleNext(w, r) }
	case path == "init/error":
		handle = func() { i.handleInitError(w, r) }
	case strings.HasPrefix(path, "invocation/"):
		rest := path[len("invocation/"):]
		if id, ok := strings.CutSuffix(rest, "/response"); ok && validID(id) {
			handle = func() { i.handleResult(w, r, id, false) }
		} else if id, ok := strings.CutSuffix(rest, "/error"); ok && validID(id) {
			handle = func() { i.handleResult(w, r, id, true) }
		}
	}
	if handle == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	handle()
}

func validID(id string) bool { return id != "" && !strings.Contains(id, "/") }

// handleNext answers GET invocation/next: it ends the previous invocation,
// if the runtime had posted its result, and blocks until the next event.
func (i *instance) handleNext(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	switch i.state {
	case stateStarted:
		if !i.initDone {
			i.initDone = true
			i.initDur = time.Since(i.spawned)
			if i.initTimer != nil {
				i.initTimer.Stop()
			}
		}
	case stateResponseSent:
		if inv := i.cur; inv != nil {
			i.cur = nil
			i.mu.Unlock()
			i.finish(inv, outcome{kind: outcomePosted}, true)
			i.mu.Lock()
		}
	case stateReady:
		// The runtime asks again without answering (a retried request):
		// like the emulator, hand it the same event again.
		if inv := i.cur; inv != nil {
			i.mu.Unlock()
			writeEvent(w, inv)
			return
		}
	default:
		st := i.state
		i.mu.Unlock()
		renderStateError(w, st, stateReady)
		return
	}
	i.mu.Unlock()

	select {
	case inv := <-i.events:
		i.deliver(w, inv)
	case <-i.gone:
		renderInternalError(w)
	case <-r.Context().Done():
	}
}

// writeEvent writes an invocation as the answer to next.
func writeEvent(w http.ResponseWriter, inv *invocation) {
	h := w.Header()
	h.Set(hdrRequestID, inv.id)
	h.Set(hdrDeadline, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set(hdrInvokedARN, inv.arn)
	h.Set(hdrTraceID, inv.traceID)
	if inv.clientContext != "" {
		h.Set(hdrClientContext, inv.clientContext)
	}
	if inv.cognito != "" {
		h.Set(hdrCognito, inv.cognito)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(inv.payload)))
	w.WriteHeader(http.StatusOK)
	// A failed write means the runtime hung up; its exit or the timeout
	// settles the invocation.
	_, _ = w.Write(inv.payload)
}

// handleResult answers POST invocation/{id}/response and .../error.
func (i *instance) handleResult(w http.ResponseWriter, r *http.Request, id string, isError bool) {
	next := stateResponding
	if isError {
		next = stateErrorResponding
	}
	i.mu.Lock()
	if i.state != stateReady {
		st := i.state
		i.mu.Unlock()
		renderStateError(w, st, next)
		return
	}
	inv := i.cur
	if inv == nil || inv.id != id {
		i.mu.Unlock()
		renderJSON(w, http.StatusBadRequest, errorDocument("InvalidRequestID", "Invalid request ID"))
		return
	}
	i.state = next
	i.mu.Unlock()

	limit := i.pool.maxResponse
	body, tooLarge, err := readLimited(r.Body, limit)
	if err != nil {
		// Truncated upload: let the runtime try again.
		i.mu.Lock()
		if i.cur == inv && i.state == next {
			i.state = stateReady
		}
		i.mu.Unlock()
		renderJSON(w, http.StatusBadRequest, errorDocument("TruncatedHTTPRequest", "HTTP request detected as truncated"))
		return
	}

	var res posted
	switch {
	case tooLarge:
		res = posted{failed: true, payload: errorDocument("Function.ResponseSizeTooLarge",
			"Response payload size exceeded maximum allowed payload size ("+strconv.Itoa(limit)+" bytes).")}
	case isError:
		res = posted{failed: true, payload: errorBody(body, r.Header.Get(hdrErrorType))}
	case r.Trailer.Get(trailerErrorType) != "":
		// A streamed response that failed midway (aws-lambda-go reports the
		// error in trailers after the body).
		res = posted{failed: true, payload: trailerError(r.Trailer.Get(trailerErrorType), r.Trailer.Get(trailerErrorBody))}
	default:
		res = posted{payload: body}
	}

	i.mu.Lock()
	stored := i.cur == inv && i.state == next
	if stored {
		inv.result = &res
		i.state = stateResponseSent
	}
	i.mu.Unlock()
	if stored && inv.posted != nil {
		i.pool.handOver(inv, &res)
	}

	if tooLarge {
		renderJSON(w, http.StatusRequestEntityTooLarge, errorDocument("RequestEntityTooLarge",
			"Exceeded maximum allowed payload size ("+strconv.Itoa(limit)+" bytes)."))
		return
	}
	renderAccepted(w)
}

// handleInitError answers POST init/error: the invocation that started the
// instance fails with the posted error and the instance is discarded.
func (i *instance) handleInitError(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	if i.state != stateStarted {
		st := i.state
		i.mu.Unlock()
		renderStateError(w, st, stateInitError)
		return
	}
	i.state = stateInitError
	// Take the invocation now: once the runtime has its answer it may exit at
	// once, and watch must not fail the invocation with Runtime.ExitError
	// first.
	inv := i.cur
	i.cur = nil
	i.mu.Unlock()

	body, _, err := readLimited(r.Body, i.pool.maxResponse)
	if err != nil {
		body = nil
	}
	errType := r.Header.Get(hdrErrorType)
	payload := errorBody(body, errType)
	if errType == "" {
		errType = documentErrorType(payload)
	}
	renderAccepted(w)
	if f, ok := w.(http.Flusher); ok {
		f.Flush() // before the kill below can close the connection
	}

	i.kill()
	if inv != nil {
		i.finish(inv, outcome{kind: outcomeInitError, errorType: errType, payload: payload}, false)
	}
}

// readLimited reads a body of at most limit bytes; a longer one is reported
// as tooLarge without reading it all. Reading to EOF makes trailers available.
func readLimited(body io.Reader, limit int) (b []byte, tooLarge bool, err error) {
	b, err = io.ReadAll(io.LimitReader(body, int64(limit)+1))
	if err != nil {
		return nil, false, err
	}
	if len(b) > limit {
		return nil, true, nil
	}
	return b, false, nil
}

// errorBody is the payload of a posted error: the body as the runtime sent
// it, or a minimal error document when it sent none.
func errorBody(body []byte, errType string) []byte {
	if len(body) > 0 {
		return body
	}
	if errType == "" {
		errType = unknownErrorType
	}
	return errorDocument(errType, "")
}

// trailerError decodes aws-lambda-go's error trailers (the body is base64 JSON).
func trailerError(errType, b64 string) []byte {
	if b, err := base64.StdEncoding.DecodeString(b64); err == nil && len(b) > 0 {
		return b
	}
	return errorDocument(errType, "")
}

// documentErrorType reads errorType from an error document.
func documentErrorType(doc []byte) string {
	var d struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(doc, &d) == nil && d.ErrorType != "" {
		return d.ErrorType
	}
	return unknownErrorType
}

func renderStateError(w http.ResponseWriter, from, to instState) {
	renderJSON(w, http.StatusForbidden, errorDocument("InvalidStateTransition",
		"State transition from "+from.String()+" to "+to.String()+" failed for runtime. Error: "+stateNotAllowedMsg))
}

func renderAccepted(w http.ResponseWriter) {
	renderJSON(w, http.StatusAccepted, []byte(`{"status":"OK"}`))
}

func renderInternalError(w http.ResponseWriter) {
	renderJSON(w, http.StatusInternalServerError, errorDocument("InternalServerError", "Internal Server Error"))
}

func renderJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the runtime hung up: nothing to tell it
}
