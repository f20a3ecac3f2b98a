// Package eventbus delivers asynchronous Lambda invocations through JetStream.
//
// An accepted event is a message in the ALOFT_ASYNC stream before the caller
// hears 202. One durable pull consumer per function owns its delivery: the
// invocation, retries (as scheduled messages, so every backoff is stored in
// the stream), the maximum event age, OnSuccess/OnFailure destinations and the
// function's dead-letter queue. Nothing is held only in memory: a node that
// dies mid-invocation leaves the message pending until AckWait redelivers it.
//
// The stream, subject and consumer layout is in docs/design/events.md.
package eventbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/runtime"
)

// StreamName is the stream holding asynchronous invocations.
const StreamName = "ALOFT_ASYNC"

// Headers aloft sets on an asynchronous invocation message.
const (
	HeaderRequestID = "Aloft-Request-Id"
	HeaderAttempt   = "Aloft-Attempt"  // retries done so far: 0 on the first delivery
	HeaderEnqueued  = "Aloft-Enqueued" // RFC 3339 time the event was accepted
	// HeaderClientContext is the caller's X-Amz-Client-Context, decoded
	// (JSON); the function gets it on every attempt, as on Lambda.
	HeaderClientContext = "Aloft-Client-Context"
)

// Invoker runs one invocation synchronously; *runtime.Pool is one. It returns
// runtime.ErrTooManyRequests at the function's concurrency cap.
type Invoker interface {
	Invoke(ctx context.Context, req *runtime.Request) (*runtime.Response, error)
}

// Message is what a destination receives: a body, string message attributes
// and an id the destination deduplicates on, so that a redelivered hand-off
// is not delivered twice.
type Message struct {
	Body       []byte
	Attributes map[string]string
	DedupeID   string
}

// Destinations sends a record to the resource an ARN names (an SQS queue, an
// SNS topic or a Lambda function). It returns only once the record is
// accepted (persisted) by the target.
type Destinations interface {
	Send(ctx context.Context, arn string, m Message) error
}

// Function is what the bus needs to deliver a function's events. It is the
// function's EventInvokeConfig and DeadLetterConfig in resolved form.
type Function struct {
	Name    string
	ARN     string
	Invoker Invoker
	// Timeout is the function's timeout, for the record; the worker keeps a
	// running invocation's event from redelivery with heartbeats, whatever
	// the timeout.
	Timeout time.Duration
	// Concurrency caps the workers pulling this function's events on this
	// node (at most 16); 0 means 16.
	Concurrency int
	// MaxRetryAttempts is EventInvokeConfig.MaximumRetryAttempts (0–2); nil
	// means 2.
	MaxRetryAttempts *int
	// MaxEventAge is MaximumEventAgeInSeconds; 0 means 6 hours.
	MaxEventAge time.Duration
	// OnSuccess and OnFailure are destination ARNs; DeadLetter is
	// DeadLetterConfig.TargetArn, used only when OnFailure is "".
	OnSuccess, OnFailure, DeadLetter string
}

// Config configures a Bus. JetStream is required; every other zero value is
// documented.
type Config struct {
	JetStream jetstream.JetStream
	// Replicas is the stream's replica count; 0 means 1 (embedded). Set 3 on
	// a NATS cluster.
	Replicas int
	// RetryBackoff is the delay before retry n (1-based) is n×RetryBackoff;
	// 0 means 1 minute, as on Lambda.
	RetryBackoff time.Duration
	// AckWait is how long an event delivered to a node that died stays
	// invisible before another worker gets it; 0 means 10 s. Workers send
	// a heartbeat every AckWait/3 while the function runs, so it does not
	// bound the function's timeout.
	AckWait time.Duration
	// ThrottleDelay is how long an event waits when the function is at its
	// concurrency cap; 0 means 1 s.
	ThrottleDelay time.Duration
	// Destinations delivers destination records and dead letters; nil makes
	// every destination a delivery failure (the event waits, it is not lost).
	Destinations Destinations
	// Logs receives one line per dropped, dead-lettered or undeliverable
	// event; nil discards them.
	Logs io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Bus accepts asynchronous invocations and delivers them. Create it with
// New, give it the deployed functions with Serve (again on every deploy), and
// stop it with Shutdown. Its methods are safe for concurrent use.
type Bus struct {
	cfg    Config
	stream jetstream.Stream

	mu      sync.Mutex
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stats   map[string]*Stats
	stopped bool
}

// New creates (or updates) the ALOFT_ASYNC stream and returns a Bus that
// accepts events; nothing is delivered until Serve.
func New(ctx context.Context, cfg Config) (*Bus, error) {
	if cfg.JetStream == nil {
		return nil, errors.New("eventbus: Config.JetStream is required")
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = time.Minute
	}
	if cfg.ThrottleDelay == 0 {
		cfg.ThrottleDelay = time.Second
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = 10 * time.Second
	}
	if cfg.Logs == nil {
		cfg.Logs = io.Discard
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	st, err := cfg.JetStream.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              StreamName,
		Description:       "aloft: asynchronous Lambda invocations",
		Subjects:          []string{"aloft.async.>"},
		Retention:         jetstream.WorkQueuePolicy,
		Storage:           jetstream.FileStorage,
		Replicas:          cfg.Replicas,
		Duplicates:        5 * time.Minute,
		AllowMsgSchedules: true,
	})
	if err != nil {
		return nil, fmt.Errorf("eventbus: stream %s: %w", StreamName, err)
	}
	return &Bus{cfg: cfg, stream: st, stats: map[string]*Stats{}}, nil
}

