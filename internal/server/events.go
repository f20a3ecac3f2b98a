package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/eventbus"
	"github.com/aloft-dev/aloft/internal/lambdaapi"
	"github.com/aloft-dev/aloft/internal/sns"
	"github.com/aloft-dev/aloft/internal/sqs"
	"github.com/aloft-dev/aloft/internal/template"
)

// eventing is the node's event machinery: asynchronous invocations
// (eventbus), queues (sqs), topics (sns) and the pollers of the deployed
// event source mappings.
type eventing struct {
	bus     *eventbus.Bus
	queues  *sqs.Store
	api     *sqs.Service
	topics  *sns.Store
	snsAPI  *sns.Service
	pollers *sqs.Pollers // nil before the first Deploy
	// fanout starts SNS delivery at the first Deploy: before it, the
	// subscribed functions are not deployed and the endpoint URL is not
	// known, and publications stored before a restart must wait for both.
	fanout sync.Once
}

// startEvents opens the streams and buckets of the event machinery.
func (s *Server) startEvents(ctx context.Context) error {
	ev := &eventing{}
	var err error
	ev.queues, err = sqs.NewStore(ctx, sqs.Config{
		JetStream: s.bb.JetStream(), Conn: s.bb.Conn(), Region: s.cfg.Region, AccountID: s.cfg.AccountID,
		Endpoint: s.EndpointURL, Replicas: s.cfg.Replicas, Logs: s.logs.prefixed("events"),
	})
	if err != nil {
		return err
	}
	ev.api = sqs.NewService(ev.queues)
	ev.bus, err = eventbus.New(ctx, eventbus.Config{
		JetStream:    s.bb.JetStream(),
		Replicas:     s.cfg.Replicas,
		RetryBackoff: s.cfg.RetryBackoff,
		Destinations: destinations{s: s, ev: ev},
		Logs:         s.logs.prefixed("events"),
	})
	if err != nil {
		return err
	}
	ev.topics, err = sns.NewStore(ctx, sns.Config{
		JetStream: s.bb.JetStream(), Deliver: destinations{s: s, ev: ev}, Region: s.cfg.Region, AccountID: s.cfg.AccountID, Replicas: s.cfg.Replicas,
		Endpoint: s.EndpointURL, Logs: s.logs.prefixed("events"),
	})
	if err != nil {
		return err
	}
	ev.snsAPI = sns.NewService(ev.topics)
	s.ev = ev
	return nil
}

// eventRoutes are the AWS services of the event machinery.
func (s *Server) eventRoutes() []awsapi.Route {
	return []awsapi.Route{
		{SigningName: "sqs", Service: s.ev.api, Match: sqs.IsSQSRequest},
		{SigningName: "sns", Service: s.ev.snsAPI},
		{SigningName: "aloft", Service: eventsAPI{s}},
	}
}

// asyncInvoker is what the Lambda API enqueues Event invocations with.
func (s *Server) asyncInvoker() lambdaapi.AsyncInvoker { return s.ev.bus }

// shutdownEvents stops polling and delivering; what is not acknowledged
// stays in the streams.
func (s *Server) shutdownEvents(ctx context.Context) error {
	if s.ev == nil {
		return nil
	}
	var errs []error
	if s.ev.pollers != nil {
		errs = append(errs, s.ev.pollers.Stop(ctx))
	}
	errs = append(errs, s.ev.topics.Shutdown(ctx), s.ev.bus.Shutdown(ctx))
	return errors.Join(errs...)
}

// deployEvents creates the stack's queues and topics, then delivers the
// functions' asynchronous events and starts the queue pollers. It adds to
// dep's Events what runs and to its Warnings what cannot.
func (s *Server) deployEvents(ctx context.Context, stack *template.Stack, fns []template.Function, set map[string]*lambdaapi.Function, dep *Deployment) error {
	warnings, err := s.deployEventSources(ctx, stack, fns, set, dep)
	dep.Warnings = append(dep.Warnings, warnings...)
	return err
}

