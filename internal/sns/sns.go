// Package sns is aloft's Amazon SNS: topics and subscriptions kept in
// JetStream KV, publications in the ALOFT_SNS stream, a fan-out consumer
// that delivers each publication to every subscription whose filter policy
// it passes (Lambda functions through asynchronous invocation, SQS queues
// directly), and the SNS Query API.
//
// A publication is accepted once it is in the stream; the fan-out acks it
// only after every matching subscription accepted its copy, each copy
// published with a dedupe id (sns-<seq>-<subscription>), so a crash in the
// middle of a fan-out repeats only deduplicated deliveries. See
// docs/design/events.md.
package sns

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/runtime"
)

// StreamName is the stream of publications.
const StreamName = "ALOFT_SNS"

const (
	metaBucket = "aloft_sns"
	fanout     = "fanout"

	hdrMessageID = "Aloft-Message-Id"
	hdrSubject   = "Aloft-Subject"
	hdrAttrs     = "Aloft-Attributes"
	hdrTimestamp = "Aloft-Timestamp"
)

// ErrEndpointGone is what a Deliverer returns (wrapped) when the
// subscription's endpoint does not exist: that copy is dropped, with a log
// line, instead of holding up the publication's other subscribers.
var ErrEndpointGone = errors.New("sns: the subscription's endpoint does not exist")

// Deliverer hands a notification to a subscription's endpoint. Each method
// returns once the target stored it; dedupeID makes a repeated hand-off a
// no-op.
type Deliverer interface {
	ToQueue(ctx context.Context, queueARN, body string, attrs map[string]Attribute, dedupeID string) error
	ToFunction(ctx context.Context, functionARN string, payload []byte, dedupeID string) error
}

// Config configures a Store. JetStream and Deliver are required.
type Config struct {
	JetStream jetstream.JetStream
	Deliver   Deliverer
	// Replicas of the stream and bucket; 0 means 1.
	Replicas int
	// Region and AccountID place topics in ARNs; "" means us-east-1 and
	// 000000000000.
	Region, AccountID string
	// Endpoint returns the endpoint's base URL, for UnsubscribeURL; nil
	// means https://sns.{Region}.amazonaws.com.
	Endpoint func() string
	// Logs receives a line per failed or filtered-out delivery problem;
	// nil discards them.
	Logs io.Writer
}

// Store holds topics and subscriptions and delivers publications. Create it
// with NewStore, start delivering with Start, stop with Shutdown. It is safe
// for concurrent use.
type Store struct {
	cfg    Config
	meta   jetstream.KeyValue
	stream jetstream.Stream

	cancel context.CancelFunc
	wg     sync.WaitGroup

	statsMu sync.Mutex
	stats   map[string]*topicCounters // by topic name (stats.go)
}

// NewStore creates (or opens) the stream, its fan-out consumer and the
// metadata bucket.
func NewStore(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.JetStream == nil || cfg.Deliver == nil {
		return nil, errors.New("sns: Config.JetStream and Config.Deliver are required")
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	if cfg.Endpoint == nil {
		base := "https://sns." + cfg.Region + ".amazonaws.com"
		cfg.Endpoint = func() string { return base }
	}
	if cfg.Logs == nil {
		cfg.Logs = io.Discard
	}
	kv, err := cfg.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: metaBucket, History: 1, Replicas: cfg.Replicas})
	if err != nil {
		return nil, fmt.Errorf("sns: bucket %s: %w", metaBucket, err)
	}
	st, err := cfg.JetStream.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: StreamName, Description: "aloft: SNS publications", Subjects: []string{"aloft.sns.>"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Replicas: cfg.Replicas, Duplicates: 5 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("sns: stream %s: %w", StreamName, err)
	}
	if _, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: fanout, AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxDeliver: -1, Replicas: cfg.Replicas,
	}); err != nil {
		return nil, fmt.Errorf("sns: consumer: %w", err)
	}
	return &Store{cfg: cfg, meta: kv, stream: st, stats: map[string]*topicCounters{}}, nil
}

// Topic is a topic as stored.
type Topic struct {
	Name       string            `json:"name"`
	Attributes map[string]string `json:"attributes"`
}

