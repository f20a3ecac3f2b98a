package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/runtime"
)

// worker pulls one function's events, one at a time.
type worker struct {
	bus   *Bus
	fn    Function
	cons  jetstream.Consumer
	stats *Stats
}

func (w *worker) run(ctx context.Context) {
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		batch, err := w.cons.Fetch(1, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if ctx.Err() == nil {
				fmt.Fprintf(w.bus.cfg.Logs, "eventbus: %s: fetch: %v\n", w.fn.Name, err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second): // back off a failing fetch; the events stay stored
				}
			}
			continue
		}
		for msg := range batch.Messages() {
			w.deliver(ctx, msg)
		}
		cancel()
	}
}

// event is an asynchronous invocation as read back from the stream.
type event struct {
	requestID string
	// clientContext is the caller's decoded X-Amz-Client-Context, or "".
	clientContext string
	attempt       int
	enqueued      time.Time
	payload       []byte
	seq           uint64
}

func parseEvent(msg jetstream.Msg) (event, error) {
	h := msg.Headers()
	e := event{requestID: h.Get(HeaderRequestID), clientContext: h.Get(HeaderClientContext), payload: msg.Data()}
	var err error
	if e.attempt, err = strconv.Atoi(h.Get(HeaderAttempt)); err != nil {
		return e, fmt.Errorf("header %s: %w", HeaderAttempt, err)
	}
	if e.enqueued, err = time.Parse(time.RFC3339Nano, h.Get(HeaderEnqueued)); err != nil {
		return e, fmt.Errorf("header %s: %w", HeaderEnqueued, err)
	}
	md, err := msg.Metadata()
	if err != nil {
		return e, err
	}
	e.seq = md.Sequence.Stream
	return e, nil
}

func (w *worker) deliver(ctx context.Context, msg jetstream.Msg) {
	logf := func(format string, args ...any) {
		fmt.Fprintf(w.bus.cfg.Logs, "eventbus: %s: "+format+"\n", append([]any{w.fn.Name}, args...)...)
	}
	ev, err := parseEvent(msg)
	if err != nil {
		// Not an event aloft wrote: keep it out of the way, and say so.
		w.stats.Dropped.Add(1)
		logf("dropping a malformed event (%v)", err)
		if err := msg.Term(); err != nil {
			logf("terminate: %v", err)
		}
		return
	}
	maxAge := w.fn.MaxEventAge
	if maxAge == 0 {
		maxAge = 6 * time.Hour
	}
	if age := w.bus.cfg.Now().Sub(ev.enqueued); age > maxAge {
		w.fail(ctx, msg, ev, "EventAgeExceeded", nil, logf)
		return
	}
	w.stats.InFlight.Add(1)
	stop := w.heartbeat(msg)
	resp, err := w.fn.Invoker.Invoke(ctx, &runtime.Request{RequestID: invocationID(ev), Payload: ev.payload, InvokedARN: w.fn.ARN,
		ClientContext: ev.clientContext})
	stop()
	w.stats.InFlight.Add(-1)
	switch {
	case errors.Is(err, runtime.ErrTooManyRequests):
		w.stats.Throttled.Add(1)
		if err := msg.NakWithDelay(w.bus.cfg.ThrottleDelay); err != nil {
			logf("nak: %v", err)
		}
		return
	case err != nil && (errors.Is(err, runtime.ErrPoolClosed) || ctx.Err() != nil):
		// Shutting down or redeploying: someone will deliver it again.
		if err := msg.Nak(); err != nil && ctx.Err() == nil {
			logf("nak: %v", err)
		}
		return
	case err != nil:
		resp = &runtime.Response{FunctionError: "Unhandled", Payload: errorPayload(err)}
	}
	if resp.FunctionError == "" {
		if w.fn.OnSuccess != "" {
			rec := w.record(ev, "Success", resp)
			if err := w.send(ctx, w.fn.OnSuccess, Message{Body: rec, DedupeID: fmt.Sprintf("success-%s-%d", StreamName, ev.seq)}); err != nil {
				logf("OnSuccess destination %s: %v; the event will be redelivered", w.fn.OnSuccess, err)
				w.nakLater(msg, logf)
				return
			}
		}
		w.stats.Delivered.Add(1)
		w.ack(msg, logf)
		return
	}
	maxRetries := 2
	if w.fn.MaxRetryAttempts != nil {
		maxRetries = *w.fn.MaxRetryAttempts
	}
	if ev.attempt < maxRetries {
		if err := w.retry(ctx, ev); err != nil {
			logf("scheduling retry %d of request %s: %v; the event will be redelivered", ev.attempt+1, ev.requestID, err)
			w.nakLater(msg, logf)
			return
		}
		w.stats.Retried.Add(1)
		w.ack(msg, logf)
		return
	}
	w.fail(ctx, msg, ev, "RetriesExhausted", resp, logf)
}

// heartbeat tells JetStream the event is still being worked on every
// AckWait/3, so AckWait can stay short (a dead node's events come back
// quickly) whatever the function's timeout. The returned func stops it.
func (w *worker) heartbeat(msg jetstream.Msg) func() {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(w.bus.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				msg.InProgress()
			}
		}
	}()
	// Stopping waits for the goroutine, so no heartbeat races the ack.
	return func() { close(done); <-exited }
}

// invocationID is the request id of one attempt: Lambda keeps the id across
// retries, and so does aloft.
func invocationID(ev event) string { return ev.requestID }

