package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aloft-dev/aloft/internal/runtime"
)

// Invoker runs one synchronous invocation; *runtime.Pool is one.
type Invoker interface {
	Invoke(ctx context.Context, req *runtime.Request) (*runtime.Response, error)
}

// Mapping is an SQS event source mapping (AWS::Lambda::EventSourceMapping
// whose EventSourceArn is a queue): pollers receive batches from the queue
// and invoke the function with an events.SQSEvent.
type Mapping struct {
	// ID is the mapping's UUID.
	ID string
	// Queue is the queue's name.
	Queue string
	// Function names the function, for logs.
	Function string
	Invoker  Invoker
	// BatchSize is the largest batch; 0 means 10.
	BatchSize int
	// BatchWindow is MaximumBatchingWindowInSeconds: how long to gather a
	// batch before invoking; 0 invokes with whatever the first receive got.
	BatchWindow time.Duration
	// ReportBatchItemFailures enables partial batch responses
	// ({"batchItemFailures":[{"itemIdentifier": id}]}).
	ReportBatchItemFailures bool
	// MaxConcurrency is ScalingConfig.MaximumConcurrency: the pollers (and
	// so concurrent invocations) on this node; 0 means 2.
	MaxConcurrency int
}

// PollerStats counts one mapping's batches on this node.
type PollerStats struct {
	Mapping, Queue, Function                        string
	Batches, Delivered, Failed, Throttled, InFlight int64
}

// Pollers runs event source mappings. Stop it before stopping the
// functions it invokes.
type Pollers struct {
	store  *Store
	logs   io.Writer
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	stats map[string]*PollerStats
}

// StartPollers starts the pollers of mappings; logs receives one line per
// failure. Messages stay in their queue until a batch succeeds, so stopping
// or crashing loses nothing: unacknowledged messages return after the
// visibility timeout.
func (s *Store) StartPollers(ctx context.Context, mappings []Mapping, logs io.Writer) *Pollers {
	if logs == nil {
		logs = io.Discard
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &Pollers{store: s, logs: logs, cancel: cancel, stats: map[string]*PollerStats{}}
	for _, m := range mappings {
		if m.BatchSize <= 0 {
			m.BatchSize = 10
		}
		if m.MaxConcurrency <= 0 {
			m.MaxConcurrency = 2
		}
		st := &PollerStats{Mapping: m.ID, Queue: m.Queue, Function: m.Function}
		p.stats[m.ID] = st
		for range m.MaxConcurrency {
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.poll(ctx, m, st)
			}()
		}
	}
	return p
}

// Stop stops polling and waits for in-flight batches until ctx ends.
func (p *Pollers) Stop(ctx context.Context) error {
	p.cancel()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sqs: stopping pollers: %w", ctx.Err())
	}
}

// Stats returns a snapshot of every mapping's counters.
func (p *Pollers) Stats() []PollerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PollerStats, 0, len(p.stats))
	for _, s := range p.stats {
		out = append(out, *s)
	}
	return out
}

func (p *Pollers) count(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
}

func (p *Pollers) poll(ctx context.Context, m Mapping, st *PollerStats) {
	logf := func(format string, args ...any) {
		fmt.Fprintf(p.logs, "sqs: %s → %s: "+format+"\n", append([]any{m.Queue, m.Function}, args...)...)
	}
	pause := func() {
		select {
		case <-ctx.Done():
		case <-time.After(time.Second): // back off after an error; messages stay queued
		}
	}
	for ctx.Err() == nil {
		q, err := p.store.Get(ctx, m.Queue)
		if err != nil {
			if ctx.Err() == nil {
				logf("%v", err)
				pause()
			}
			continue
		}
		batch, err := p.gather(ctx, q, m)
		if err != nil && ctx.Err() == nil {
			logf("receive: %v", err)
			pause()
		}
		if len(batch) == 0 {
			continue
		}
		p.count(func() { st.Batches++; st.InFlight += int64(len(batch)) })
		p.invoke(ctx, q, m, batch, st, logf)
		p.count(func() { st.InFlight -= int64(len(batch)) })
	}
}

