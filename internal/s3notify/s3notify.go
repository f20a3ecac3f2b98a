// Package s3notify turns committed S3 writes and deletes into bucket
// notifications, at least once, whatever moment aloft dies at.
//
// The S3 API calls Begin before a write commits: when a rule of the bucket
// matches, the intent (the record to send and its targets) is stored on the
// backbone under a fresh sequencer, which the write also stores with the
// object (objstore.ObjectInfo.WriteID, through Seal). After the commit,
// Commit sends the record to each target and forgets the intent; after a
// failed write, Abort forgets it. When a node starts, Reconcile looks at every
// intent left behind: a write whose object carries the intent's sequencer
// committed, and its notification is sent; any other is dropped. Sends carry
// a deduplication ID derived from the sequencer, so a record sent twice (a
// crash between sending and forgetting) is the same record, as on S3.
package s3notify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// Event names S3 uses (without the "s3:" of configurations).
const (
	ObjectCreatedPut       = "ObjectCreated:Put"
	ObjectCreatedCopy      = "ObjectCreated:Copy"
	ObjectCreatedMultipart = "ObjectCreated:CompleteMultipartUpload"
	ObjectRemovedDelete    = "ObjectRemoved:Delete"
)

// Target is where a notification goes: Kind "lambda", "sqs" or "sns" and the
// function, queue or topic ARN.
type Target struct {
	Kind string `json:"kind"`
	ARN  string `json:"arn"`
}

// Rule is one notification configuration of a bucket.
type Rule struct {
	// ID is the configuration's ID, sent as configurationId; "" derives one.
	ID string
	// Event is a pattern such as "s3:ObjectCreated:*" or
	// "s3:ObjectRemoved:Delete".
	Event          string
	Prefix, Suffix string
	Target         Target
}

// Matches reports whether the rule wants event (e.g. "ObjectCreated:Put") for
// key.
func (r Rule) Matches(event, key string) bool {
	pattern := strings.TrimPrefix(r.Event, "s3:")
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		if !strings.HasPrefix(event, p) {
			return false
		}
	} else if pattern != event {
		return false
	}
	return strings.HasPrefix(key, r.Prefix) && strings.HasSuffix(key, r.Suffix)
}

// ConfigurationID is the configurationId records of the rule carry: its ID,
// or one derived from the rule's content when it has none.
func (r Rule) ConfigurationID() string {
	if r.ID != "" {
		return r.ID
	}
	sum := sha256.Sum256([]byte(r.Event + "\x00" + r.Prefix + "\x00" + r.Suffix + "\x00" + r.Target.Kind + "\x00" + r.Target.ARN))
	return "aloft-" + hex.EncodeToString(sum[:8])
}

// Sender delivers one notification to a target; payload is the S3 event
// JSON. Implementations hand it to durable delivery (an asynchronous
// invocation, a queue, a topic) and deduplicate on dedupeID.
type Sender interface {
	Send(ctx context.Context, t Target, payload []byte, dedupeID string) error
}

// Config configures a Notifier.
type Config struct {
	// Intents is the backbone KV bucket holding intents. Required.
	Intents jetstream.KeyValue
	// Sender delivers notifications. Required.
	Sender Sender
	// Region is the records' awsRegion; "" means us-east-1.
	Region string
	// Scope names the object store the intents are about, when several
	// stores share one Intents bucket (nodes with local stores on one NATS
	// cluster): Reconcile then settles only its own store's intents, never
	// another node's writes in flight. "" means the bucket serves one store.
	// It must be a valid KV key token (letters, digits, '-', '_').
	Scope string
}

// Notifier records intents and sends notifications. It is safe for
// concurrent use; SetRules replaces the configuration atomically.
type Notifier struct {
	cfg   Config
	rules atomic.Pointer[map[string][]Rule]
}

