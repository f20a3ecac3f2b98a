package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/s3notify"
	"github.com/aloft-dev/aloft/internal/sns"
	"github.com/aloft-dev/aloft/internal/sqs"
	"github.com/aloft-dev/aloft/internal/template"
)

// intentsBucket is the backbone KV bucket holding bucket-notification
// intents (internal/s3notify).
const intentsBucket = "aloft_s3_intents"

// rulesKey is the key in aloft_state of the deployed notification rules
// (JSON: bucket name → []s3notify.Rule).
const rulesKey = "s3.notifications"

// startNotifications opens the intents bucket, creates the notifier and
// settles the intents a crash left behind, handing their notifications to
// the event machinery (which must exist: startEvents first). The rules are
// those of the last Deploy, until the next. It runs before the endpoint
// serves, so no new write races the reconciliation.
func (s *Server) startNotifications(ctx context.Context, store objstore.Backend) (*s3notify.Notifier, error) {
	kv, err := s.bb.KV(ctx, intentsBucket)
	if err != nil {
		return nil, fmt.Errorf("server: bucket notifications: %w", err)
	}
	n, err := s3notify.New(s3notify.Config{Intents: kv, Sender: notifySender{s: s, logs: s.logs.prefixed("s3")}, Region: s.cfg.Region})
	if err != nil {
		return nil, fmt.Errorf("server: bucket notifications: %w", err)
	}
	entry, err := s.state.Get(ctx, rulesKey)
	switch {
	case err == nil:
		var rules map[string][]s3notify.Rule
		if err := json.Unmarshal(entry.Value(), &rules); err != nil {
			return nil, fmt.Errorf("server: stored bucket notifications: %w", err)
		}
		n.SetRules(rules)
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, fmt.Errorf("server: load bucket notifications: %w", err)
	}
	if err := n.Reconcile(ctx, store); err != nil {
		return nil, fmt.Errorf("server: bucket notifications: reconcile: %w", err)
	}
	return n, nil
}

// notifySender hands bucket notifications to aloft's durable delivery:
// functions get an asynchronous invocation (with its retries and
// destinations), queues a message, topics a publication. Every hand-off
// carries the notification's deduplication ID, so a notification sent
// again after a crash is stored once (within JetStream's 5-minute
// duplicate window; later it is delivered again with the same sequencer,
// as S3's own duplicates are).
type notifySender struct {
	s    *Server
	logs io.Writer
}

var _ s3notify.Sender = notifySender{}

// Send implements s3notify.Sender. A queue or topic that no longer exists
// drops the notification with a log line instead of failing: an intent that
// can never be delivered must not hold up the others at every start.
func (n notifySender) Send(ctx context.Context, t s3notify.Target, payload []byte, dedupeID string) error {
	ev := n.s.ev
	switch t.Kind {
	case "lambda":
		// The function need not be deployed yet: intents reconciled at start
		// wait in the stream until Deploy starts its workers.
		name, ok := functionName(t.ARN)
		if !ok {
			return n.drop(t, "not a function ARN")
		}
		_, err := ev.bus.EnqueueOnce(ctx, name, payload, dedupeID)
		return err
	case "sqs":
		q, err := ev.queues.Get(ctx, sqs.NameFromURL(t.ARN))
		if isMissing(err) {
			return n.drop(t, "no such queue")
		}
		if err != nil {
			return err
		}
		in := sqs.SendInput{Body: string(payload), DedupeID: dedupeID, Sender: "s3.amazonaws.com"}
		if q.Attributes["FifoQueue"] == "true" {
			in.GroupID, in.DeduplicationID = "s3", dedupeID
		}
		_, err = ev.queues.Send(ctx, q, in)
		return err
	case "sns":
		_, err := ev.topics.Publish(ctx, t.ARN, sns.PublishInput{Message: string(payload), Subject: "Amazon S3 Notification", DedupeID: dedupeID})
		if isMissing(err) {
			return n.drop(t, "no such topic")
		}
		return err
	}
	return n.drop(t, "unknown target kind "+t.Kind)
}

func (n notifySender) drop(t s3notify.Target, why string) error {
	fmt.Fprintf(n.logs, "bucket notification to %s dropped: %s\n", t.ARN, why)
	return nil
}

// isMissing reports whether err is an API's "does not exist" answer (SQS's
// 400 QueueDoesNotExist, SNS's 404 NotFound).
func isMissing(err error) bool {
	var ae *awsapi.Error
	return errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusNotFound)
}

// notificationRules turns the stack's buckets' notification configurations
// into s3notify rules. A configuration whose target is not part of what
// this node serves (a function not in the stack, a queue or topic that does
// not exist) is left out with a warning, as S3 refuses a configuration it
// cannot validate.
func (s *Server) notificationRules(ctx context.Context, buckets []template.Bucket, functions func(string) bool) (map[string][]s3notify.Rule, []string) {
	rules := map[string][]s3notify.Rule{}
	var warnings []string
	for _, b := range buckets {
		for _, nc := range b.Notifications {
			if why := s.targetProblem(ctx, nc, functions); why != "" {
				warnings = append(warnings, fmt.Sprintf("bucket %s (%s): notification %s → %s not applied: %s", b.LogicalID, b.Name, nc.Event, nc.Target, why))
				continue
			}
			rules[b.Name] = append(rules[b.Name], s3notify.Rule{
				Event: nc.Event, Prefix: nc.Prefix, Suffix: nc.Suffix,
				Target: s3notify.Target{Kind: nc.Kind, ARN: nc.Target},
			})
		}
	}
	return rules, warnings
}

// targetProblem says why a notification's target cannot receive it, or "".
func (s *Server) targetProblem(ctx context.Context, nc template.Notification, functions func(string) bool) string {
	switch nc.Kind {
	case "lambda":
		name, ok := functionName(nc.Target)
		if !ok || !functions(name) {
			return "the function is not in the stack"
		}
	case "sqs":
		if _, err := s.ev.queues.Get(ctx, sqs.NameFromURL(nc.Target)); err != nil {
			return "the queue does not exist"
		}
	case "sns":
		if _, err := s.ev.topics.GetTopic(ctx, nc.Target); err != nil {
			return "the topic does not exist"
		}
	default:
		return "unknown kind " + nc.Kind
	}
	return ""
}

// describeRules is one line per bucket with notifications, for
// Deployment.Events ("bucket uploads: 2 notifications (lambda Thumbnail, …)").
func describeRules(rules map[string][]s3notify.Rule) []string {
	names := make([]string, 0, len(rules))
	for b := range rules {
		names = append(names, b)
	}
	sort.Strings(names)
	var out []string
	for _, b := range names {
		for _, r := range rules[b] {
			filter := ""
			if r.Prefix != "" || r.Suffix != "" {
				filter = fmt.Sprintf(" (%s*%s)", r.Prefix, r.Suffix)
			}
			out = append(out, fmt.Sprintf("S3 %s %s%s → %s %s", b, r.Event, filter, r.Target.Kind, arnName(r.Target.ARN)))
		}
	}
	return out
}

// arnName is the last component of an ARN (a function, queue or topic name).
func arnName(arn string) string {
	if name, ok := functionName(arn); ok {
		return name
	}
	return sqs.NameFromURL(arn)
}