// gather receives up to BatchSize messages, waiting up to BatchWindow to
// fill the batch once the first message arrived.
func (p *Pollers) gather(ctx context.Context, q *Queue, m Mapping) ([]*Message, error) {
	wait := 5 * time.Second
	batch, err := p.store.Receive(ctx, q, ReceiveInput{Max: m.BatchSize, Wait: &wait})
	if err != nil || len(batch) == 0 || m.BatchWindow <= 0 {
		return batch, err
	}
	end := time.Now().Add(m.BatchWindow)
	for len(batch) < m.BatchSize && ctx.Err() == nil {
		left := time.Until(end)
		if left <= 0 {
			break
		}
		more, err := p.store.Receive(ctx, q, ReceiveInput{Max: m.BatchSize - len(batch), Wait: &left})
		if err != nil {
			return batch, nil // invoke with what we have; the error recurs on the next receive
		}
		batch = append(batch, more...)
	}
	return batch, nil
}

func (p *Pollers) invoke(ctx context.Context, q *Queue, m Mapping, batch []*Message, st *PollerStats, logf func(string, ...any)) {
	payload, err := json.Marshal(p.store.sqsEvent(q, batch))
	if err != nil {
		logf("encoding the event: %v", err)
		return
	}
	resp, err := m.Invoker.Invoke(ctx, &runtime.Request{Payload: payload})
	switch {
	case errors.Is(err, runtime.ErrTooManyRequests):
		p.count(func() { st.Throttled++ })
		for _, msg := range batch {
			if err := p.store.nak(msg.msg.Reply(), time.Second); err != nil {
				logf("returning a throttled message: %v", err)
			}
		}
		return
	case err != nil:
		// The messages return to the queue after the visibility timeout.
		p.count(func() { st.Failed += int64(len(batch)) })
		if ctx.Err() == nil {
			logf("invoke: %v", err)
		}
		return
	case resp.FunctionError != "":
		p.count(func() { st.Failed += int64(len(batch)) })
		return
	}
	failed := map[string]bool{}
	if m.ReportBatchItemFailures {
		var partial events.SQSEventResponse
		ids := map[string]bool{}
		for _, msg := range batch {
			ids[msg.MessageID] = true
		}
		if len(resp.Payload) > 0 && json.Unmarshal(resp.Payload, &partial) == nil {
			for _, f := range partial.BatchItemFailures {
				if !ids[f.ItemIdentifier] {
					// Lambda treats an unknown or empty identifier as a
					// failure of the whole batch.
					logf("batchItemFailures names %q, not a message of the batch: the whole batch failed", f.ItemIdentifier)
					p.count(func() { st.Failed += int64(len(batch)) })
					return
				}
				failed[f.ItemIdentifier] = true
			}
		}
	}
	for _, msg := range batch {
		if failed[msg.MessageID] {
			continue
		}
		if err := p.store.DeleteMessage(context.WithoutCancel(ctx), q, msg.ReceiptHandle); err != nil {
			logf("deleting message %s: %v (it will be delivered again)", msg.MessageID, err)
		}
	}
	p.count(func() { st.Delivered += int64(len(batch) - len(failed)); st.Failed += int64(len(failed)) })
}

// sqsEvent is the event Lambda passes for a batch, as aws-lambda-go's
// events.SQSEvent decodes it.
func (s *Store) sqsEvent(q *Queue, batch []*Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(batch))}
	for _, m := range batch {
		rec := events.SQSMessage{
			MessageId: m.MessageID, ReceiptHandle: m.ReceiptHandle, Body: m.Body, Md5OfBody: m.MD5OfBody,
			Md5OfMessageAttributes: m.MD5OfMessageAttributes,
			Attributes:             map[string]string{},
			MessageAttributes:      map[string]events.SQSMessageAttribute{},
			EventSourceARN:         s.ARN(q.Name), EventSource: "aws:sqs", AWSRegion: s.cfg.Region,
		}
		for _, k := range []string{"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
			"MessageGroupId", "MessageDeduplicationId", "SequenceNumber"} {
			if v, ok := m.Attributes[k]; ok {
				rec.Attributes[k] = v
			}
		}
		for name, a := range m.MessageAttributes {
			ma := events.SQSMessageAttribute{DataType: a.DataType, StringListValues: []string{}, BinaryListValues: [][]byte{}}
			if strings.HasPrefix(a.DataType, "Binary") {
				ma.BinaryValue = a.BinaryValue
			} else {
				v := a.StringValue
				ma.StringValue = &v
			}
			rec.MessageAttributes[name] = ma
		}
		ev.Records = append(ev.Records, rec)
	}
	return ev
}