func (s *Server) deployEventSources(ctx context.Context, stack *template.Stack, fns []template.Function, set map[string]*lambdaapi.Function, dep *Deployment) ([]string, error) {
	var warnings []string
	ids := make([]string, 0, len(stack.Resources))
	for id := range stack.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := stack.Resources[id]
		if r.Type != "AWS::SQS::Queue" {
			continue
		}
		attrs, err := queueAttributes(r)
		if err != nil {
			return nil, fmt.Errorf("queue %s: %w", id, err)
		}
		if _, err := s.ev.queues.Ensure(ctx, r.Attrs["QueueName"], attrs); err != nil {
			return nil, fmt.Errorf("queue %s: %w", id, err)
		}
		inert := map[string]string{}
		for _, k := range []string{"KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled", "RedriveAllowPolicy"} {
			if v, ok := r.Properties[k]; ok {
				inert[k] = fmt.Sprint(v)
			}
		}
		inert["FifoThroughputLimit"] = attrs["FifoThroughputLimit"]
		for _, w := range sqs.InertAttributes(inert) {
			warnings = append(warnings, fmt.Sprintf("queue %s: %s", id, w))
		}
		dep.Events = append(dep.Events, fmt.Sprintf("queue %s: %s", r.Attrs["QueueName"], s.ev.queues.URL(r.Attrs["QueueName"])))
	}

	topicWarnings, err := s.deployTopics(ctx, stack, ids, dep)
	if err != nil {
		return nil, err
	}
	warnings = append(warnings, topicWarnings...)
	s.ev.fanout.Do(func() { s.ev.topics.Start(ctx, 0) })

	var async []eventbus.Function
	for _, fn := range fns {
		f := set[fn.Name]
		if fn.ReservedConcurrency != nil && *fn.ReservedConcurrency == 0 {
			continue // throttled: its events wait in the stream
		}
		bf := eventbus.Function{Name: fn.Name, ARN: fn.ARN, Invoker: f.Invoker, Timeout: time.Duration(fn.Timeout) * time.Second,
			Concurrency: s.cfg.DefaultConcurrency}
		if fn.ReservedConcurrency != nil {
			bf.Concurrency = *fn.ReservedConcurrency
		}
		if dlc, ok := stack.Resources[fn.LogicalID].Properties["DeadLetterConfig"].(map[string]any); ok {
			bf.DeadLetter, _ = dlc["TargetArn"].(string)
		}
		if eic := eventInvokeConfig(stack, fn); eic != nil {
			if n, ok := intProp(eic.Properties["MaximumRetryAttempts"]); ok {
				bf.MaxRetryAttempts = &n
			}
			if n, ok := intProp(eic.Properties["MaximumEventAgeInSeconds"]); ok {
				bf.MaxEventAge = time.Duration(n) * time.Second
			}
			dc, _ := eic.Properties["DestinationConfig"].(map[string]any)
			bf.OnSuccess = destination(dc, "OnSuccess")
			bf.OnFailure = destination(dc, "OnFailure")
		}
		async = append(async, bf)
	}
	if err := s.ev.bus.Serve(ctx, async); err != nil {
		return nil, err
	}

	var mappings []sqs.Mapping
	for _, id := range ids {
		r := stack.Resources[id]
		if r.Type != "AWS::Lambda::EventSourceMapping" {
			continue
		}
		src, _ := r.Properties["EventSourceArn"].(string)
		if arnService(src) != "sqs" {
			continue
		}
		if v, ok := r.Properties["Enabled"]; ok {
			en, ok := boolProp(v)
			if !ok {
				warnings = append(warnings, fmt.Sprintf("event source mapping %s: Enabled is %v, not true or false: the mapping is not started", id, v))
				continue
			}
			if !en {
				dep.Events = append(dep.Events, fmt.Sprintf("SQS %s → function %s (disabled)", sqs.NameFromURL(src), r.Properties["FunctionName"]))
				continue
			}
		}
		fnName, _ := r.Properties["FunctionName"].(string)
		if i := strings.LastIndex(fnName, ":function:"); i >= 0 {
			fnName = fnName[i+len(":function:"):]
		}
		f, ok := set[fnName]
		if !ok {
			warnings = append(warnings, fmt.Sprintf("event source mapping %s: function %s is not in the stack", id, fnName))
			continue
		}
		m := sqs.Mapping{ID: r.PhysicalID, Queue: sqs.NameFromURL(src), Function: fnName, Invoker: f.Invoker}
		if n, ok := intProp(r.Properties["BatchSize"]); ok {
			m.BatchSize = n
		}
		if n, ok := intProp(r.Properties["MaximumBatchingWindowInSeconds"]); ok {
			m.BatchWindow = time.Duration(n) * time.Second
		}
		if types, ok := r.Properties["FunctionResponseTypes"].([]any); ok {
			for _, t := range types {
				if t == "ReportBatchItemFailures" {
					m.ReportBatchItemFailures = true
				}
			}
		}
		if sc, ok := r.Properties["ScalingConfig"].(map[string]any); ok {
			if n, ok := intProp(sc["MaximumConcurrency"]); ok {
				m.MaxConcurrency = n
			}
		}
		mappings = append(mappings, m)
		dep.Events = append(dep.Events, fmt.Sprintf("SQS %s → function %s", m.Queue, fnName))
	}
	old := s.ev.pollers
	if old != nil {
		if err := old.Stop(ctx); err != nil {
			warnings = append(warnings, err.Error())
		}
	}
	s.ev.pollers = s.ev.queues.StartPollers(ctx, mappings, s.logs.prefixed("events"))
	return warnings, nil
}

