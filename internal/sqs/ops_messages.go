package sqs

import (
	"encoding/xml"
	"regexp"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/awsapi"
)

type sendInput struct {
	QueueURL               string                      `json:"QueueUrl"`
	MessageBody            string                      `json:"MessageBody"`
	DelaySeconds           flexInt                     `json:"DelaySeconds"`
	MessageAttributes      map[string]MessageAttribute `json:"MessageAttributes"`
	MessageGroupID         string                      `json:"MessageGroupId"`
	MessageDeduplicationID string                      `json:"MessageDeduplicationId"`
}

func (s *Service) toSendInput(in sendInput, sender string) SendInput {
	out := SendInput{Body: in.MessageBody, Attributes: in.MessageAttributes, GroupID: in.MessageGroupID, DeduplicationID: in.MessageDeduplicationID, Sender: sender}
	if in.DelaySeconds.Set {
		d := in.DelaySeconds.V
		out.DelaySeconds = &d
	}
	return out
}

func (s *Service) sendMessage(rq *request) (any, error) {
	var in sendInput
	if e := rq.decode(&in); e != nil {
		return nil, e
	}
	q, err := s.queue(rq.ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	sent, err := s.store.Send(rq.ctx, q, s.toSendInput(in, rq.sender))
	if err != nil {
		return nil, err
	}
	return &struct {
		XMLName                xml.Name `json:"-" xml:"SendMessageResult"`
		MessageID              string   `json:"MessageId" xml:"MessageId"`
		MD5OfMessageBody       string   `json:"MD5OfMessageBody" xml:"MD5OfMessageBody"`
		MD5OfMessageAttributes string   `json:"MD5OfMessageAttributes,omitempty" xml:"MD5OfMessageAttributes,omitempty"`
		SequenceNumber         string   `json:"SequenceNumber,omitempty" xml:"SequenceNumber,omitempty"`
	}{MessageID: sent.MessageID, MD5OfMessageBody: sent.MD5OfBody, MD5OfMessageAttributes: sent.MD5OfAttributes, SequenceNumber: sent.SequenceNumber}, nil
}

type batchError struct {
	ID          string `json:"Id" xml:"Id"`
	SenderFault bool   `json:"SenderFault" xml:"SenderFault"`
	Code        string `json:"Code" xml:"Code"`
	Message     string `json:"Message,omitempty" xml:"Message,omitempty"`
}

func toBatchError(id string, err error) batchError {
	e := awsapi.AsError(err)
	_, code, status := names(e)
	return batchError{ID: id, SenderFault: status < 500, Code: code, Message: e.Message}
}

var batchIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// checkBatch validates a batch's entry ids.
func checkBatch(ids []string) *awsapi.Error {
	if len(ids) == 0 {
		return errorf(codeEmptyBatchRequest, "There should be at least one SendMessageBatchRequestEntry in the request.")
	}
	if len(ids) > 10 {
		return errorf(codeTooManyEntries, "Maximum number of entries per request are 10. You have sent %d.", len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !batchIDRE.MatchString(id) {
			return errorf(codeInvalidBatchEntryID, "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")
		}
		if seen[id] {
			return errorf(codeBatchEntryIdsNotDistinct, "Id %s repeated.", id)
		}
		seen[id] = true
	}
	return nil
}

func (s *Service) sendMessageBatch(rq *request) (any, error) {
	var in struct {
		QueueURL string `json:"QueueUrl"`
		Entries  []struct {
			ID string `json:"Id"`
			sendInput
		} `json:"Entries"`
	}
	if e := rq.decode(&in); e != nil {
		return nil, e
	}
	q, err := s.queue(rq.ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.ID
	}
	if e := checkBatch(ids); e != nil {
		return nil, e
	}
	type entry struct {
		ID                     string `json:"Id" xml:"Id"`
		MessageID              string `json:"MessageId" xml:"MessageId"`
		MD5OfMessageBody       string `json:"MD5OfMessageBody" xml:"MD5OfMessageBody"`
		MD5OfMessageAttributes string `json:"MD5OfMessageAttributes,omitempty" xml:"MD5OfMessageAttributes,omitempty"`
		SequenceNumber         string `json:"SequenceNumber,omitempty" xml:"SequenceNumber,omitempty"`
	}
	out := struct {
		XMLName    xml.Name     `json:"-" xml:"SendMessageBatchResult"`
		Successful []entry      `json:"Successful" xml:"SendMessageBatchResultEntry"`
		Failed     []batchError `json:"Failed" xml:"BatchResultErrorEntry"`
	}{Successful: []entry{}, Failed: []batchError{}}
	for _, e := range in.Entries {
		sent, err := s.store.Send(rq.ctx, q, s.toSendInput(e.sendInput, rq.sender))
		if err != nil {
			out.Failed = append(out.Failed, toBatchError(e.ID, err))
			continue
		}
		out.Successful = append(out.Successful, entry{ID: e.ID, MessageID: sent.MessageID, MD5OfMessageBody: sent.MD5OfBody,
			MD5OfMessageAttributes: sent.MD5OfAttributes, SequenceNumber: sent.SequenceNumber})
	}
	return &out, nil
}

type receivedMessage struct {
	MessageID              string     `json:"MessageId" xml:"MessageId"`
	ReceiptHandle          string     `json:"ReceiptHandle" xml:"ReceiptHandle"`
	MD5OfBody              string     `json:"MD5OfBody" xml:"MD5OfBody"`
	Body                   string     `json:"Body" xml:"Body"`
	Attributes             attrMap    `json:"Attributes,omitempty" xml:"Attribute"`
	MD5OfMessageAttributes string     `json:"MD5OfMessageAttributes,omitempty" xml:"MD5OfMessageAttributes,omitempty"`
	MessageAttributes      msgAttrMap `json:"MessageAttributes,omitempty" xml:"MessageAttribute"`
}

func (s *Service) receiveMessage(rq *request) (any, error) {
	var in struct {
		QueueURL                    string   `json:"QueueUrl"`
		AttributeNames              []string `json:"AttributeNames"`
		MessageSystemAttributeNames []string `json:"MessageSystemAttributeNames"`
		MessageAttributeNames       []string `json:"MessageAttributeNames"`
		MaxNumberOfMessages         flexInt  `json:"MaxNumberOfMessages"`
		VisibilityTimeout           flexInt  `json:"VisibilityTimeout"`
		WaitTimeSeconds             flexInt  `json:"WaitTimeSeconds"`
	}
	if e := rq.decode(&in); e != nil {
		return nil, e
	}
	q, err := s.queue(rq.ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	ri := ReceiveInput{Max: 1}
	if in.MaxNumberOfMessages.Set {
		if in.MaxNumberOfMessages.V < 1 || in.MaxNumberOfMessages.V > 10 {
			return nil, errInvalidValue("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", in.MaxNumberOfMessages.V)
		}
		ri.Max = in.MaxNumberOfMessages.V
	}
	if in.WaitTimeSeconds.Set {
		if in.WaitTimeSeconds.V < 0 || in.WaitTimeSeconds.V > 20 {
			return nil, errInvalidValue("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", in.WaitTimeSeconds.V)
		}
		d := time.Duration(in.WaitTimeSeconds.V) * time.Second
		ri.Wait = &d
	}
	if in.VisibilityTimeout.Set {
		if in.VisibilityTimeout.V < 0 || in.VisibilityTimeout.V > 43200 {
			return nil, errInvalidValue("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", in.VisibilityTimeout.V)
		}
		v := in.VisibilityTimeout.V
		ri.Visibility = &v
	}
	msgs, err := s.store.Receive(rq.ctx, q, ri)
	if err != nil {
		return nil, err
	}
	out := struct {
		XMLName  xml.Name          `json:"-" xml:"ReceiveMessageResult"`
		Messages []receivedMessage `json:"Messages,omitempty" xml:"Message"`
	}{}
	sysNames := append(in.AttributeNames, in.MessageSystemAttributeNames...)
	for _, m := range msgs {
		rm := receivedMessage{MessageID: m.MessageID, ReceiptHandle: m.ReceiptHandle, MD5OfBody: m.MD5OfBody, Body: m.Body}
		if attrs := pickSystem(m.Attributes, sysNames); len(attrs) > 0 {
			rm.Attributes = attrs
		}
		if ma := pickMessageAttributes(m.MessageAttributes, in.MessageAttributeNames); len(ma) > 0 {
			rm.MessageAttributes = ma
			rm.MD5OfMessageAttributes = attributesMD5(ma)
		}
		out.Messages = append(out.Messages, rm)
	}
	return &out, nil
}

func pickSystem(all map[string]string, names []string) attrMap {
	out := attrMap{}
	for _, n := range names {
		if n == "All" {
			return all
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return out
}

func pickMessageAttributes(all map[string]MessageAttribute, names []string) msgAttrMap {
	out := msgAttrMap{}
	for _, n := range names {
		if n == "All" || n == ".*" {
			return all
		}
		if prefix, ok := strings.CutSuffix(n, ".*"); ok {
			for k, v := range all {
				if strings.HasPrefix(k, prefix+".") {
					out[k] = v
				}
			}
			continue
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return out
}

func (s *Service) deleteMessage(rq *request) (any, error) {
	var in struct {
		QueueURL      string `json:"QueueUrl"`
		ReceiptHandle string `json:"ReceiptHandle"`
	}
	if e := rq.decode(&in); e != nil {
		return nil, e
	}
	q, err := s.queue(rq.ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	if in.ReceiptHandle == "" {
		return nil, errMissing("ReceiptHandle")
	}
	return nil, s.store.DeleteMessage(rq.ctx, q, in.ReceiptHandle)
}

type idOnly struct {
	ID string `json:"Id" xml:"Id"`
}

func (s *Service) deleteMessageBatch(rq *request) (any, error) {
	var in struct {
		QueueURL string `json:"QueueUrl"`
		Entries  []struct {
			ID            string `json:"Id"`
			ReceiptHandle string `json:"ReceiptHandle"`
		} `json:"Entries"`
	}
	if e := rq.decode(&in); e != nil {
		return nil, e
	}
	q, err := s.queue(rq.ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.ID
	}
	if e := checkBatch(ids); e != nil {
		return nil, e
	}
	out := struct {
		XMLName    xml.Name     `json:"-" xml:"DeleteMessageBatchResult"`
		Successful []idOnly     `json:"Successful" xml:"DeleteMessageBatchResultEntry"`
		Failed     []batchError `json:"Failed" xml:"BatchResultErrorEntry"`
	}{Successful: []idOnly{}, Failed: []batchError{}}
	for _, e := range in.Entries {
		if err := s.store.DeleteMessage(rq.ctx, q, e.ReceiptHandle); err != nil {
			out.Failed = append(out.Failed, toBatchError(e.ID, err))
			continue
		}
		out.Successful = append(out.Successful, idOnly{e.ID})
	}
	return &out, nil
}

func (s *Service) changeMessageVisibility(rq *request) (any, error) {
	var in struct {
		QueueURL          string  `json:"QueueUrl"`
		ReceiptHandle     string  `json:"ReceiptHandle"`
		VisibilityTimeout flexInt `json:"VisibilityTimeout"`
	}
	if e := rq.decode(&in); e != nil {
		return nil, e
	}
	q, err := s.queue(rq.ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	if in.ReceiptHandle == "" {
		return nil, errMissing("ReceiptHandle")
	}
	if !in.VisibilityTimeout.Set {
		return nil, errMissing("VisibilityTimeout")
	}
	return nil, s.store.ChangeVisibility(rq.ctx, q, in.ReceiptHandle, in.VisibilityTimeout.V)
}

func (s *Service) changeMessageVisibilityBatch(rq *request) (any, error) {
	var in struct {
		QueueURL string `json:"QueueUrl"`
		Entries  []struct {
			ID                string  `json:"Id"`
			ReceiptHandle     string  `json:"ReceiptHandle"`
			VisibilityTimeout flexInt `json:"VisibilityTimeout"`
		} `json:"Entries"`
	}
	if e := rq.decode(&in); e != nil {
		return nil, e
	}
	q, err := s.queue(rq.ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.ID
	}
	if e := checkBatch(ids); e != nil {
		return nil, e
	}
	out := struct {
		XMLName    xml.Name     `json:"-" xml:"ChangeMessageVisibilityBatchResult"`
		Successful []idOnly     `json:"Successful" xml:"ChangeMessageVisibilityBatchResultEntry"`
		Failed     []batchError `json:"Failed" xml:"BatchResultErrorEntry"`
	}{Successful: []idOnly{}, Failed: []batchError{}}
	for _, e := range in.Entries {
		if err := s.store.ChangeVisibility(rq.ctx, q, e.ReceiptHandle, e.VisibilityTimeout.V); err != nil {
			out.Failed = append(out.Failed, toBatchError(e.ID, err))
			continue
		}
		out.Successful = append(out.Successful, idOnly{e.ID})
	}
	return &out, nil
}
