package sns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/nats-io/nats.go/jetstream"
)

// Start starts delivering publications with workers goroutines (0 means 4).
func (s *Store) Start(ctx context.Context, workers int) {
	if workers <= 0 {
		workers = 4
	}
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for range workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.work(ctx)
		}()
	}
}

// Shutdown stops delivering and waits for in-flight fan-outs until ctx
// ends; unacknowledged publications stay in the stream.
func (s *Store) Shutdown(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sns: shutdown: %w", ctx.Err())
	}
}

func (s *Store) work(ctx context.Context) {
	cons, err := s.stream.Consumer(ctx, fanout)
	for err != nil && ctx.Err() == nil {
		fmt.Fprintf(s.cfg.Logs, "sns: fan-out consumer: %v\n", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		cons, err = s.stream.Consumer(ctx, fanout)
	}
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		batch, err := cons.Fetch(1, jetstream.FetchContext(fctx))
		if err == nil {
			for msg := range batch.Messages() {
				s.deliver(ctx, msg)
			}
		}
		cancel()
	}
}

// notification is a publication as read back from the stream.
type notification struct {
	id, topicARN, subject, message, timestamp string
	attrs                                     map[string]Attribute
	seq                                       uint64
}

func (s *Store) deliver(ctx context.Context, msg jetstream.Msg) {
	logf := func(format string, args ...any) { fmt.Fprintf(s.cfg.Logs, "sns: "+format+"\n", args...) }
	md, err := msg.Metadata()
	if err != nil {
		logf("reading a publication: %v; it will be delivered again", err)
		return
	}
	h := msg.Headers()
	n := notification{id: h.Get(hdrMessageID), subject: h.Get(hdrSubject), message: string(msg.Data()), timestamp: h.Get(hdrTimestamp), seq: md.Sequence.Stream}
	topic := strings.ReplaceAll(msg.Subject()[len("aloft.sns."):], "=", ".")
	stats := s.counters(topic)
	if a := h.Get(hdrAttrs); a != "" {
		if err := json.Unmarshal([]byte(a), &n.attrs); err != nil {
			stats.dropped.Add(1)
			logf("dropping publication %s on %s: its attributes cannot be read (%v)", n.id, topic, err)
			if err := msg.Term(); err != nil {
				logf("terminate: %v", err)
			}
			return
		}
	}
	subs, err := s.Subscriptions(ctx, s.TopicARN(topic))
	if err != nil {
		logf("%v; the publication will be delivered again", err)
		s.nak(msg, logf)
		return
	}
	n.topicARN = s.TopicARN(topic)
	for _, sub := range subs {
		fp, err := ParseFilterPolicy(sub.Attributes["FilterPolicy"], sub.Attributes["FilterPolicyScope"])
		if err != nil {
			// Subscribe and SetSubscriptionAttributes check policies, so
			// only a bucket edited behind aloft's back gets here.
			stats.dropped.Add(1)
			logf("dropping the copy of %s for %s: its filter policy cannot be read (%v)", n.id, sub.ARN, err)
			continue
		}
		if !fp.Match(n.message, n.attrs) {
			stats.filtered.Add(1)
			continue
		}
		dedupe := fmt.Sprintf("sns-%d-%s", n.seq, sub.ARN[len(sub.TopicARN)+1:])
		switch sub.Protocol {
		case "sqs":
			body, attrs := s.envelope(n, sub), map[string]Attribute(nil)
			if sub.Attributes["RawMessageDelivery"] == "true" {
				body, attrs = n.message, n.attrs
			}
			err = s.cfg.Deliver.ToQueue(ctx, sub.Endpoint, body, attrs, dedupe)
		case "lambda":
			var payload []byte
			payload, err = json.Marshal(s.lambdaEvent(n, sub))
			if err == nil {
				err = s.cfg.Deliver.ToFunction(ctx, sub.Endpoint, payload, dedupe)
			}
		default:
			err = fmt.Errorf("protocol %q: %w", sub.Protocol, ErrEndpointGone)
		}
		if errors.Is(err, ErrEndpointGone) {
			stats.dropped.Add(1)
			logf("dropping the copy of %s for %s: %v", n.id, sub.ARN, err)
			continue
		}
		if err != nil {
			stats.failed.Add(1)
			logf("delivering %s to %s: %v; the publication will be delivered again", n.id, sub.Endpoint, err)
			s.nak(msg, logf)
			return
		}
		stats.delivered.Add(1)
	}
	if err := msg.DoubleAck(ctx); err != nil {
		logf("ack: %v", err)
		return
	}
	stats.published.Add(1)
}