// New returns a Notifier with no rules.
func New(cfg Config) (*Notifier, error) {
	if cfg.Intents == nil || cfg.Sender == nil {
		return nil, errors.New("s3notify: Config.Intents and Config.Sender are required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	n := &Notifier{cfg: cfg}
	n.rules.Store(&map[string][]Rule{})
	return n, nil
}

// SetRules replaces every bucket's rules (by bucket name).
func (n *Notifier) SetRules(byBucket map[string][]Rule) { n.rules.Store(&byBucket) }

// Write describes a write or delete about to happen.
type Write struct {
	Bucket, Key string
	Event       string // ObjectCreatedPut, …
	RequestID   string
	Principal   string // the access key that signed the request
	SourceIP    string
}

// intent is what the backbone keeps between Begin and Commit.
type intent struct {
	Sequencer string    `json:"sequencer"`
	Write     Write     `json:"write"`
	Time      time.Time `json:"time"`
	Rules     []Rule    `json:"rules"`
}

// Intent is a write in flight that some rule wants to hear about.
type Intent struct {
	n *Notifier
	i intent
}

func (n *Notifier) newSequencer() (string, error) {
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return fmt.Sprintf("%016X%04X", time.Now().UnixNano(), binary.BigEndian.Uint16(b[:])), nil
}

func (n *Notifier) intentKey(seq string) string {
	if n.cfg.Scope != "" {
		return "intent." + n.cfg.Scope + "." + seq
	}
	return "intent." + seq
}

// Begin records the intent of w before it commits. It returns nil (and no
// error) when no rule of the bucket matches; an error means the intent could
// not be recorded, and the write must not go ahead.
func (n *Notifier) Begin(ctx context.Context, w Write) (*Intent, error) {
	var matched []Rule
	for _, r := range (*n.rules.Load())[w.Bucket] {
		if r.Matches(w.Event, w.Key) {
			matched = append(matched, r)
		}
	}
	if len(matched) == 0 {
		return nil, nil
	}
	seq, err := n.newSequencer()
	if err != nil {
		return nil, fmt.Errorf("s3notify: %w", err)
	}
	in := &Intent{n: n, i: intent{Sequencer: seq, Write: w, Time: time.Now().UTC(), Rules: matched}}
	b, err := json.Marshal(in.i)
	if err != nil {
		return nil, fmt.Errorf("s3notify: %w", err)
	}
	if _, err := n.cfg.Intents.Create(ctx, n.intentKey(seq), b); err != nil {
		return nil, fmt.Errorf("s3notify: record intent for %s/%s: %w", w.Bucket, w.Key, err)
	}
	return in, nil
}

// Seal marks the object being written with the intent's sequencer; use it
// as (or within) the write's objstore Seal. A nil Intent does nothing.
func (in *Intent) Seal(info *objstore.ObjectInfo) error {
	if in != nil {
		info.WriteID = in.i.Sequencer
	}
	return nil
}

// Commit sends the notification of a committed write (info is the stored
// object; zero for a delete) and forgets the intent. When sending fails the
// intent stays for Reconcile. A nil Intent does nothing.
func (in *Intent) Commit(ctx context.Context, info objstore.ObjectInfo) error {
	if in == nil {
		return nil
	}
	return in.n.deliver(ctx, in.i, info)
}

// Abort forgets the intent of a write that failed. A nil Intent does
// nothing.
func (in *Intent) Abort(ctx context.Context) error {
	if in == nil {
		return nil
	}
	return in.n.forget(ctx, in.i.Sequencer)
}

func (n *Notifier) forget(ctx context.Context, seq string) error {
	if err := n.cfg.Intents.Purge(ctx, n.intentKey(seq)); err != nil {
		return fmt.Errorf("s3notify: forget intent %s: %w", seq, err)
	}
	return nil
}

func (n *Notifier) deliver(ctx context.Context, in intent, info objstore.ObjectInfo) error {
	for _, r := range in.Rules {
		payload, err := json.Marshal(event{Records: []record{n.record(in, r, info)}})
		if err != nil {
			return fmt.Errorf("s3notify: %w", err)
		}
		if err := n.cfg.Sender.Send(ctx, r.Target, payload, in.Sequencer+"-"+r.ConfigurationID()); err != nil {
			return fmt.Errorf("s3notify: send %s/%s to %s: %w", in.Write.Bucket, in.Write.Key, r.Target.ARN, err)
		}
	}
	return n.forget(ctx, in.Sequencer)
}

func (n *Notifier) record(in intent, r Rule, info objstore.ObjectInfo) record {
	w := in.Write
	rec := record{
		EventVersion: "2.1", EventSource: "aws:s3", AWSRegion: n.cfg.Region,
		EventTime: eventTime(in.Time), EventName: w.Event,
		UserIdentity:      principal{PrincipalID: "AWS:" + w.Principal},
		RequestParameters: requestParameters{SourceIPAddress: w.SourceIP},
		ResponseElements:  map[string]string{"x-amz-request-id": w.RequestID, "x-amz-id-2": w.RequestID},
		S3: entity{
			SchemaVersion: "1.0", ConfigurationID: r.ConfigurationID(),
			Bucket: bucket{Name: w.Bucket, OwnerIdentity: principal{PrincipalID: "aloft"}, ARN: "arn:aws:s3:::" + w.Bucket},
			Object: object{Key: encodeKey(w.Key), Sequencer: in.Sequencer},
		},
	}
	if strings.HasPrefix(w.Event, "ObjectCreated:") {
		rec.S3.Object.Size, rec.S3.Object.ETag = info.Size, info.ETag
	}
	return rec
}

// Reconcile settles the intents a crash left behind: it sends the
// notifications of writes that committed (the object carries the intent's
// sequencer) and of deletes that happened (the key is gone), and drops the
// rest. Call it when the node starts, before serving.
func (n *Notifier) Reconcile(ctx context.Context, store objstore.Backend) error {
	filter := "intent.*"
	if n.cfg.Scope != "" {
		filter = "intent." + n.cfg.Scope + ".*"
	}
	lister, err := n.cfg.Intents.ListKeysFiltered(ctx, filter)
	if err != nil {
		return fmt.Errorf("s3notify: list intents: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	var errs []error
	for _, k := range keys {
		entry, err := n.cfg.Intents.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var in intent
		if err := json.Unmarshal(entry.Value(), &in); err != nil {
			errs = append(errs, fmt.Errorf("s3notify: intent %s: %w", k, err))
			continue
		}
		info, err := store.HeadObject(ctx, in.Write.Bucket, in.Write.Key)
		missing := errors.Is(err, objstore.ErrNoSuchKey) || errors.Is(err, objstore.ErrNoSuchBucket)
		if err != nil && !missing {
			errs = append(errs, err)
			continue
		}
		committed := !missing && info.WriteID == in.Sequencer
		if strings.HasPrefix(in.Write.Event, "ObjectRemoved:") {
			committed, info = missing, objstore.ObjectInfo{}
		}
		if committed {
			err = n.deliver(ctx, in, info)
		} else {
			err = n.forget(ctx, in.Sequencer)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
