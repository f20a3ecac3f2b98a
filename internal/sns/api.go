package sns

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/runtime"
)

// The SNS error codes aloft produces (Query protocol codes; aws-sdk-go-v2
// maps NotFound to types.NotFoundException and InvalidParameter to
// types.InvalidParameterException).
const (
	codeNotFound                 = "NotFound"
	codeInvalidParameter         = "InvalidParameter"
	codeEmptyBatchRequest        = "EmptyBatchRequest"
	codeTooManyEntries           = "TooManyEntriesInBatchRequest"
	codeBatchEntryIdsNotDistinct = "BatchEntryIdsNotDistinct"
	codeInvalidBatchEntryID      = "InvalidBatchEntryId"
	codeInvalidAction            = "InvalidAction"
)

const xmlns = "http://sns.amazonaws.com/doc/2010-03-31/"

// Service is the SNS Query API. It implements awsapi.Service and is safe for
// concurrent use.
type Service struct {
	store *Store
}

var _ awsapi.Service = (*Service)(nil)

// NewService returns the SNS API over store.
func NewService(store *Store) *Service { return &Service{store: store} }

// WriteError implements awsapi.Service: the Query protocol's ErrorResponse.
func (s *Service) WriteError(w http.ResponseWriter, r *http.Request, e *awsapi.Error) {
	writeError(w, e, runtime.NewRequestID())
}

func writeError(w http.ResponseWriter, e *awsapi.Error, requestID string) {
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	doc := struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		XMLNS   string   `xml:"xmlns,attr"`
		Error   struct {
			Type    string `xml:"Type"`
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
		RequestID string `xml:"RequestId"`
	}{XMLNS: xmlns, RequestID: requestID}
	code := awsapi.QueryCode(e.Code)
	if code == awsapi.CodeServiceException {
		code = "InternalError" // SNS's InternalErrorException
	}
	doc.Error.Type, doc.Error.Code, doc.Error.Message = typ, code, e.Message
	b, _ := xml.Marshal(doc)
	b = append([]byte(xml.Header), b...)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	w.Write(b)
}

// writeResult writes <ActionResponse><ActionResult>…</ActionResult>
// <ResponseMetadata/></ActionResponse>; result is nil for operations
// without one.
func writeResult(w http.ResponseWriter, action, requestID string, result any) {
	var body []byte
	if result != nil {
		var err error
		if body, err = xml.Marshal(result); err != nil {
			writeError(w, awsapi.Errorf(500, "InternalError", "encoding the response: %v", err), requestID)
			return
		}
	}
	b := []byte(xml.Header + "<" + action + "Response xmlns=\"" + xmlns + "\">")
	b = append(b, body...)
	b = append(b, "<ResponseMetadata><RequestId>"+requestID+"</RequestId></ResponseMetadata></"+action+"Response>"...)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", requestID)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

type operation func(s *Service, ctx context.Context, form url.Values) (any, error)

var operations = map[string]operation{
	"CreateTopic":               (*Service).createTopic,
	"DeleteTopic":               (*Service).deleteTopic,
	"ListTopics":                (*Service).listTopics,
	"GetTopicAttributes":        (*Service).getTopicAttributes,
	"Subscribe":                 (*Service).subscribe,
	"Unsubscribe":               (*Service).unsubscribe,
	"ListSubscriptions":         (*Service).listSubscriptions,
	"ListSubscriptionsByTopic":  (*Service).listSubscriptions,
	"GetSubscriptionAttributes": (*Service).getSubscriptionAttributes,
	"SetSubscriptionAttributes": (*Service).setSubscriptionAttributes,
	"Publish":                   (*Service).publish,
	"PublishBatch":              (*Service).publishBatch,
}

var notImplemented = map[string]bool{
	"SetTopicAttributes": true, "ConfirmSubscription": true, "AddPermission": true, "RemovePermission": true,
	"TagResource": true, "UntagResource": true, "ListTagsForResource": true, "CreatePlatformApplication": true,
	"CreatePlatformEndpoint": true, "CheckIfPhoneNumberIsOptedOut": true, "GetDataProtectionPolicy": true, "PutDataProtectionPolicy": true,
}

// ServeHTTP runs one SNS Query request.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := runtime.NewRequestID()
	if err := r.ParseForm(); err != nil {
		writeError(w, errInvalidParameter("reading the request: %v", err), requestID)
		return
	}
	action := r.Form.Get("Action")
	op, ok := operations[action]
	if !ok {
		if notImplemented[action] {
			writeError(w, awsapi.Errorf(400, awsapi.CodeNotImplemented, "aloft does not implement the SNS operation %s yet", action), requestID)
			return
		}
		writeError(w, awsapi.Errorf(400, codeInvalidAction, "The action %s is not valid for this web service.", action), requestID)
		return
	}
	ctx := context.WithValue(r.Context(), formKey{}, action)
	out, err := op(s, ctx, r.Form)
	if err != nil {
		writeError(w, awsapi.AsError(err), requestID)
		return
	}
	writeResult(w, action, requestID, out)
}

