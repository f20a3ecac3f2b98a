package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/lambdaapi"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/s3api"
	"github.com/aloft-dev/aloft/internal/s3notify"
	"github.com/aloft-dev/aloft/internal/sns"
	"github.com/aloft-dev/aloft/internal/sqs"
	"github.com/aloft-dev/aloft/internal/template"
)

// intentsBucket is the backbone KV bucket holding bucket-notification
// intents (internal/s3notify).
const intentsBucket = "aloft_s3_intents"

// rulesPrefix starts the keys in aloft_state of the buckets' notification
// rules: "s3notify.<bucket>" → bucketRules.
const rulesPrefix = "s3notify."

// bucketRules is a bucket's notification configuration on the backbone.
type bucketRules struct {
	// Owner is "stack:<name>" for a template's configuration, replaced or
	// removed by that stack's deploys, or "api" for one set with
	// PutBucketNotificationConfiguration, which deploys leave alone unless
	// the template configures the bucket.
	Owner string          `json:"owner"`
	Rules []s3notify.Rule `json:"rules"`
}

// startNotifications opens the intents bucket, creates the notifier and
// settles the intents a crash left behind, handing their notifications to
// the event machinery (which must exist: startEvents first). The rules are
// those stored on the backbone by the last Deploy and API calls. It runs
// before the endpoint serves, so no new write races the reconciliation.
func (s *Server) startNotifications(ctx context.Context, store objstore.Backend) (*s3notify.Notifier, error) {
	kv, err := s.bb.KV(ctx, intentsBucket)
	if err != nil {
		return nil, fmt.Errorf("server: bucket notifications: %w", err)
	}
	scope, err := s.storeScope()
	if err != nil {
		return nil, err
	}
	n, err := s3notify.New(s3notify.Config{Intents: kv, Sender: notifySender{s: s, logs: s.logs.prefixed("s3")}, Region: s.cfg.Region, Scope: scope})
	if err != nil {
		return nil, fmt.Errorf("server: bucket notifications: %w", err)
	}
	s.notifier = n
	if err := s.reloadRules(ctx); err != nil {
		return nil, err
	}
	// Other nodes sharing the backbone change rules too (their deploys,
	// their API calls): every change reloads them here.
	w, err := s.state.Watch(context.WithoutCancel(ctx), rulesPrefix+">", jetstream.UpdatesOnly())
	if err != nil {
		return nil, fmt.Errorf("server: watch bucket notifications: %w", err)
	}
	s.rulesWatch = w
	logs := s.logs.prefixed("s3")
	go func() {
		for range w.Updates() {
			if err := s.reloadRules(context.Background()); err != nil {
				fmt.Fprintf(logs, "reloading bucket notifications: %v\n", err)
			}
		}
	}()
	if err := n.Reconcile(ctx, store); err != nil {
		return nil, fmt.Errorf("server: bucket notifications: reconcile: %w", err)
	}
	return n, nil
}

