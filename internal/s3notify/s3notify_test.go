package s3notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aloft-dev/aloft/internal/backbone"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/objstore/fs"
	"github.com/aloft-dev/aloft/internal/s3notify"
)

var ctx = context.Background()

func TestRuleMatches(t *testing.T) {
	for _, tc := range []struct {
		rule       s3notify.Rule
		event, key string
		want       bool
	}{
		{s3notify.Rule{Event: "s3:ObjectCreated:*"}, "ObjectCreated:Put", "a.jpg", true},
		{s3notify.Rule{Event: "s3:ObjectCreated:*"}, "ObjectCreated:CompleteMultipartUpload", "a.jpg", true},
		{s3notify.Rule{Event: "s3:ObjectCreated:*"}, "ObjectRemoved:Delete", "a.jpg", false},
		{s3notify.Rule{Event: "s3:ObjectCreated:Put"}, "ObjectCreated:Copy", "a.jpg", false},
		{s3notify.Rule{Event: "s3:ObjectRemoved:*"}, "ObjectRemoved:Delete", "a.jpg", true},
		{s3notify.Rule{Event: "s3:ObjectCreated:*", Suffix: ".jpg"}, "ObjectCreated:Put", "a.txt", false},
		{s3notify.Rule{Event: "s3:ObjectCreated:*", Prefix: "in/", Suffix: ".jpg"}, "ObjectCreated:Put", "in/a.jpg", true},
		{s3notify.Rule{Event: "s3:ObjectCreated:*", Prefix: "in/"}, "ObjectCreated:Put", "out/a.jpg", false},
	} {
		if got := tc.rule.Matches(tc.event, tc.key); got != tc.want {
			t.Errorf("%+v.Matches(%s, %s) = %v", tc.rule, tc.event, tc.key, got)
		}
	}
}

// sent is one notification handed to the sender.
type sent struct {
	target s3notify.Target
	event  events.S3Event
	dedupe string
}

// recorder is a Sender that keeps what it is given; fail makes it refuse.
type recorder struct {
	mu   sync.Mutex
	sent []sent
	fail error
}

func (r *recorder) Send(_ context.Context, t s3notify.Target, payload []byte, dedupeID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	var ev events.S3Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return err
	}
	r.sent = append(r.sent, sent{t, ev, dedupeID})
	return nil
}

type world struct {
	store    objstore.Backend
	notifier *s3notify.Notifier
	sender   *recorder
	bb       *backbone.Backbone
}

// newWorld opens a store and a notifier on dataDir, as a node starting
// (again) on its data would.
func newWorld(t *testing.T, dataDir string) *world {
	t.Helper()
	bb, err := backbone.Start(ctx, backbone.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Shutdown(context.Background()) })
	kv, err := bb.KV(ctx, "aloft_s3_intents")
	if err != nil {
		t.Fatal(err)
	}
	store, err := fs.New(fs.Config{Dir: dataDir + "/s3"})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{store: store, sender: &recorder{}, bb: bb}
	w.notifier, err = s3notify.New(s3notify.Config{Intents: kv, Sender: w.sender})
	if err != nil {
		t.Fatal(err)
	}
	w.notifier.SetRules(map[string][]s3notify.Rule{"uploads": {
		{Event: "s3:ObjectCreated:*", Suffix: ".jpg", Target: s3notify.Target{Kind: "lambda", ARN: "arn:aws:lambda:us-east-1:000000000000:function:Thumb"}},
		{Event: "s3:ObjectRemoved:*", Target: s3notify.Target{Kind: "sqs", ARN: "arn:aws:sqs:us-east-1:000000000000:removed"}},
	}})
	return w
}

