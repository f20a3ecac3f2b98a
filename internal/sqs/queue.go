// Package sqs is aloft's Amazon SQS: queues kept in JetStream, the SQS API
// in both of its wire protocols (JSON with X-Amz-Target, and Query/XML with
// form-encoded Action=…; one handler, two codecs), and the SQS event source
// that turns queue messages into events.SQSEvent invocations.
//
// A queue is one stream (SQS_<name>) and one durable pull consumer ("recv");
// its attributes are a key of the aloft_sqs KV bucket. A receipt handle is
// the consumer's ack subject, so any node can delete a message another node
// handed out. See docs/design/events.md.
package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/awsapi"
)

// metaBucket is the KV bucket holding each queue's attributes.
const metaBucket = "aloft_sqs"

// Config configures a Store. JetStream and Conn are required.
type Config struct {
	JetStream jetstream.JetStream
	// Conn carries acks and naks for receipt handles.
	Conn *nats.Conn
	// Replicas of each queue's stream; 0 means 1.
	Replicas int
	// Region and AccountID place queues in ARNs; "" means us-east-1 and
	// 000000000000.
	Region, AccountID string
	// Endpoint returns the base of queue URLs (http://127.0.0.1:4566); it is
	// called per URL, so it may depend on a listener opened after NewStore.
	// nil means https://sqs.{Region}.amazonaws.com.
	Endpoint func() string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logs receives a line per message moved to a dead-letter queue and per
	// message that could not be; nil discards them.
	Logs io.Writer
}

// Store holds the queues. It is safe for concurrent use and keeps no state
// beyond what is in JetStream (and this node's counters), so several nodes
// may share one.
type Store struct {
	cfg  Config
	meta jetstream.KeyValue

	statsMu sync.Mutex
	stats   map[string]*queueCounters // by queue name (stats.go)
}

// NewStore opens (creating when missing) the queue metadata bucket.
func NewStore(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.JetStream == nil || cfg.Conn == nil {
		return nil, errors.New("sqs: Config.JetStream and Config.Conn are required")
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
		base := "https://sqs." + cfg.Region + ".amazonaws.com"
		cfg.Endpoint = func() string { return base }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logs == nil {
		cfg.Logs = io.Discard
	}
	kv, err := cfg.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: metaBucket, History: 1, Replicas: cfg.Replicas})
	if err != nil {
		return nil, fmt.Errorf("sqs: bucket %s: %w", metaBucket, err)
	}
	return &Store{cfg: cfg, meta: kv, stats: map[string]*queueCounters{}}, nil
}

// Queue is a queue's identity and attributes as stored.
type Queue struct {
	Name string `json:"name"`
	// Attributes are the settable attributes, as SQS names and formats them
	// (all values are strings), with defaults filled in.
	Attributes map[string]string `json:"attributes"`
	Created    int64             `json:"created"`  // Unix seconds
	Modified   int64             `json:"modified"` // Unix seconds
}

// defaults are SQS's default attribute values.
var defaults = map[string]string{
	"DelaySeconds":                  "0",
	"MaximumMessageSize":            "262144",
	"MessageRetentionPeriod":        "345600",
	"ReceiveMessageWaitTimeSeconds": "0",
	"VisibilityTimeout":             "30",
}

// settable lists the attributes CreateQueue and SetQueueAttributes accept,
// with their integer range (max < 0: not an integer).
var settable = map[string][2]int{
	"DelaySeconds":                  {0, 900},
	"MaximumMessageSize":            {1024, 262144},
	"MessageRetentionPeriod":        {60, 1209600},
	"ReceiveMessageWaitTimeSeconds": {0, 20},
	"VisibilityTimeout":             {0, 43200},
	"RedrivePolicy":                 {0, -1},
	"RedriveAllowPolicy":            {0, -1},
	"Policy":                        {0, -1},
	"FifoQueue":                     {0, -1},
	"ContentBasedDeduplication":     {0, -1},
	"DeduplicationScope":            {0, -1},
	"FifoThroughputLimit":           {0, -1},
	"KmsMasterKeyId":                {0, -1},
	"KmsDataKeyReusePeriodSeconds":  {60, 86400},
	"SqsManagedSseEnabled":          {0, -1},
}

