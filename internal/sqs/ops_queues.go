package sqs

import (
	"encoding/base64"
	"encoding/xml"
	"strconv"
	"strings"
)

type queueURLOutput struct {
	XMLName  xml.Name `json:"-"`
	QueueURL string   `json:"QueueUrl" xml:"QueueUrl"`
}

func (s *Service) createQueue(rq *request) (any, error) {
	var in struct {
		QueueName  string            `json:"QueueName"`
		Attributes map[string]string `json:"Attributes"`
	}
	if e := rq.decode(&in); e != nil {
		return nil, e
	}
	if in.QueueName == "" {
		return nil, errMissing("QueueName")
	}
	q, err := s.store.Create(rq.ctx, in.QueueName, in.Attributes)
	if err != nil {
		return nil, err
	}
	return &queueURLOutput{XMLName: xml.Name{Local: "CreateQueueResult"}, QueueURL: s.store.URL(q.Name)}, nil
}

func (s *Service) getQueueURL(rq *request) (any, error) {
	var in struct {
		QueueName string `json:"QueueName"`
	}
	if e := rq.decode(&in); e != nil {
		return nil, e
	}
	if in.QueueName == "" {
		return nil, errMissing("QueueName")
	}
	q, err := s.store.Get(rq.ctx, in.QueueName)
	if err != nil {
		return nil, err
	}
	return &queueURLOutput{XMLName: xml.Name{Local: "GetQueueUrlResult"}, QueueURL: s.store.URL(q.Name)}, nil
}

type queueURLInput struct {
	QueueURL string `json:"QueueUrl"`
}

func (s *Service) deleteQueue(rq *request) (any, error) {
	var in queueURLInput
	if e := rq.decode(&in); e != nil {
		return nil, e
	}
	q, err := s.queue(rq.ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	return nil, s.store.Delete(rq.ctx, q.Name)
}

func (s *Service) purgeQueue(rq *request) (any, error) {
	var in queueURLInput
	if e := rq.decode(&in); e != nil {
		return nil, e
	}
	q, err := s.queue(rq.ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	return nil, s.store.Purge(rq.ctx, q.Name)
}

func (s *Service) listQueues(rq *request) (any, error) {
	var in struct {
		QueueNamePrefix string  `json:"QueueNamePrefix"`
		MaxResults      flexInt `json:"MaxResults"`
		NextToken       string  `json:"NextToken"`
	}
	if e := rq.decode(&in); e != nil {
		return nil, e
	}
	limit := 1000
	if in.MaxResults.Set {
		if in.MaxResults.V < 1 || in.MaxResults.V > 1000 {
			return nil, errInvalidValue("Value %d for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.", in.MaxResults.V)
		}
		limit = in.MaxResults.V
	}
	after := ""
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil {
			return nil, errInvalidValue("Invalid NextToken value.")
		}
		after = string(b)
	}
	names, err := s.store.List(rq.ctx, in.QueueNamePrefix)
	if err != nil {
		return nil, err
	}
	out := struct {
		XMLName   xml.Name `json:"-" xml:"ListQueuesResult"`
		QueueUrls []string `json:"QueueUrls,omitempty" xml:"QueueUrl"`
		NextToken string   `json:"NextToken,omitempty" xml:"NextToken,omitempty"`
	}{}
	for _, n := range names {
		if n <= after {
			continue
		}
		if len(out.QueueUrls) == limit {
			if in.MaxResults.Set {
				out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(NameFromURL(out.QueueUrls[len(out.QueueUrls)-1])))
			}
			break
		}
		out.QueueUrls = append(out.QueueUrls, s.store.URL(n))
	}
	return &out, nil
}

// readOnly are the attributes GetQueueAttributes computes.
var readOnly = map[string]bool{
	"ApproximateNumberOfMessages": true, "ApproximateNumberOfMessagesNotVisible": true, "ApproximateNumberOfMessagesDelayed": true,
	"CreatedTimestamp": true, "LastModifiedTimestamp": true, "QueueArn": true,
}

func (s *Service) getQueueAttributes(rq *request) (any, error) {
	var in struct {
		QueueURL       string   `json:"QueueUrl"`
		AttributeNames []string `json:"AttributeNames"`
	}
	if e := rq.decode(&in); e != nil {
		return nil, e
	}
	q, err := s.queue(rq.ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	all := map[string]string{}
	for k, v := range q.Attributes {
		all[k] = v
	}
	c, err := s.store.Count(rq.ctx, q.Name)
	if err != nil {
		return nil, err
	}
	all["ApproximateNumberOfMessages"] = strconv.FormatInt(c.Visible, 10)
	all["ApproximateNumberOfMessagesNotVisible"] = strconv.FormatInt(c.InFlight, 10)
	all["ApproximateNumberOfMessagesDelayed"] = strconv.FormatInt(c.Delayed, 10)
	all["CreatedTimestamp"] = strconv.FormatInt(q.Created, 10)
	all["LastModifiedTimestamp"] = strconv.FormatInt(q.Modified, 10)
	all["QueueArn"] = s.store.ARN(q.Name)
	out := struct {
		XMLName    xml.Name `json:"-" xml:"GetQueueAttributesResult"`
		Attributes attrMap  `json:"Attributes,omitempty" xml:"Attribute"`
	}{Attributes: attrMap{}}
	for _, name := range in.AttributeNames {
		if name == "All" {
			out.Attributes = all
			break
		}
		if !readOnly[name] && settable[name] == [2]int{} && name != "DelaySeconds" {
			return nil, errorf(codeInvalidAttributeName, "Unknown Attribute %s.", name)
		}
		if v, ok := all[name]; ok {
			out.Attributes[name] = v
		}
	}
	return &out, nil
}

func (s *Service) setQueueAttributes(rq *request) (any, error) {
	var in struct {
		QueueURL   string            `json:"QueueUrl"`
		Attributes map[string]string `json:"Attributes"`
	}
	if e := rq.decode(&in); e != nil {
		return nil, e
	}
	q, err := s.queue(rq.ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	for k := range in.Attributes {
		if k == "FifoQueue" || strings.HasSuffix(k, "Timestamp") {
			return nil, errorf(codeInvalidAttributeName, "Unknown Attribute %s.", k)
		}
	}
	return nil, s.store.SetAttributes(rq.ctx, q, in.Attributes)
}
