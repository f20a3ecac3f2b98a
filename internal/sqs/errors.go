package sqs

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strconv"

	"github.com/aloft-dev/aloft/internal/awsapi"
)

// The SQS error catalogue. Each error has the JSON protocol's short name
// (its __type, without the namespace) and the Query protocol's code, which
// the JSON protocol also sends in x-amzn-query-error so that SDKs in
// query-compatible mode report the same code either way.
type sqsError struct {
	status    int
	jsonName  string
	queryCode string
}

var catalogue = map[string]sqsError{
	codeQueueDoesNotExist:        {400, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"},
	codeQueueAlreadyExists:       {400, "QueueNameExists", "QueueAlreadyExists"},
	codeQueueDeletedRecently:     {400, "QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently"},
	codeReceiptHandleIsInvalid:   {400, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid"},
	codeInvalidParameterValue:    {400, "InvalidParameterValue", "InvalidParameterValue"},
	codeMissingParameter:         {400, "MissingParameter", "MissingParameter"},
	codeInvalidAttributeName:     {400, "InvalidAttributeName", "InvalidAttributeName"},
	codeInvalidAttributeValue:    {400, "InvalidAttributeValue", "InvalidAttributeValue"},
	codeEmptyBatchRequest:        {400, "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest"},
	codeTooManyEntries:           {400, "TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"},
	codeBatchEntryIdsNotDistinct: {400, "BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"},
	codeInvalidBatchEntryID:      {400, "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId"},
	codeMessageNotInflight:       {400, "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight"},
	codeInvalidAction:            {400, "InvalidAction", "InvalidAction"},
	codeUnsupportedOperation:     {400, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation"},
	codeInternalError:            {500, "InternalFailure", "InternalFailure"},
}

// Catalogue keys: the JSON protocol's error names.
const (
	codeQueueDoesNotExist        = "QueueDoesNotExist"
	codeQueueAlreadyExists       = "QueueAlreadyExists"
	codeQueueDeletedRecently     = "QueueDeletedRecently"
	codeReceiptHandleIsInvalid   = "ReceiptHandleIsInvalid"
	codeInvalidParameterValue    = "InvalidParameterValue"
	codeMissingParameter         = "MissingParameter"
	codeInvalidAttributeName     = "InvalidAttributeName"
	codeInvalidAttributeValue    = "InvalidAttributeValue"
	codeEmptyBatchRequest        = "EmptyBatchRequest"
	codeTooManyEntries           = "TooManyEntriesInBatchRequest"
	codeBatchEntryIdsNotDistinct = "BatchEntryIdsNotDistinct"
	codeInvalidBatchEntryID      = "InvalidBatchEntryId"
	codeMessageNotInflight       = "MessageNotInflight"
	codeInvalidAction            = "InvalidAction"
	codeUnsupportedOperation     = "UnsupportedOperation"
	codeInternalError            = "InternalError"
)

func errorf(code, format string, args ...any) *awsapi.Error {
	status := http.StatusBadRequest
	if e, ok := catalogue[code]; ok {
		status = e.status
	}
	return awsapi.Errorf(status, code, format, args...)
}

func errQueueDoesNotExist() *awsapi.Error {
	return errorf(codeQueueDoesNotExist, "The specified queue does not exist.")
}

func errMissing(param string) *awsapi.Error {
	return errorf(codeMissingParameter, "The request must contain the parameter %s.", param)
}

func errInvalidValue(format string, args ...any) *awsapi.Error {
	return errorf(codeInvalidParameterValue, format, args...)
}

func errNotImplemented(op string) *awsapi.Error {
	return awsapi.Errorf(http.StatusBadRequest, awsapi.CodeNotImplemented, "aloft does not implement the SQS operation %s yet", op)
}

// names returns the JSON name and Query code of an error, mapping the
// router's and unknown codes onto themselves.
func names(e *awsapi.Error) (jsonName, queryCode string, status int) {
	if c, ok := catalogue[e.Code]; ok {
		return c.jsonName, c.queryCode, e.Status
	}
	if e.Code == awsapi.CodeServiceException {
		return "InternalFailure", "InternalFailure", e.Status
	}
	q := awsapi.QueryCode(e.Code)
	return q, q, e.Status
}

func faultType(status int) string {
	if status >= 500 {
		return "Receiver"
	}
	return "Sender"
}

// writeJSONError renders e in the JSON protocol.
func writeJSONError(w http.ResponseWriter, e *awsapi.Error) {
	jsonName, queryCode, status := names(e)
	b, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.sqs#" + jsonName, "message": e.Message})
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("x-amzn-query-error", queryCode+";"+faultType(status))
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// writeXMLError renders e in the Query protocol.
func writeXMLError(w http.ResponseWriter, e *awsapi.Error, requestID string) {
	_, queryCode, status := names(e)
	type errBody struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
		Detail  string `xml:"Detail"`
	}
	doc := struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		XMLNS     string   `xml:"xmlns,attr"`
		Error     errBody  `xml:"Error"`
		RequestID string   `xml:"RequestId"`
	}{XMLNS: xmlns, Error: errBody{Type: faultType(status), Code: queryCode, Message: e.Message}, RequestID: requestID}
	b, _ := xml.Marshal(doc)
	b = append([]byte(xml.Header), b...)
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

const xmlns = "http://queue.amazonaws.com/doc/2012-11-05/"