// put writes key the way the S3 API does: Begin, Seal inside the write,
// Commit after it; commit false stops after the write, as a crash would.
func (w *world) put(t *testing.T, key, body string, commit bool) *s3notify.Intent {
	t.Helper()
	in, err := w.notifier.Begin(ctx, s3notify.Write{Bucket: "uploads", Key: key, Event: s3notify.ObjectCreatedPut, RequestID: "REQ1", Principal: "AKIATEST", SourceIP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := w.store.PutObject(ctx, "uploads", key, strings.NewReader(body), objstore.PutOptions{Seal: in.Seal})
	if err != nil {
		t.Fatal(err)
	}
	if commit {
		if err := in.Commit(ctx, info); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

func TestNotificationRecord(t *testing.T) {
	w := newWorld(t, t.TempDir())
	if err := w.store.CreateBucket(ctx, "uploads"); err != nil {
		t.Fatal(err)
	}
	w.put(t, "photos/my cat.jpg", "meow", true)
	w.put(t, "notes.txt", "ignored", true)
	if len(w.sender.sent) != 1 {
		t.Fatalf("sent %d notifications, want 1 (the .txt matches no rule)", len(w.sender.sent))
	}
	s := w.sender.sent[0]
	rec := s.event.Records[0]
	head, _ := w.store.HeadObject(ctx, "uploads", "photos/my cat.jpg")
	if s.target.Kind != "lambda" || rec.EventName != "ObjectCreated:Put" || rec.EventSource != "aws:s3" || rec.EventVersion != "2.1" ||
		rec.AWSRegion != "us-east-1" || rec.S3.Bucket.Name != "uploads" || rec.S3.Bucket.Arn != "arn:aws:s3:::uploads" ||
		rec.S3.Object.Key != "photos/my+cat.jpg" || rec.S3.Object.URLDecodedKey != "photos/my cat.jpg" ||
		rec.S3.Object.Size != 4 || rec.S3.Object.ETag != head.ETag || rec.S3.Object.Sequencer != head.WriteID ||
		rec.PrincipalID.PrincipalID != "AWS:AKIATEST" || rec.RequestParameters.SourceIPAddress != "127.0.0.1" ||
		rec.ResponseElements["x-amz-request-id"] != "REQ1" || rec.EventTime.IsZero() || rec.S3.ConfigurationID == "" {
		t.Fatalf("record %+v", rec)
	}
	if !strings.HasPrefix(s.dedupe, head.WriteID) {
		t.Errorf("dedupe ID %q does not derive from the sequencer %q", s.dedupe, head.WriteID)
	}

	in, err := w.notifier.Begin(ctx, s3notify.Write{Bucket: "uploads", Key: "photos/my cat.jpg", Event: s3notify.ObjectRemovedDelete})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.DeleteObject(ctx, "uploads", "photos/my cat.jpg"); err != nil {
		t.Fatal(err)
	}
	if err := in.Commit(ctx, objstore.ObjectInfo{}); err != nil {
		t.Fatal(err)
	}
	del := w.sender.sent[1]
	if del.target.Kind != "sqs" || del.event.Records[0].EventName != "ObjectRemoved:Delete" || del.event.Records[0].S3.Object.Size != 0 {
		t.Fatalf("delete notification %+v", del)
	}
}

// TestReconcileAfterCrash: a write that committed before the crash is
// notified after the restart; one that did not commit is not; an aborted
// one is forgotten; a failed send is retried.
func TestReconcileAfterCrash(t *testing.T) {
	dir := t.TempDir()
	w := newWorld(t, dir)
	if err := w.store.CreateBucket(ctx, "uploads"); err != nil {
		t.Fatal(err)
	}
	w.put(t, "committed.jpg", "1", false) // crash between commit and notification
	// Crash after the intent, before the write commits.
	if _, err := w.notifier.Begin(ctx, s3notify.Write{Bucket: "uploads", Key: "uncommitted.jpg", Event: s3notify.ObjectCreatedPut}); err != nil {
		t.Fatal(err)
	}
	// Crash after the intent of an overwrite whose new version never committed.
	w.put(t, "old.jpg", "v1", true)
	if _, err := w.notifier.Begin(ctx, s3notify.Write{Bucket: "uploads", Key: "old.jpg", Event: s3notify.ObjectCreatedPut}); err != nil {
		t.Fatal(err)
	}
	// A failed write, aborted.
	in, err := w.notifier.Begin(ctx, s3notify.Write{Bucket: "uploads", Key: "aborted.jpg", Event: s3notify.ObjectCreatedPut})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	// A send that fails keeps its intent.
	w.sender.fail = errors.New("delivery unavailable")
	in2, err := w.notifier.Begin(ctx, s3notify.Write{Bucket: "uploads", Key: "retried.jpg", Event: s3notify.ObjectCreatedPut})
	if err != nil {
		t.Fatal(err)
	}
	info, err := w.store.PutObject(ctx, "uploads", "retried.jpg", strings.NewReader("r"), objstore.PutOptions{Seal: in2.Seal})
	if err != nil {
		t.Fatal(err)
	}
	if err := in2.Commit(ctx, info); err == nil {
		t.Fatal("Commit hid the sender's failure")
	}
	if err := w.bb.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	w = newWorld(t, dir) // restart on the same data
	if err := w.notifier.Reconcile(ctx, w.store); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, s := range w.sender.sent {
		keys = append(keys, s.event.Records[0].S3.Object.Key)
	}
	if strings.Join(keys, ",") != "committed.jpg,retried.jpg" && strings.Join(keys, ",") != "retried.jpg,committed.jpg" {
		t.Fatalf("after the restart notified %q, want committed.jpg and retried.jpg", keys)
	}
	w.sender.sent = nil
	if err := w.notifier.Reconcile(ctx, w.store); err != nil || len(w.sender.sent) != 0 {
		t.Fatalf("a second Reconcile sent %d (%v): intents were not forgotten", len(w.sender.sent), err)
	}
}

// TestReconcileKeepsToItsScope: nodes with their own stores share one
// intents bucket; a node's Reconcile never settles another node's intents
// (whose objects it cannot see).
func TestReconcileKeepsToItsScope(t *testing.T) {
	w := newWorld(t, t.TempDir())
	if err := w.store.CreateBucket(ctx, "uploads"); err != nil {
		t.Fatal(err)
	}
	kv, err := w.bb.KV(ctx, "aloft_s3_intents")
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string][]s3notify.Rule{"uploads": {{Event: "s3:ObjectCreated:*", Target: s3notify.Target{Kind: "lambda", ARN: "arn:aws:lambda:us-east-1:000000000000:function:F"}}}}
	nodes := map[string]*s3notify.Notifier{}
	senders := map[string]*recorder{}
	for _, scope := range []string{"a", "b"} {
		senders[scope] = &recorder{}
		n, err := s3notify.New(s3notify.Config{Intents: kv, Sender: senders[scope], Scope: scope})
		if err != nil {
			t.Fatal(err)
		}
		n.SetRules(rules)
		nodes[scope] = n
	}
	// Node a commits a write and dies before notifying.
	in, err := nodes["a"].Begin(ctx, s3notify.Write{Bucket: "uploads", Key: "k", Event: s3notify.ObjectCreatedPut})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.PutObject(ctx, "uploads", "k", strings.NewReader("v"), objstore.PutOptions{Seal: in.Seal}); err != nil {
		t.Fatal(err)
	}
	// Node b starts on a store without the object: a's intent is not its own.
	empty, err := fs.New(fs.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := nodes["b"].Reconcile(ctx, empty); err != nil || len(senders["b"].sent) != 0 {
		t.Fatalf("node b settled node a's intent: %v, sent %d", err, len(senders["b"].sent))
	}
	if err := nodes["a"].Reconcile(ctx, w.store); err != nil || len(senders["a"].sent) != 1 {
		t.Fatalf("node a did not notify its committed write: %v, sent %d", err, len(senders["a"].sent))
	}
}