// inert lists the attributes aloft stores and reports but that change
// nothing: AWS clients set them routinely (CDK and the console turn on
// SqsManagedSseEnabled, for one), so refusing them would break ordinary
// templates and scripts. Setting one logs a line saying so.
var inert = map[string]string{
	"Policy":                       "aloft does not evaluate queue policies: any caller with aloft's credentials may use the queue",
	"RedriveAllowPolicy":           "aloft does not restrict which queues may use this one as a dead-letter queue",
	"KmsMasterKeyId":               "aloft does not encrypt queues",
	"KmsDataKeyReusePeriodSeconds": "aloft does not encrypt queues",
	"SqsManagedSseEnabled":         "aloft does not encrypt queues",
	"FifoThroughputLimit":          "aloft applies no throughput quota to FIFO queues",
}

// InertAttributes returns one sentence per attribute in attrs that aloft
// accepts without effect (see the README), sorted.
func InertAttributes(attrs map[string]string) []string {
	var out []string
	for k, v := range attrs {
		if why, ok := inert[k]; ok && v != "" {
			out = append(out, fmt.Sprintf("%s is stored but has no effect: %s", k, why))
		}
	}
	sort.Strings(out)
	return out
}

func (s *Store) logInert(queue string, attrs map[string]string) {
	for _, line := range InertAttributes(attrs) {
		fmt.Fprintf(s.cfg.Logs, "sqs: %s: %s\n", queue, line)
	}
}

var queueNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

func (q *Queue) fifo() bool { return q.Attributes["FifoQueue"] == "true" }

func (q *Queue) intAttr(name string) int {
	n, _ := strconv.Atoi(q.Attributes[name])
	return n
}

// redrive is a parsed RedrivePolicy.
type redrive struct {
	DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	MaxReceiveCount     any    `json:"maxReceiveCount"` // a number or a string, as SQS accepts both
}

func (q *Queue) redrive() (dlqName string, maxReceives int, ok bool) {
	p := q.Attributes["RedrivePolicy"]
	if p == "" {
		return "", 0, false
	}
	var r redrive
	if json.Unmarshal([]byte(p), &r) != nil {
		return "", 0, false
	}
	switch v := r.MaxReceiveCount.(type) {
	case float64:
		maxReceives = int(v)
	case string:
		maxReceives, _ = strconv.Atoi(v)
	}
	i := strings.LastIndex(r.DeadLetterTargetArn, ":")
	if i < 0 || maxReceives < 1 {
		return "", 0, false
	}
	return r.DeadLetterTargetArn[i+1:], maxReceives, true
}

func validateAttributes(name string, attrs map[string]string) *awsapi.Error {
	fifo := strings.HasSuffix(name, ".fifo")
	for k, v := range attrs {
		rng, ok := settable[k]
		if !ok {
			return errorf(codeInvalidAttributeName, "Unknown Attribute %s.", k)
		}
		if rng[1] >= 0 {
			n, err := strconv.Atoi(v)
			if err != nil || n < rng[0] || n > rng[1] {
				return errorf(codeInvalidAttributeValue, "Invalid value for the parameter %s.", k)
			}
		}
		switch k {
		case "FifoQueue":
			if v != "true" && v != "false" || (v == "true") != fifo {
				return errorf(codeInvalidAttributeValue, "Invalid value for the parameter FifoQueue. Reason: The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix.")
			}
		case "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit":
			if !fifo {
				return errorf(codeInvalidAttributeName, "Unknown Attribute %s.", k)
			}
			valid := map[string][]string{"ContentBasedDeduplication": {"true", "false"}, "DeduplicationScope": {"queue", "messageGroup"},
				"FifoThroughputLimit": {"perQueue", "perMessageGroupId"}}[k]
			if v != valid[0] && v != valid[1] {
				return errorf(codeInvalidAttributeValue, "Invalid value for the parameter %s.", k)
			}
		case "RedrivePolicy":
			if v == "" {
				continue
			}
			q := Queue{Attributes: map[string]string{"RedrivePolicy": v}}
			if _, _, ok := q.redrive(); !ok {
				return errorf(codeInvalidAttributeValue, "Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map with deadLetterTargetArn and maxReceiveCount.")
			}
		}
	}
	return nil
}

// streamName is the stream of a queue; subjects are under aloft.sqs.<token>.
func streamName(queue string) string { return "SQS_" + token(queue) }