// queueAttributes turns an AWS::SQS::Queue's properties into SQS attributes.
func queueAttributes(r *template.Resource) (map[string]string, error) {
	attrs := map[string]string{}
	for _, k := range []string{"DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout"} {
		if v, ok := r.Properties[k]; ok {
			n, ok := intProp(v)
			if !ok {
				return nil, fmt.Errorf("%s must be a number", k)
			}
			attrs[k] = strconv.Itoa(n)
		}
	}
	for _, k := range []string{"DeduplicationScope", "FifoThroughputLimit"} {
		if v, ok := r.Properties[k].(string); ok {
			attrs[k] = v
		}
	}
	for _, k := range []string{"FifoQueue", "ContentBasedDeduplication"} {
		if b, ok := r.Properties[k].(bool); ok && b {
			attrs[k] = "true"
		} else if s, ok := r.Properties[k].(string); ok && s == "true" {
			attrs[k] = "true"
		}
	}
	if rp, ok := r.Properties["RedrivePolicy"]; ok {
		switch v := rp.(type) {
		case string:
			attrs["RedrivePolicy"] = v
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("RedrivePolicy: %w", err)
			}
			attrs["RedrivePolicy"] = string(b)
		}
	}
	return attrs, nil
}

// eventInvokeConfig finds the function's AWS::Lambda::EventInvokeConfig.
func eventInvokeConfig(stack *template.Stack, fn template.Function) *template.Resource {
	for _, r := range stack.Resources {
		if r.Type != "AWS::Lambda::EventInvokeConfig" {
			continue
		}
		if name, _ := r.Properties["FunctionName"].(string); name == fn.Name || name == fn.ARN {
			return r
		}
	}
	return nil
}

func destination(dc map[string]any, which string) string {
	d, _ := dc[which].(map[string]any)
	arn, _ := d["Destination"].(string)
	return arn
}

func arnService(arn string) string {
	parts := strings.SplitN(arn, ":", 4)
	if len(parts) < 4 || parts[0] != "arn" {
		if strings.HasPrefix(arn, "http") {
			return "sqs" // a queue URL
		}
		return ""
	}
	return parts[2]
}

// functionName is the function name in a Lambda function ARN (without a
// qualifier).
func functionName(arn string) (string, bool) {
	i := strings.LastIndex(arn, ":function:")
	if i < 0 {
		return "", false
	}
	name, _, _ := strings.Cut(arn[i+len(":function:"):], ":")
	return name, name != ""
}