// Subscription is a subscription as stored.
type Subscription struct {
	ARN        string            `json:"arn"`
	TopicARN   string            `json:"topicArn"`
	Protocol   string            `json:"protocol"`
	Endpoint   string            `json:"endpoint"`
	Attributes map[string]string `json:"attributes"`
	// Owner is the stack that declared the subscription, "" for one made
	// through the API; a redeploy removes its stack's subscriptions that the
	// template no longer declares.
	Owner string `json:"owner,omitempty"`
}

var topicNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// token is a topic name as one subject token and KV key part: "." (of
// ".fifo") becomes "=", which no topic name contains.
func token(name string) string { return strings.ReplaceAll(name, ".", "=") }

// TopicARN is a topic's ARN.
func (s *Store) TopicARN(name string) string {
	return "arn:aws:sns:" + s.cfg.Region + ":" + s.cfg.AccountID + ":" + name
}

func nameOf(arn string) string { return arn[strings.LastIndex(arn, ":")+1:] }

// CreateTopic creates a topic, or returns the existing one (idempotent).
func (s *Store) CreateTopic(ctx context.Context, name string, attrs map[string]string) (*Topic, error) {
	if !topicNameRE.MatchString(strings.TrimSuffix(name, ".fifo")) {
		return nil, errInvalidParameter("Invalid parameter: Topic Name")
	}
	if strings.HasSuffix(name, ".fifo") {
		return nil, errInvalidParameter("Invalid parameter: FIFO topics are not supported by aloft yet")
	}
	if t, err := s.GetTopic(ctx, s.TopicARN(name)); err == nil {
		return t, nil
	}
	t := &Topic{Name: name, Attributes: map[string]string{}}
	for k, v := range attrs {
		t.Attributes[k] = v
	}
	b, _ := json.Marshal(t)
	if _, err := s.meta.Put(ctx, "topic."+token(name), b); err != nil {
		return nil, fmt.Errorf("sns: store topic %s: %w", name, err)
	}
	return t, nil
}

// GetTopic returns the topic an ARN names, or NotFound.
func (s *Store) GetTopic(ctx context.Context, arn string) (*Topic, error) {
	if !strings.HasPrefix(arn, "arn:") {
		return nil, errInvalidParameter("Invalid parameter: TopicArn")
	}
	e, err := s.meta.Get(ctx, "topic."+token(nameOf(arn)))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return nil, errNotFound("Topic does not exist")
	}
	if err != nil {
		return nil, fmt.Errorf("sns: topic %s: %w", arn, err)
	}
	var t Topic
	if err := json.Unmarshal(e.Value(), &t); err != nil {
		return nil, fmt.Errorf("sns: topic %s: %w", arn, err)
	}
	return &t, nil
}

// DeleteTopic deletes a topic and its subscriptions.
func (s *Store) DeleteTopic(ctx context.Context, arn string) error {
	subs, err := s.Subscriptions(ctx, arn)
	if err != nil {
		return err
	}
	for _, sub := range subs {
		if err := s.Unsubscribe(ctx, sub.ARN); err != nil {
			return err
		}
	}
	if err := s.meta.Purge(ctx, "topic."+token(nameOf(arn))); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("sns: delete topic %s: %w", arn, err)
	}
	return nil
}