// token is a queue name as one subject token, stream-name part and KV key:
// the only "." a queue name may have (of ".fifo") becomes "=", which no
// queue name contains, so "a.fifo" and "a_fifo" stay apart.
func token(queue string) string { return strings.ReplaceAll(queue, ".", "=") }

func msgSubject(queue string) string { return "aloft.sqs." + token(queue) + ".msg" }

func schedSubject(queue, id string) string { return "aloft.sqs." + token(queue) + ".sched." + id }

const consumerName = "recv"

// Create creates a queue, or returns the existing one when its attributes
// are the same (SQS's idempotent CreateQueue).
func (s *Store) Create(ctx context.Context, name string, attrs map[string]string) (*Queue, error) {
	if strings.HasSuffix(name, ".fifo") {
		if !queueNameRE.MatchString(strings.TrimSuffix(name, ".fifo")) || len(name) > 80 {
			return nil, errInvalidValue("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
		}
		if attrs["FifoQueue"] == "" {
			return nil, errorf(codeInvalidParameterValue, "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix. The queue name should also be 1 to 80 in length")
		}
	} else if !queueNameRE.MatchString(name) {
		return nil, errInvalidValue("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	if e := validateAttributes(name, attrs); e != nil {
		return nil, e
	}
	if existing, err := s.Get(ctx, name); err == nil {
		for k, v := range attrs {
			if existing.Attributes[k] != v {
				return nil, errorf(codeQueueAlreadyExists, "A queue already exists with the same name and a different value for attribute %s", k)
			}
		}
		return existing, nil
	}
	now := s.cfg.Now().Unix()
	q := &Queue{Name: name, Attributes: map[string]string{}, Created: now, Modified: now}
	for k, v := range defaults {
		q.Attributes[k] = v
	}
	for k, v := range attrs {
		q.Attributes[k] = v
	}
	if err := s.apply(ctx, q); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(q)
	if _, err := s.meta.Put(ctx, token(name), b); err != nil {
		return nil, fmt.Errorf("sqs: store queue %s: %w", name, err)
	}
	s.logInert(name, attrs)
	return q, nil
}

// Ensure creates the queue or updates its attributes to attrs (a deployed
// template is the truth about its queues).
func (s *Store) Ensure(ctx context.Context, name string, attrs map[string]string) (*Queue, error) {
	q, err := s.Get(ctx, name)
	if err != nil {
		return s.Create(ctx, name, attrs)
	}
	if e := s.SetAttributes(ctx, q, attrs); e != nil {
		return nil, e
	}
	return q, nil
}

// apply creates or updates the queue's stream and consumer from its
// attributes.
func (s *Store) apply(ctx context.Context, q *Queue) error {
	retention := time.Duration(q.intAttr("MessageRetentionPeriod")) * time.Second
	st, err := s.cfg.JetStream.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        streamName(q.Name),
		Description: "aloft: SQS queue " + q.Name,
		Subjects:    []string{"aloft.sqs." + token(q.Name) + ".>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    s.cfg.Replicas,
		MaxAge:      retention,
		// SQS deduplicates within 5 minutes; JetStream's window may not
		// exceed MaxAge, so a shorter retention shortens it (a message
		// that is gone cannot be duplicated anyway).
		Duplicates:        min(5*time.Minute, retention),
		AllowMsgSchedules: true,
	})
	if err != nil {
		return fmt.Errorf("sqs: stream for %s: %w", q.Name, err)
	}
	cc := jetstream.ConsumerConfig{
		Durable:       consumerName,
		FilterSubject: msgSubject(q.Name),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       max(time.Duration(q.intAttr("VisibilityTimeout"))*time.Second, time.Second),
		MaxDeliver:    -1,
		MaxAckPending: -1,
		Replicas:      s.cfg.Replicas,
	}
	if q.fifo() {
		return s.updateGroupConsumers(ctx, q, st) // fifo.go
	}
	if _, err := st.CreateOrUpdateConsumer(ctx, cc); err != nil {
		return fmt.Errorf("sqs: consumer for %s: %w", q.Name, err)
	}
	return nil
}

// Get returns the queue called name, or QueueDoesNotExist.
func (s *Store) Get(ctx context.Context, name string) (*Queue, error) {
	e, err := s.meta.Get(ctx, token(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return nil, errQueueDoesNotExist()
	}
	if err != nil {
		return nil, fmt.Errorf("sqs: load queue %s: %w", name, err)
	}
	var q Queue
	if err := json.Unmarshal(e.Value(), &q); err != nil {
		return nil, fmt.Errorf("sqs: queue %s: %w", name, err)
	}
	return &q, nil
}

// SetAttributes changes a queue's attributes.
func (s *Store) SetAttributes(ctx context.Context, q *Queue, attrs map[string]string) error {
	if e := validateAttributes(q.Name, attrs); e != nil {
		return e
	}
	for k, v := range attrs {
		q.Attributes[k] = v
	}
	q.Modified = s.cfg.Now().Unix()
	if err := s.apply(ctx, q); err != nil {
		return err
	}
	b, _ := json.Marshal(q)
	if _, err := s.meta.Put(ctx, token(q.Name), b); err != nil {
		return fmt.Errorf("sqs: store queue %s: %w", q.Name, err)
	}
	s.logInert(q.Name, attrs)
	return nil
}

// Delete deletes a queue and its messages.
func (s *Store) Delete(ctx context.Context, name string) error {
	if _, err := s.Get(ctx, name); err != nil {
		return err
	}
	if err := s.cfg.JetStream.DeleteStream(ctx, streamName(name)); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("sqs: delete queue %s: %w", name, err)
	}
	if err := s.meta.Purge(ctx, token(name)); err != nil {
		return fmt.Errorf("sqs: delete queue %s: %w", name, err)
	}
	return nil
}

// List returns the names of the queues starting with prefix, sorted.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	lister, err := s.meta.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqs: list queues: %w", err)
	}
	var names []string
	for k := range lister.Keys() {
		q, err := s.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		if strings.HasPrefix(q.Name, prefix) {
			names = append(names, q.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// URL is a queue's URL on this endpoint.
func (s *Store) URL(name string) string {
	return strings.TrimSuffix(s.cfg.Endpoint(), "/") + "/" + s.cfg.AccountID + "/" + name
}

// ARN is a queue's ARN.
func (s *Store) ARN(name string) string {
	return "arn:aws:sqs:" + s.cfg.Region + ":" + s.cfg.AccountID + ":" + name
}

// NameFromURL returns the queue name in a queue URL (its last path segment)
// or ARN.
func NameFromURL(url string) string {
	url = strings.TrimSuffix(url, "/")
	if strings.HasPrefix(url, "arn:") {
		return url[strings.LastIndex(url, ":")+1:]
	}
	return url[strings.LastIndex(url, "/")+1:]
}

// Counts are a queue's approximate message counts.
type Counts struct {
	Visible, InFlight, Delayed int64
	// Oldest is when the oldest message still in the queue was sent; zero
	// when the queue is empty.
	Oldest time.Time
}

// Count returns the queue's approximate message counts.
func (s *Store) Count(ctx context.Context, name string) (Counts, error) {
	st, err := s.cfg.JetStream.Stream(ctx, streamName(name))
	if err != nil {
		return Counts{}, fmt.Errorf("sqs: queue %s: %w", name, err)
	}
	if strings.HasSuffix(name, ".fifo") {
		return s.countFIFO(ctx, name, st)
	}
	c, err := st.Consumer(ctx, consumerName)
	if err != nil {
		return Counts{}, fmt.Errorf("sqs: queue %s: %w", name, err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("sqs: queue %s: %w", name, err)
	}
	si, err := st.Info(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("sqs: queue %s: %w", name, err)
	}
	out := Counts{Visible: int64(ci.NumPending), InFlight: int64(ci.NumAckPending)}
	out.Delayed = max(int64(si.State.Msgs)-out.Visible-out.InFlight, 0)
	// WorkQueue retention removes deleted messages: the first one left is
	// the oldest.
	if m, err := st.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(msgSubject(name))); err == nil {
		if ms, err := strconv.ParseInt(m.Header.Get(hdrSent), 10, 64); err == nil {
			out.Oldest = time.UnixMilli(ms)
		}
	}
	return out, nil
}

// Purge deletes every message of a queue.
func (s *Store) Purge(ctx context.Context, name string) error {
	st, err := s.cfg.JetStream.Stream(ctx, streamName(name))
	if err != nil {
		return fmt.Errorf("sqs: queue %s: %w", name, err)
	}
	if err := st.Purge(ctx); err != nil {
		return fmt.Errorf("sqs: purge %s: %w", name, err)
	}
	return nil
}