func (s *Store) nak(msg jetstream.Msg, logf func(string, ...any)) {
	if err := msg.NakWithDelay(time.Second); err != nil {
		logf("nak: %v", err)
	}
}

// envelope is the JSON document an SQS subscription without raw delivery
// receives.
func (s *Store) envelope(n notification, sub Subscription) string {
	doc := struct {
		Type              string                    `json:"Type"`
		MessageID         string                    `json:"MessageId"`
		TopicArn          string                    `json:"TopicArn"`
		Subject           string                    `json:"Subject,omitempty"`
		Message           string                    `json:"Message"`
		Timestamp         string                    `json:"Timestamp"`
		SignatureVersion  string                    `json:"SignatureVersion"`
		Signature         string                    `json:"Signature"`
		SigningCertURL    string                    `json:"SigningCertURL"`
		UnsubscribeURL    string                    `json:"UnsubscribeURL"`
		MessageAttributes map[string]map[string]any `json:"MessageAttributes,omitempty"`
	}{
		Type: "Notification", MessageID: n.id, TopicArn: n.topicARN, Subject: n.subject, Message: n.message, Timestamp: n.timestamp,
		SignatureVersion: "1", Signature: signature, SigningCertURL: s.certURL(), UnsubscribeURL: s.unsubscribeURL(sub.ARN),
		MessageAttributes: wireAttributes(n.attrs),
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

// lambdaEvent is the events.SNSEvent a subscribed function receives.
func (s *Store) lambdaEvent(n notification, sub Subscription) events.SNSEvent {
	ts, _ := time.Parse("2006-01-02T15:04:05.000Z", n.timestamp)
	attrs := map[string]any{}
	for k, v := range wireAttributes(n.attrs) {
		attrs[k] = v
	}
	return events.SNSEvent{Records: []events.SNSEventRecord{{
		EventVersion: "1.0", EventSubscriptionArn: sub.ARN, EventSource: "aws:sns",
		SNS: events.SNSEntity{
			Signature: signature, MessageID: n.id, Type: "Notification", TopicArn: n.topicARN, MessageAttributes: attrs,
			SignatureVersion: "1", Timestamp: ts, SigningCertURL: s.certURL(), Message: n.message,
			UnsubscribeURL: s.unsubscribeURL(sub.ARN), Subject: n.subject,
		},
	}}}
}

// signature stands in for SNS's message signature: aloft does not sign
// notifications (there is no certificate to verify them against).
const signature = "YWxvZnQgZG9lcyBub3Qgc2lnbiBub3RpZmljYXRpb25z"

func (s *Store) certURL() string {
	return s.cfg.Endpoint() + "/SimpleNotificationService-aloft.pem"
}

func (s *Store) unsubscribeURL(subARN string) string {
	return s.cfg.Endpoint() + "/?Action=Unsubscribe&SubscriptionArn=" + url.QueryEscape(subARN)
}

// wireAttributes is the {"Type","Value"} form of message attributes in
// notifications.
func wireAttributes(attrs map[string]Attribute) map[string]map[string]any {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]map[string]any, len(attrs))
	for k, a := range attrs {
		out[k] = map[string]any{"Type": a.Type, "Value": a.Value}
	}
	return out
}