// Token makes a name safe as one subject token or consumer name.
func Token(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\n', '\r', '/', '\\':
			return '_'
		}
		return r
	}, name)
}

func workSubject(fn string) string { return "aloft.async.fn." + Token(fn) }

// Enqueue accepts an asynchronous invocation of function: it returns the
// request id once JetStream has stored the event. clientContext is the
// caller's decoded X-Amz-Client-Context ("" for none); the function receives
// it with every attempt.
func (b *Bus) Enqueue(ctx context.Context, function string, payload []byte, clientContext string) (string, error) {
	return b.enqueue(ctx, function, payload, clientContext, "")
}

// EnqueueOnce is Enqueue for aloft's own hand-offs (a Lambda destination):
// a second call with the same dedupeID within 5 minutes is accepted without
// storing the event again. "" means no deduplication.
func (b *Bus) EnqueueOnce(ctx context.Context, function string, payload []byte, dedupeID string) (string, error) {
	return b.enqueue(ctx, function, payload, "", dedupeID)
}

func (b *Bus) enqueue(ctx context.Context, function string, payload []byte, clientContext, dedupeID string) (string, error) {
	id := runtime.NewRequestID()
	m := nats.NewMsg(workSubject(function))
	m.Header.Set(HeaderRequestID, id)
	m.Header.Set(HeaderAttempt, "0")
	m.Header.Set(HeaderEnqueued, b.cfg.Now().UTC().Format(time.RFC3339Nano))
	if clientContext != "" {
		m.Header.Set(HeaderClientContext, clientContext)
	}
	if dedupeID != "" {
		m.Header.Set(nats.MsgIdHdr, dedupeID)
	}
	m.Data = payload
	if _, err := b.cfg.JetStream.PublishMsg(ctx, m); err != nil {
		return "", fmt.Errorf("eventbus: enqueue %s: %w", function, err)
	}
	b.stat(function).Accepted.Add(1)
	return id, nil
}

// Serve starts delivering the events of fns, replacing the functions served
// before (their workers stop; their events stay in the stream).
func (b *Bus) Serve(ctx context.Context, fns []Function) error {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return errors.New("eventbus: shut down")
	}
	if b.cancel != nil {
		b.cancel()
	}
	b.mu.Unlock()
	b.wg.Wait()

	consumers := make([]jetstream.Consumer, len(fns))
	for i, fn := range fns {
		c, err := b.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       "async-" + Token(fn.Name),
			Description:   "aloft: asynchronous invocations of " + fn.Name,
			FilterSubject: workSubject(fn.Name),
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       b.cfg.AckWait,
			MaxDeliver:    -1,
			Replicas:      b.cfg.Replicas,
		})
		if err != nil {
			return fmt.Errorf("eventbus: consumer for %s: %w", fn.Name, err)
		}
		consumers[i] = c
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return errors.New("eventbus: shut down")
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.cancel = cancel
	for i, fn := range fns {
		w := &worker{bus: b, fn: fn, cons: consumers[i], stats: b.statLocked(fn.Name)}
		n := fn.Concurrency
		if n <= 0 || n > 16 {
			n = 16
		}
		for range n {
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				w.run(wctx)
			}()
		}
	}
	return nil
}

// Shutdown stops the workers, waiting for in-flight invocations until ctx
// ends. Unacknowledged events stay in the stream.
func (b *Bus) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	b.stopped = true
	if b.cancel != nil {
		b.cancel()
	}
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("eventbus: shutdown: %w", ctx.Err())
	}
}