// Topics returns every topic, sorted by name.
func (s *Store) Topics(ctx context.Context) ([]Topic, error) {
	var out []Topic
	err := s.scan(ctx, "topic.*", func(b []byte) error {
		var t Topic
		if err := json.Unmarshal(b, &t); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

func (s *Store) scan(ctx context.Context, filter string, each func([]byte) error) error {
	lister, err := s.meta.ListKeysFiltered(ctx, filter)
	if err != nil {
		return fmt.Errorf("sns: list: %w", err)
	}
	for k := range lister.Keys() {
		e, err := s.meta.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sns: %s: %w", k, err)
		}
		if err := each(e.Value()); err != nil {
			return fmt.Errorf("sns: %s: %w", k, err)
		}
	}
	return nil
}

var protocols = map[string]bool{"lambda": true, "sqs": true}

// Subscribe subscribes an endpoint to a topic. The same topic, protocol and
// endpoint always give the same subscription (as on SNS). owner is the
// declaring stack's name, or "" through the API.
func (s *Store) Subscribe(ctx context.Context, topicARN, protocol, endpoint string, attrs map[string]string, owner string) (*Subscription, error) {
	if _, err := s.GetTopic(ctx, topicARN); err != nil {
		return nil, err
	}
	if !protocols[protocol] {
		return nil, errInvalidParameter("Invalid parameter: Protocol: aloft delivers to the lambda and sqs protocols only, not %q", protocol)
	}
	if !strings.HasPrefix(endpoint, "arn:") {
		return nil, errInvalidParameter("Invalid parameter: Endpoint must be an ARN for the %s protocol", protocol)
	}
	sum := sha256.Sum256([]byte(topicARN + "\n" + protocol + "\n" + endpoint))
	h := hex.EncodeToString(sum[:16])
	id := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	sub := &Subscription{ARN: topicARN + ":" + id, TopicARN: topicARN, Protocol: protocol, Endpoint: endpoint, Attributes: map[string]string{}, Owner: owner}
	for k, v := range attrs {
		if err := checkSubscriptionAttribute(k, v, sub.Attributes); err != nil {
			return nil, err
		}
		sub.Attributes[k] = v
	}
	return sub, s.putSubscription(ctx, sub)
}

func checkSubscriptionAttribute(name, value string, current map[string]string) error {
	switch name {
	case "RawMessageDelivery":
		if value != "true" && value != "false" {
			return errInvalidParameter("Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [%s]. Must be true or false.", value)
		}
	case "FilterPolicy", "FilterPolicyScope":
		policy, scope := current["FilterPolicy"], current["FilterPolicyScope"]
		if name == "FilterPolicy" {
			policy = value
		} else {
			scope = value
		}
		if _, err := ParseFilterPolicy(policy, scope); err != nil {
			return errInvalidParameter("Invalid parameter: %v", err)
		}
	case "RedrivePolicy", "DeliveryPolicy", "SubscriptionRoleArn":
	default:
		return errInvalidParameter("Invalid parameter: AttributeName")
	}
	return nil
}

func (s *Store) putSubscription(ctx context.Context, sub *Subscription) error {
	b, _ := json.Marshal(sub)
	if _, err := s.meta.Put(ctx, subKey(sub.ARN), b); err != nil {
		return fmt.Errorf("sns: store subscription: %w", err)
	}
	return nil
}

// subKey is sub.<topic>.<id>, so a topic's subscriptions are one filter.
func subKey(subARN string) string {
	i := strings.LastIndex(subARN, ":")
	if i < 0 {
		return "sub.invalid"
	}
	return "sub." + token(nameOf(subARN[:i])) + "." + subARN[i+1:]
}

// Subscription returns the subscription an ARN names, or NotFound.
func (s *Store) Subscription(ctx context.Context, arn string) (*Subscription, error) {
	e, err := s.meta.Get(ctx, subKey(arn))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return nil, errNotFound("Subscription does not exist")
	}
	if err != nil {
		return nil, fmt.Errorf("sns: subscription %s: %w", arn, err)
	}
	var sub Subscription
	if err := json.Unmarshal(e.Value(), &sub); err != nil {
		return nil, fmt.Errorf("sns: subscription %s: %w", arn, err)
	}
	return &sub, nil
}

// SetSubscriptionAttribute changes one attribute of a subscription.
func (s *Store) SetSubscriptionAttribute(ctx context.Context, arn, name, value string) error {
	sub, err := s.Subscription(ctx, arn)
	if err != nil {
		return err
	}
	if err := checkSubscriptionAttribute(name, value, sub.Attributes); err != nil {
		return err
	}
	sub.Attributes[name] = value
	return s.putSubscription(ctx, sub)
}

// Unsubscribe deletes a subscription.
func (s *Store) Unsubscribe(ctx context.Context, arn string) error {
	if _, err := s.Subscription(ctx, arn); err != nil {
		return err
	}
	if err := s.meta.Purge(ctx, subKey(arn)); err != nil {
		return fmt.Errorf("sns: unsubscribe %s: %w", arn, err)
	}
	return nil
}

// Subscriptions returns a topic's subscriptions ("" for all), sorted by ARN.
func (s *Store) Subscriptions(ctx context.Context, topicARN string) ([]Subscription, error) {
	filter := "sub.>"
	if topicARN != "" {
		filter = "sub." + token(nameOf(topicARN)) + ".*"
	}
	var out []Subscription
	err := s.scan(ctx, filter, func(b []byte) error {
		var sub Subscription
		if err := json.Unmarshal(b, &sub); err != nil {
			return err
		}
		out = append(out, sub)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out, err
}

// PublishInput is one publication.
type PublishInput struct {
	Message, Subject string
	Attributes       map[string]Attribute
	// DedupeID, for aloft's own hand-offs (destinations), makes a repeated
	// publication a no-op within 5 minutes.
	DedupeID string
}

// Publish stores a publication on a topic and returns its message id once
// JetStream has it.
func (s *Store) Publish(ctx context.Context, topicARN string, in PublishInput) (string, error) {
	t, err := s.GetTopic(ctx, topicARN)
	if err != nil {
		return "", err
	}
	if in.Message == "" {
		return "", errInvalidParameter("Invalid parameter: Empty message")
	}
	if len(in.Message) > 256*1024 {
		return "", errInvalidParameter("Invalid parameter: Message too long")
	}
	id := runtime.NewRequestID()
	m := nats.NewMsg("aloft.sns." + token(t.Name))
	m.Header.Set(hdrMessageID, id)
	m.Header.Set(hdrSubject, in.Subject)
	m.Header.Set(hdrTimestamp, time.Now().UTC().Format("2006-01-02T15:04:05.000Z"))
	if len(in.Attributes) > 0 {
		b, _ := json.Marshal(in.Attributes)
		m.Header.Set(hdrAttrs, string(b))
	}
	if in.DedupeID != "" {
		m.Header.Set(nats.MsgIdHdr, in.DedupeID)
	}
	m.Data = []byte(in.Message)
	if _, err := s.cfg.JetStream.PublishMsg(ctx, m); err != nil {
		return "", fmt.Errorf("sns: publish to %s: %w", t.Name, err)
	}
	return id, nil
}

func errNotFound(msg string) *awsapi.Error {
	return awsapi.Errorf(404, codeNotFound, "%s", msg)
}

func errInvalidParameter(format string, args ...any) *awsapi.Error {
	return awsapi.Errorf(400, codeInvalidParameter, format, args...)
}

// selectStructured picks the message of a MessageStructure=json
// publication: its "default" entry, which SNS requires. aloft delivers that
// value to every protocol; per-protocol entries ("lambda", "sqs") are not
// used yet.
func selectStructured(doc string) (string, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return "", errInvalidParameter("Invalid parameter: Message Structure - JSON message body failed to parse")
	}
	def, ok := m["default"].(string)
	if !ok {
		return "", errInvalidParameter("Invalid parameter: Message Structure - No default entry in JSON message body")
	}
	return def, nil
}

// Backlog is a topic's publications not yet fanned out to every
// subscription, and when the oldest of them was published (zero: none).
type Backlog struct {
	Pending uint64
	Oldest  time.Time
}

// Backlog reports a topic's unfinished publications.
func (s *Store) Backlog(ctx context.Context, topicName string) (Backlog, error) {
	var out Backlog
	subject := "aloft.sns." + token(topicName)
	si, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return out, fmt.Errorf("sns: topic %s: %w", topicName, err)
	}
	out.Pending = si.State.Subjects[subject]
	if out.Pending == 0 {
		return out, nil
	}
	m, err := s.stream.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subject))
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		return out, fmt.Errorf("sns: topic %s: %w", topicName, err)
	}
	if t, err := time.Parse("2006-01-02T15:04:05.000Z", m.Header.Get(hdrTimestamp)); err == nil {
		out.Oldest = t
	}
	return out, nil
}