// boolProp reads a template boolean: CloudFormation takes true and false as
// booleans or as strings (any case).
func boolProp(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		switch strings.ToLower(b) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

func intProp(v any) (int, bool) {
	switch n := v.(type) {
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	case int:
		return n, true
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

// destinations delivers the eventbus's destination records and dead letters
// to queues and functions of this node's backbone.
type destinations struct {
	s  *Server
	ev *eventing
}

// Send implements eventbus.Destinations: SQS queues, SNS topics and
// (asynchronously invoked) Lambda functions of this node's backbone.
func (d destinations) Send(ctx context.Context, arn string, m eventbus.Message) error {
	switch arnService(arn) {
	case "sqs":
		q, err := d.ev.queues.Get(ctx, sqs.NameFromURL(arn))
		if err != nil {
			return err
		}
		in := sqs.SendInput{Body: string(m.Body), DedupeID: m.DedupeID, Sender: "aloft"}
		if len(m.Attributes) > 0 {
			in.Attributes = map[string]sqs.MessageAttribute{}
			for k, v := range m.Attributes {
				typ := "String"
				if _, err := strconv.Atoi(v); err == nil && k == "ErrorCode" {
					typ = "Number"
				}
				in.Attributes[k] = sqs.MessageAttribute{DataType: typ, StringValue: v}
			}
		}
		if q.Attributes["FifoQueue"] == "true" {
			in.GroupID, in.DeduplicationID = "aloft", m.DedupeID
		}
		_, err = d.ev.queues.Send(ctx, q, in)
		return err
	case "lambda":
		name, _ := functionName(arn)
		if _, ok := d.s.functions.Function(name); !ok {
			return fmt.Errorf("destination function %s is not deployed", name)
		}
		_, err := d.ev.bus.EnqueueOnce(ctx, name, m.Body, m.DedupeID)
		return err
	case "sns":
		in := sns.PublishInput{Message: string(m.Body), DedupeID: m.DedupeID}
		if len(m.Attributes) > 0 {
			in.Attributes = map[string]sns.Attribute{}
			for k, v := range m.Attributes {
				typ := "String"
				if k == "ErrorCode" {
					typ = "Number"
				}
				in.Attributes[k] = sns.Attribute{Type: typ, Value: v}
			}
		}
		_, err := d.ev.topics.Publish(ctx, arn, in)
		return err
	}
	return fmt.Errorf("destination %s: only SQS queues, SNS topics and Lambda functions are supported", arn)
}

// ToQueue implements sns.Deliverer.
func (d destinations) ToQueue(ctx context.Context, queueARN, body string, attrs map[string]sns.Attribute, dedupeID string) error {
	q, err := d.ev.queues.Get(ctx, sqs.NameFromURL(queueARN))
	var ae *awsapi.Error
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		return fmt.Errorf("queue %s: %w", queueARN, sns.ErrEndpointGone)
	}
	if err != nil {
		return err
	}
	in := sqs.SendInput{Body: body, DedupeID: dedupeID, Sender: "sns.amazonaws.com"}
	if len(attrs) > 0 {
		in.Attributes = map[string]sqs.MessageAttribute{}
		for k, a := range attrs {
			ma := sqs.MessageAttribute{DataType: a.Type, StringValue: a.Value}
			if strings.HasPrefix(a.Type, "Binary") {
				b, err := base64.StdEncoding.DecodeString(a.Value)
				if err != nil {
					return fmt.Errorf("attribute %s: %w", k, err)
				}
				ma = sqs.MessageAttribute{DataType: a.Type, BinaryValue: b}
			} else if a.Type == "String.Array" {
				ma.DataType = "String"
			}
			in.Attributes[k] = ma
		}
	}
	if q.Attributes["FifoQueue"] == "true" {
		in.GroupID, in.DeduplicationID = "sns", dedupeID
	}
	_, err = d.ev.queues.Send(ctx, q, in)
	return err
}

// ToFunction implements sns.Deliverer: SNS invokes functions asynchronously.
func (d destinations) ToFunction(ctx context.Context, functionARN string, payload []byte, dedupeID string) error {
	name, ok := functionName(functionARN)
	if !ok {
		return fmt.Errorf("%s: %w", functionARN, sns.ErrEndpointGone)
	}
	if _, ok := d.s.functions.Function(name); !ok {
		return fmt.Errorf("function %s: %w", name, sns.ErrEndpointGone)
	}
	return d.Send(ctx, functionARN, eventbus.Message{Body: payload, DedupeID: dedupeID})
}

// deployTopics creates the stack's topics and subscriptions.
func (s *Server) deployTopics(ctx context.Context, stack *template.Stack, ids []string, dep *Deployment) ([]string, error) {
	var warnings []string
	declared := map[string]bool{}
	for _, id := range ids {
		r := stack.Resources[id]
		if r.Type != "AWS::SNS::Topic" {
			continue
		}
		if _, err := s.ev.topics.CreateTopic(ctx, r.Attrs["TopicName"], nil); err != nil {
			return nil, fmt.Errorf("topic %s: %w", id, err)
		}
		dep.Events = append(dep.Events, fmt.Sprintf("topic %s: %s", r.Attrs["TopicName"], r.PhysicalID))
		subs, _ := r.Properties["Subscription"].([]any)
		for _, sub := range subs {
			m, _ := sub.(map[string]any)
			protocol, _ := m["Protocol"].(string)
			endpoint, _ := m["Endpoint"].(string)
			sub, err := s.ev.topics.Subscribe(ctx, r.PhysicalID, protocol, endpoint, nil, stack.Name)
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("topic %s: subscription %s %s: %v", id, protocol, endpoint, err))
				continue
			}
			declared[sub.ARN] = true
		}
	}
	for _, id := range ids {
		r := stack.Resources[id]
		if r.Type != "AWS::SNS::Subscription" {
			continue
		}
		topic, _ := r.Properties["TopicArn"].(string)
		protocol, _ := r.Properties["Protocol"].(string)
		endpoint, _ := r.Properties["Endpoint"].(string)
		attrs := map[string]string{}
		if raw, ok := r.Properties["RawMessageDelivery"]; ok {
			attrs["RawMessageDelivery"] = strings.ToLower(fmt.Sprint(raw))
		}
		if fp, ok := r.Properties["FilterPolicy"]; ok {
			if str, ok := fp.(string); ok {
				attrs["FilterPolicy"] = str
			} else {
				b, err := json.Marshal(fp)
				if err != nil {
					return nil, fmt.Errorf("subscription %s: FilterPolicy: %w", id, err)
				}
				attrs["FilterPolicy"] = string(b)
			}
		}
		if scope, ok := r.Properties["FilterPolicyScope"].(string); ok {
			attrs["FilterPolicyScope"] = scope
		}
		sub, err := s.ev.topics.Subscribe(ctx, topic, protocol, endpoint, attrs, stack.Name)
		if err != nil {
			return nil, fmt.Errorf("subscription %s: %w", id, err)
		}
		declared[sub.ARN] = true
		dep.Events = append(dep.Events, fmt.Sprintf("SNS %s → %s %s", topic[strings.LastIndex(topic, ":")+1:], protocol, endpoint[strings.LastIndex(endpoint, ":")+1:]))
	}
	// Subscriptions this stack declared before and no longer does.
	all, err := s.ev.topics.Subscriptions(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, sub := range all {
		if sub.Owner == stack.Name && !declared[sub.ARN] {
			if err := s.ev.topics.Unsubscribe(ctx, sub.ARN); err != nil {
				return nil, err
			}
		}
	}
	return warnings, nil
}

// EventStats is this node's event counters since it started.
type EventStats struct {
	Functions []eventbus.FunctionStats
	Mappings  []sqs.PollerStats
	Queues    []sqs.QueueStats
	Topics    []sns.TopicStats
}

// EventStats returns this node's asynchronous-invocation counters per
// function, its SQS pollers' counters per event source mapping, and its
// queue and topic counters.
func (s *Server) EventStats() EventStats {
	st := EventStats{Functions: s.ev.bus.Stats(), Queues: s.ev.queues.Stats(), Topics: s.ev.topics.Stats()}
	if s.ev.pollers != nil {
		st.Mappings = s.ev.pollers.Stats()
	}
	return st
}