type formKey struct{}

func required(form url.Values, name string) (string, error) {
	v := form.Get(name)
	if v == "" {
		return "", errInvalidParameter("Invalid parameter: %s", name)
	}
	return v, nil
}

// entries reads a Query map: prefix.entry.N.key / prefix.entry.N.value.
func entries(form url.Values, prefix string) map[string]string {
	out := map[string]string{}
	for i := 1; ; i++ {
		k := form.Get(fmt.Sprintf("%s.entry.%d.key", prefix, i))
		if k == "" {
			return out
		}
		out[k] = form.Get(fmt.Sprintf("%s.entry.%d.value", prefix, i))
	}
}

// messageAttributes reads prefix.entry.N.Name / .Value.DataType /
// .Value.StringValue / .Value.BinaryValue.
func messageAttributes(form url.Values, prefix string) (map[string]Attribute, error) {
	out := map[string]Attribute{}
	for i := 1; ; i++ {
		p := fmt.Sprintf("%s.entry.%d.", prefix, i)
		name := form.Get(p + "Name")
		if name == "" {
			return out, nil
		}
		typ := form.Get(p + "Value.DataType")
		a := Attribute{Type: typ, Value: form.Get(p + "Value.StringValue")}
		switch {
		case strings.HasPrefix(typ, "Binary"):
			a.Value = form.Get(p + "Value.BinaryValue")
			if _, err := base64.StdEncoding.DecodeString(a.Value); err != nil {
				return nil, errInvalidParameter("Invalid parameter: MessageAttributes Reason: %s is not valid base64", name)
			}
		case typ == "String" || typ == "String.Array" || strings.HasPrefix(typ, "Number") || strings.HasPrefix(typ, "String."):
			if strings.HasPrefix(typ, "Number") {
				if _, err := strconv.ParseFloat(a.Value, 64); err != nil {
					return nil, awsapi.Errorf(400, "ParameterValueInvalid", "Could not cast message attribute '%s' value to number.", name)
				}
				a.Type = "Number"
			}
		default:
			return nil, awsapi.Errorf(400, "ParameterValueInvalid", "The message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", name)
		}
		out[name] = a
	}
}

type topicResult struct {
	XMLName  xml.Name `xml:"CreateTopicResult"`
	TopicArn string   `xml:"TopicArn"`
}

func (s *Service) createTopic(ctx context.Context, form url.Values) (any, error) {
	name, err := required(form, "Name")
	if err != nil {
		return nil, err
	}
	t, err := s.store.CreateTopic(ctx, name, entries(form, "Attributes"))
	if err != nil {
		return nil, err
	}
	return &topicResult{TopicArn: s.store.TopicARN(t.Name)}, nil
}

func (s *Service) deleteTopic(ctx context.Context, form url.Values) (any, error) {
	arn, err := required(form, "TopicArn")
	if err != nil {
		return nil, err
	}
	return nil, s.store.DeleteTopic(ctx, arn)
}

func (s *Service) listTopics(ctx context.Context, form url.Values) (any, error) {
	topics, err := s.store.Topics(ctx)
	if err != nil {
		return nil, err
	}
	type member struct {
		TopicArn string `xml:"TopicArn"`
	}
	out := struct {
		XMLName xml.Name `xml:"ListTopicsResult"`
		Topics  []member `xml:"Topics>member"`
	}{Topics: []member{}}
	for _, t := range topics {
		out.Topics = append(out.Topics, member{s.store.TopicARN(t.Name)})
	}
	return &out, nil
}