// storeScope names this node's object store among the nodes sharing an
// external NATS (each keeps its objects in its own DATA/s3), so that a node's
// reconciliation settles only its own intents: a random ID kept in
// DATA/s3.id. An embedded backbone is the node's alone and needs none.
func (s *Server) storeScope() (string, error) {
	if s.cfg.NATSURL == "" {
		return "", nil
	}
	path := filepath.Join(s.cfg.DataDir, "s3.id")
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("server: object store ID: %w", err)
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("server: object store ID: %w", err)
	}
	scope := hex.EncodeToString(id[:])
	// Written durably before any intent uses it: a lost ID would orphan
	// the intents recorded under it.
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", fmt.Errorf("server: object store ID: %w", err)
	}
	_, err = f.WriteString(scope + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("server: object store ID: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("server: object store ID: %w", err)
	}
	return scope, nil
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

// notificationRules turns a bucket's notification configurations into
// s3notify rules. A configuration whose target is not part of what this node
// serves (a function not in the stack, a queue or topic that does not exist)
// is left out with a warning, as S3 refuses a configuration it cannot
// validate.
func (s *Server) notificationRules(ctx context.Context, b template.Bucket, functions func(string) bool) ([]s3notify.Rule, []string) {
	var rules []s3notify.Rule
	var warnings []string
	for _, nc := range b.Notifications {
		t := s3notify.Target{Kind: nc.Kind, ARN: nc.Target}
		if why := s.targetProblem(ctx, t, functions); why != "" {
			warnings = append(warnings, fmt.Sprintf("bucket %s (%s): notification %s → %s not applied: %s", b.LogicalID, b.Name, nc.Event, nc.Target, why))
			continue
		}
		rules = append(rules, s3notify.Rule{Event: nc.Event, Prefix: nc.Prefix, Suffix: nc.Suffix, Target: t})
	}
	return rules, warnings
}

// targetProblem says why a notification's target cannot receive it, or "".
func (s *Server) targetProblem(ctx context.Context, t s3notify.Target, functions func(string) bool) string {
	switch t.Kind {
	case "lambda":
		name, ok := functionName(t.ARN)
		if !ok || !functions(name) {
			return "the function is not deployed"
		}
	case "sqs":
		if _, err := s.ev.queues.Get(ctx, sqs.NameFromURL(t.ARN)); err != nil {
			return "the queue does not exist"
		}
	case "sns":
		if _, err := s.ev.topics.GetTopic(ctx, t.ARN); err != nil {
			return "the topic does not exist"
		}
	default:
		return "unknown kind " + t.Kind
	}
	return ""
}

// deployNotifications stores the notification configurations of the
// stack's buckets on the backbone, removes those the stack configured before
// and no longer does, and applies the result. Buckets the template does not
// configure keep what the API set. Stored first, the rules also hold for a
// node restarting on the same data before its Deploy.
func (s *Server) deployNotifications(ctx context.Context, stack *template.Stack, buckets []template.Bucket, set map[string]*lambdaapi.Function, dep *Deployment) error {
	owner := "stack:" + stack.Name
	configured := map[string]bool{}
	for _, b := range buckets {
		if len(b.Notifications) == 0 {
			continue
		}
		rules, warnings := s.notificationRules(ctx, b, func(name string) bool { _, ok := set[name]; return ok })
		dep.Warnings = append(dep.Warnings, warnings...)
		if err := s.putBucketRules(ctx, b.Name, bucketRules{Owner: owner, Rules: rules}); err != nil {
			return err
		}
		configured[b.Name] = true
	}
	stored, err := s.storedRules(ctx)
	if err != nil {
		return err
	}
	for bucket, br := range stored {
		if br.Owner == owner && !configured[bucket] {
			if err := s.state.Purge(ctx, rulesPrefix+bucket); err != nil {
				return fmt.Errorf("server: bucket notifications of %s: %w", bucket, err)
			}
		}
	}
	if err := s.reloadRules(ctx); err != nil {
		return err
	}
	for _, b := range buckets {
		if configured[b.Name] {
			dep.Events = append(dep.Events, describeRules(b.Name, stored[b.Name].Rules)...)
		}
	}
	return nil
}

func (s *Server) putBucketRules(ctx context.Context, bucket string, br bucketRules) error {
	b, err := json.Marshal(br)
	if err != nil {
		return fmt.Errorf("server: bucket notifications of %s: %w", bucket, err)
	}
	if _, err := s.state.Put(ctx, rulesPrefix+bucket, b); err != nil {
		return fmt.Errorf("server: store bucket notifications of %s: %w", bucket, err)
	}
	return nil
}

// storedRules reads every bucket's notification configuration from the
// backbone.
func (s *Server) storedRules(ctx context.Context) (map[string]bucketRules, error) {
	lister, err := s.state.ListKeysFiltered(ctx, rulesPrefix+">")
	if err != nil {
		return nil, fmt.Errorf("server: list bucket notifications: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	out := map[string]bucketRules{}
	for _, k := range keys {
		entry, err := s.state.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("server: bucket notifications %s: %w", k, err)
		}
		var br bucketRules
		if err := json.Unmarshal(entry.Value(), &br); err != nil {
			return nil, fmt.Errorf("server: bucket notifications %s: %w", k, err)
		}
		out[strings.TrimPrefix(k, rulesPrefix)] = br
	}
	return out, nil
}

// reloadRules hands the notifier every bucket's rules as the backbone holds
// them. Reloads are serialized, so the last to finish read the latest state.
func (s *Server) reloadRules(ctx context.Context) error {
	s.rulesMu.Lock()
	defer s.rulesMu.Unlock()
	stored, err := s.storedRules(ctx)
	if err != nil {
		return err
	}
	rules := make(map[string][]s3notify.Rule, len(stored))
	for bucket, br := range stored {
		rules[bucket] = br.Rules
	}
	s.notifier.SetRules(rules)
	return nil
}

// bucketConfigs serves Put/GetBucketNotificationConfiguration from the
// backbone.
type bucketConfigs struct{ s *Server }

var _ s3api.NotificationConfigs = bucketConfigs{}

// BucketNotifications implements s3api.NotificationConfigs.
func (c bucketConfigs) BucketNotifications(ctx context.Context, bucket string) ([]s3notify.Rule, error) {
	entry, err := c.s.state.Get(ctx, rulesPrefix+bucket)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("server: bucket notifications of %s: %w", bucket, err)
	}
	var br bucketRules
	if err := json.Unmarshal(entry.Value(), &br); err != nil {
		return nil, fmt.Errorf("server: bucket notifications of %s: %w", bucket, err)
	}
	return br.Rules, nil
}

// SetBucketNotifications implements s3api.NotificationConfigs: the
// configuration is the API's until a deploy configures the bucket.
func (c bucketConfigs) SetBucketNotifications(ctx context.Context, bucket string, rules []s3notify.Rule) error {
	deployed := func(name string) bool { _, ok := c.s.functions.Function(name); return ok }
	var bad []string
	for _, r := range rules {
		if why := c.s.targetProblem(ctx, r.Target, deployed); why != "" {
			bad = append(bad, r.Target.ARN+": "+why)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", s3api.ErrInvalidDestination, strings.Join(bad, "; "))
	}
	if len(rules) == 0 {
		if err := c.s.state.Purge(ctx, rulesPrefix+bucket); err != nil {
			return fmt.Errorf("server: bucket notifications of %s: %w", bucket, err)
		}
	} else if err := c.s.putBucketRules(ctx, bucket, bucketRules{Owner: "api", Rules: rules}); err != nil {
		return err
	}
	return c.s.reloadRules(ctx)
}

// describeRules is one line per rule of a bucket, for Deployment.Events
// ("S3 uploads s3:ObjectCreated:* (*.jpg) → lambda Thumbnail").
func describeRules(bucket string, rules []s3notify.Rule) []string {
	var out []string
	for _, r := range rules {
		filter := ""
		if r.Prefix != "" || r.Suffix != "" {
			filter = fmt.Sprintf(" (%s*%s)", r.Prefix, r.Suffix)
		}
		out = append(out, fmt.Sprintf("S3 %s %s%s → %s %s", bucket, r.Event, filter, r.Target.Kind, arnName(r.Target.ARN)))
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