// retry stores the next attempt as a scheduled message: it is the only
// record of the backoff, and it survives any crash.
func (w *worker) retry(ctx context.Context, ev event) error {
	next := ev.attempt + 1
	// The due time is on the NATS server's clock, not Config.Now.
	due := time.Now().Add(time.Duration(next) * w.bus.cfg.RetryBackoff).UTC()
	m := nats.NewMsg(fmt.Sprintf("aloft.async.sched.%s.%s-%d", Token(w.fn.Name), Token(ev.requestID), next))
	m.Header.Set("Nats-Schedule", "@at "+due.Format(time.RFC3339Nano))
	m.Header.Set("Nats-Schedule-Target", workSubject(w.fn.Name))
	m.Header.Set(HeaderRequestID, ev.requestID)
	m.Header.Set(HeaderAttempt, strconv.Itoa(next))
	m.Header.Set(HeaderEnqueued, ev.enqueued.UTC().Format(time.RFC3339Nano))
	if ev.clientContext != "" {
		m.Header.Set(HeaderClientContext, ev.clientContext)
	}
	m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("%s-%d", ev.requestID, next))
	m.Data = ev.payload
	_, err := w.bus.cfg.JetStream.PublishMsg(ctx, m)
	return err
}

// fail hands an event that will not be retried to OnFailure, else to the
// dead-letter queue, and only then removes it. Without either it is dropped,
// as on Lambda, with a log line and a counter.
func (w *worker) fail(ctx context.Context, msg jetstream.Msg, ev event, condition string, resp *runtime.Response, logf func(string, ...any)) {
	dedupe := fmt.Sprintf("dlq-%s-%d", StreamName, ev.seq)
	switch {
	case w.fn.OnFailure != "":
		if err := w.send(ctx, w.fn.OnFailure, Message{Body: w.record(ev, condition, resp), DedupeID: dedupe}); err != nil {
			logf("OnFailure destination %s: %v; the event will be redelivered", w.fn.OnFailure, err)
			w.nakLater(msg, logf)
			return
		}
		w.stats.DeadLettered.Add(1)
	case w.fn.DeadLetter != "":
		errMsg := condition
		if resp != nil {
			var doc struct {
				ErrorMessage string `json:"errorMessage"`
			}
			if json.Unmarshal(resp.Payload, &doc) == nil && doc.ErrorMessage != "" {
				errMsg = doc.ErrorMessage
			}
		}
		m := Message{Body: ev.payload, DedupeID: dedupe, Attributes: map[string]string{
			"RequestID": ev.requestID, "ErrorCode": "200", "ErrorMessage": errMsg,
		}}
		if err := w.send(ctx, w.fn.DeadLetter, m); err != nil {
			logf("dead-letter queue %s: %v; the event will be redelivered", w.fn.DeadLetter, err)
			w.nakLater(msg, logf)
			return
		}
		w.stats.DeadLettered.Add(1)
	default:
		w.stats.Dropped.Add(1)
		logf("dropping request %s after %d attempts (%s): no OnFailure destination or dead-letter queue", ev.requestID, ev.attempt+1, condition)
	}
	w.stats.Failed.Add(1)
	w.ack(msg, logf)
}

func (w *worker) send(ctx context.Context, arn string, m Message) error {
	if w.bus.cfg.Destinations == nil {
		return errors.New("no destinations configured")
	}
	return w.bus.cfg.Destinations.Send(ctx, arn, m)
}

func (w *worker) ack(msg jetstream.Msg, logf func(string, ...any)) {
	if err := msg.DoubleAck(context.Background()); err != nil {
		logf("ack: %v", err)
	}
}

func (w *worker) nakLater(msg jetstream.Msg, logf func(string, ...any)) {
	if err := msg.NakWithDelay(w.bus.cfg.ThrottleDelay); err != nil {
		logf("nak: %v", err)
	}
}

// record is Lambda's destination record for an asynchronous invocation.
func (w *worker) record(ev event, condition string, resp *runtime.Response) []byte {
	type requestContext struct {
		RequestID              string `json:"requestId"`
		FunctionARN            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	}
	type responseContext struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError,omitempty"`
	}
	rec := struct {
		Version         string           `json:"version"`
		Timestamp       string           `json:"timestamp"`
		RequestContext  requestContext   `json:"requestContext"`
		RequestPayload  json.RawMessage  `json:"requestPayload"`
		ResponseContext *responseContext `json:"responseContext,omitempty"`
		ResponsePayload json.RawMessage  `json:"responsePayload,omitempty"`
	}{
		Version:   "1.0",
		Timestamp: w.bus.cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: requestContext{
			RequestID: ev.requestID, FunctionARN: w.fn.ARN + ":$LATEST",
			Condition: condition, ApproximateInvokeCount: ev.attempt + 1,
		},
		RequestPayload: rawJSON(ev.payload),
	}
	if resp != nil {
		rec.ResponseContext = &responseContext{StatusCode: 200, ExecutedVersion: "$LATEST", FunctionError: resp.FunctionError}
		rec.ResponsePayload = rawJSON(resp.Payload)
	} else {
		rec.RequestContext.ApproximateInvokeCount = ev.attempt
	}
	b, err := json.Marshal(rec)
	if err != nil {
		panic(fmt.Sprintf("eventbus: encoding a destination record: %v", err)) // only RawMessage values, always valid
	}
	return b
}

// rawJSON returns b when it is JSON, else b as a JSON string.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

func errorPayload(err error) []byte {
	b, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": "Runtime.Unavailable"})
	return b
}