type attributesResult struct {
	XMLName    xml.Name
	Attributes []kv `xml:"Attributes>entry"`
}

type kv struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func sortedKV(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func (s *Service) getTopicAttributes(ctx context.Context, form url.Values) (any, error) {
	arn, err := required(form, "TopicArn")
	if err != nil {
		return nil, err
	}
	t, err := s.store.GetTopic(ctx, arn)
	if err != nil {
		return nil, err
	}
	subs, err := s.store.Subscriptions(ctx, arn)
	if err != nil {
		return nil, err
	}
	attrs := map[string]string{
		"TopicArn": s.store.TopicARN(t.Name), "Owner": s.store.cfg.AccountID, "DisplayName": "",
		"SubscriptionsConfirmed": strconv.Itoa(len(subs)), "SubscriptionsPending": "0", "SubscriptionsDeleted": "0",
	}
	for k, v := range t.Attributes {
		attrs[k] = v
	}
	return &attributesResult{XMLName: xml.Name{Local: "GetTopicAttributesResult"}, Attributes: sortedKV(attrs)}, nil
}

func (s *Service) subscribe(ctx context.Context, form url.Values) (any, error) {
	arn, err := required(form, "TopicArn")
	if err != nil {
		return nil, err
	}
	protocol, err := required(form, "Protocol")
	if err != nil {
		return nil, err
	}
	sub, err := s.store.Subscribe(ctx, arn, protocol, form.Get("Endpoint"), entries(form, "Attributes"), "")
	if err != nil {
		return nil, err
	}
	return &struct {
		XMLName         xml.Name `xml:"SubscribeResult"`
		SubscriptionArn string   `xml:"SubscriptionArn"`
	}{SubscriptionArn: sub.ARN}, nil
}

func (s *Service) unsubscribe(ctx context.Context, form url.Values) (any, error) {
	arn, err := required(form, "SubscriptionArn")
	if err != nil {
		return nil, err
	}
	return nil, s.store.Unsubscribe(ctx, arn)
}

func (s *Service) listSubscriptions(ctx context.Context, form url.Values) (any, error) {
	topic := ""
	name := xml.Name{Local: "ListSubscriptionsResult"}
	if ctx.Value(formKey{}) == "ListSubscriptionsByTopic" {
		var err error
		if topic, err = required(form, "TopicArn"); err != nil {
			return nil, err
		}
		if _, err := s.store.GetTopic(ctx, topic); err != nil {
			return nil, err
		}
		name.Local = "ListSubscriptionsByTopicResult"
	}
	subs, err := s.store.Subscriptions(ctx, topic)
	if err != nil {
		return nil, err
	}
	type member struct {
		SubscriptionArn string `xml:"SubscriptionArn"`
		Owner           string `xml:"Owner"`
		Protocol        string `xml:"Protocol"`
		Endpoint        string `xml:"Endpoint"`
		TopicArn        string `xml:"TopicArn"`
	}
	out := struct {
		XMLName       xml.Name
		Subscriptions []member `xml:"Subscriptions>member"`
	}{XMLName: name, Subscriptions: []member{}}
	for _, sub := range subs {
		out.Subscriptions = append(out.Subscriptions, member{sub.ARN, s.store.cfg.AccountID, sub.Protocol, sub.Endpoint, sub.TopicARN})
	}
	return &out, nil
}

func (s *Service) getSubscriptionAttributes(ctx context.Context, form url.Values) (any, error) {
	arn, err := required(form, "SubscriptionArn")
	if err != nil {
		return nil, err
	}
	sub, err := s.store.Subscription(ctx, arn)
	if err != nil {
		return nil, err
	}
	attrs := map[string]string{
		"SubscriptionArn": sub.ARN, "TopicArn": sub.TopicARN, "Protocol": sub.Protocol, "Endpoint": sub.Endpoint,
		"Owner": s.store.cfg.AccountID, "ConfirmationWasAuthenticated": "true", "PendingConfirmation": "false",
		"RawMessageDelivery": "false",
	}
	for k, v := range sub.Attributes {
		attrs[k] = v
	}
	return &attributesResult{XMLName: xml.Name{Local: "GetSubscriptionAttributesResult"}, Attributes: sortedKV(attrs)}, nil
}

func (s *Service) setSubscriptionAttributes(ctx context.Context, form url.Values) (any, error) {
	arn, err := required(form, "SubscriptionArn")
	if err != nil {
		return nil, err
	}
	name, err := required(form, "AttributeName")
	if err != nil {
		return nil, err
	}
	return nil, s.store.SetSubscriptionAttribute(ctx, arn, name, form.Get("AttributeValue"))
}

// publishInput reads one publication's members under prefix.
func publishInput(form url.Values, prefix string) (PublishInput, error) {
	in := PublishInput{Message: form.Get(prefix + "Message"), Subject: form.Get(prefix + "Subject")}
	if in.Message == "" {
		return in, errInvalidParameter("Invalid parameter: Empty message")
	}
	if form.Get(prefix+"MessageStructure") == "json" {
		msg, err := selectStructured(in.Message)
		if err != nil {
			return in, err
		}
		in.Message = msg
	}
	attrs, err := messageAttributes(form, prefix+"MessageAttributes")
	if err != nil {
		return in, err
	}
	in.Attributes = attrs
	return in, nil
}

func (s *Service) publish(ctx context.Context, form url.Values) (any, error) {
	arn := form.Get("TopicArn")
	if arn == "" {
		arn = form.Get("TargetArn")
	}
	if arn == "" {
		if form.Get("PhoneNumber") != "" {
			return nil, errInvalidParameter("Invalid parameter: PhoneNumber: aloft does not deliver SMS")
		}
		return nil, errInvalidParameter("Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter")
	}
	in, err := publishInput(form, "")
	if err != nil {
		return nil, err
	}
	id, err := s.store.Publish(ctx, arn, in)
	if err != nil {
		return nil, err
	}
	return &struct {
		XMLName   xml.Name `xml:"PublishResult"`
		MessageID string   `xml:"MessageId"`
	}{MessageID: id}, nil
}

var batchIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

func (s *Service) publishBatch(ctx context.Context, form url.Values) (any, error) {
	arn, err := required(form, "TopicArn")
	if err != nil {
		return nil, err
	}
	if _, err := s.store.GetTopic(ctx, arn); err != nil {
		return nil, err
	}
	var ids []string
	for i := 1; ; i++ {
		id := form.Get(fmt.Sprintf("PublishBatchRequestEntries.member.%d.Id", i))
		if id == "" {
			break
		}
		ids = append(ids, id)
	}
	switch {
	case len(ids) == 0:
		return nil, awsapi.Errorf(400, codeEmptyBatchRequest, "The batch request doesn't contain any entries.")
	case len(ids) > 10:
		return nil, awsapi.Errorf(400, codeTooManyEntries, "The batch request contains more entries than permissible.")
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !batchIDRE.MatchString(id) {
			return nil, awsapi.Errorf(400, codeInvalidBatchEntryID, "The Id of a batch entry in a batch request doesn't abide by the specification.")
		}
		if seen[id] {
			return nil, awsapi.Errorf(400, codeBatchEntryIdsNotDistinct, "Two or more batch entries in the request have the same Id.")
		}
		seen[id] = true
	}
	type ok struct {
		ID        string `xml:"Id"`
		MessageID string `xml:"MessageId"`
	}
	type failed struct {
		ID          string `xml:"Id"`
		Code        string `xml:"Code"`
		Message     string `xml:"Message"`
		SenderFault bool   `xml:"SenderFault"`
	}
	out := struct {
		XMLName    xml.Name `xml:"PublishBatchResult"`
		Successful []ok     `xml:"Successful>member"`
		Failed     []failed `xml:"Failed>member"`
	}{Successful: []ok{}, Failed: []failed{}}
	for i, id := range ids {
		in, err := publishInput(form, fmt.Sprintf("PublishBatchRequestEntries.member.%d.", i+1))
		var msgID string
		if err == nil {
			msgID, err = s.store.Publish(ctx, arn, in)
		}
		if err != nil {
			e := awsapi.AsError(err)
			out.Failed = append(out.Failed, failed{id, e.Code, e.Message, e.Status < 500})
			continue
		}
		out.Successful = append(out.Successful, ok{id, msgID})
	}
	return &out, nil
}
