package sqs

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/runtime"
)

// Service is the SQS API. It implements awsapi.Service and is safe for
// concurrent use.
type Service struct {
	store *Store
}

var _ awsapi.Service = (*Service)(nil)

// NewService returns the SQS API over store.
func NewService(store *Store) *Service { return &Service{store: store} }

// IsSQSRequest recognises an unsigned SQS request (for the router's
// authentication errors): a JSON target or a Query action in the URL.
func IsSQSRequest(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
}

// WriteError implements awsapi.Service.
func (s *Service) WriteError(w http.ResponseWriter, r *http.Request, e *awsapi.Error) {
	if r.Header.Get("X-Amz-Target") != "" {
		writeJSONError(w, e)
		return
	}
	writeXMLError(w, e, runtime.NewRequestID())
}

// request is one decoded API call.
type request struct {
	ctx    context.Context
	action string
	body   []byte // the JSON document of the input
	sender string
	path   string
}

func (rq *request) decode(v any) *awsapi.Error {
	if len(rq.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(rq.body, v); err != nil {
		var bv *badValue
		if errors.As(err, &bv) {
			return errInvalidValue("Value %s for parameter is invalid. Reason: not an integer.", bv.value)
		}
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return errInvalidValue("Value for parameter %s is invalid.", ute.Field)
		}
		return errorf(codeInvalidParameterValue, "The request body is not valid: %v", err)
	}
	return nil
}

type operation func(s *Service, rq *request) (any, error)

var operations = map[string]operation{
	"CreateQueue":                  (*Service).createQueue,
	"DeleteQueue":                  (*Service).deleteQueue,
	"GetQueueUrl":                  (*Service).getQueueURL,
	"ListQueues":                   (*Service).listQueues,
	"SendMessage":                  (*Service).sendMessage,
	"SendMessageBatch":             (*Service).sendMessageBatch,
	"ReceiveMessage":               (*Service).receiveMessage,
	"DeleteMessage":                (*Service).deleteMessage,
	"DeleteMessageBatch":           (*Service).deleteMessageBatch,
	"ChangeMessageVisibility":      (*Service).changeMessageVisibility,
	"ChangeMessageVisibilityBatch": (*Service).changeMessageVisibilityBatch,
	"PurgeQueue":                   (*Service).purgeQueue,
	"GetQueueAttributes":           (*Service).getQueueAttributes,
	"SetQueueAttributes":           (*Service).setQueueAttributes,
}

// known lists the SQS operations aloft does not implement, so that they get
// NotImplemented rather than InvalidAction.
var known = map[string]bool{
	"AddPermission": true, "RemovePermission": true, "TagQueue": true, "UntagQueue": true, "ListQueueTags": true,
	"ListDeadLetterSourceQueues": true, "StartMessageMoveTask": true, "CancelMessageMoveTask": true, "ListMessageMoveTasks": true,
}

// ServeHTTP decodes an SQS request in either protocol and runs it.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := runtime.NewRequestID()
	rq := &request{ctx: r.Context(), sender: awsapi.AccessKeyFrom(r.Context()), path: r.URL.Path}
	proto := protoQuery
	fail := func(e *awsapi.Error) {
		if proto == protoJSON {
			writeJSONError(w, e)
		} else {
			writeXMLError(w, e, requestID)
		}
	}
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		proto = protoJSON
		action, ok := strings.CutPrefix(target, "AmazonSQS.")
		if !ok {
			fail(errorf(codeInvalidAction, "The action %s is not valid for this endpoint.", target))
			return
		}
		rq.action = action
		body, err := io.ReadAll(r.Body)
		if err != nil {
			fail(errorf(codeInvalidParameterValue, "reading the request: %v", err))
			return
		}
		rq.body = bytes.TrimSpace(body)
	} else {
		if err := r.ParseForm(); err != nil {
			fail(errorf(codeInvalidParameterValue, "reading the request: %v", err))
			return
		}
		rq.action = r.Form.Get("Action")
		form := r.Form
		if form.Get("QueueUrl") == "" && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 1 {
			// Old clients address the queue by the request URL.
			form = cloneValues(form)
			form.Set("QueueUrl", r.URL.Path)
		}
		body, err := queryToJSON(form)
		if err != nil {
			fail(errorf(codeInvalidParameterValue, "reading the request: %v", err))
			return
		}
		rq.body = body
	}
	op, ok := operations[rq.action]
	if !ok {
		if known[rq.action] {
			fail(errNotImplemented(rq.action))
			return
		}
		fail(errorf(codeInvalidAction, "The action %s is not valid for this endpoint.", rq.action))
		return
	}
	out, err := op(s, rq)
	if err != nil {
		fail(awsapi.AsError(err))
		return
	}
	writeOutput(w, proto, rq.action, requestID, out)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// queue resolves a QueueUrl member.
func (s *Service) queue(ctx context.Context, queueURL string) (*Queue, error) {
	if queueURL == "" {
		return nil, errMissing("QueueUrl")
	}
	return s.store.Get(ctx, NameFromURL(queueURL))
}
