package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/backbone"
	"github.com/aloft-dev/aloft/internal/runtime"
)

// invokerFunc injects an invocation outcome.
type invokerFunc func(*runtime.Request) (*runtime.Response, error)

func (f invokerFunc) Invoke(_ context.Context, r *runtime.Request) (*runtime.Response, error) {
	return f(r)
}

// sink records what destinations receive.
type sink struct {
	mu   sync.Mutex
	sent map[string][]Message
}

func (s *sink) Send(_ context.Context, arn string, m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent[arn] = append(s.sent[arn], m)
	return nil
}

func (s *sink) get(arn string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.sent[arn]...)
}

type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func startBus(t *testing.T, c *clock) (*Bus, *sink) {
	t.Helper()
	bb, err := backbone.Start(context.Background(), backbone.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Shutdown(context.Background()) })
	dest := &sink{sent: map[string][]Message{}}
	bus, err := New(context.Background(), Config{JetStream: bb.JetStream(), RetryBackoff: 20 * time.Millisecond,
		ThrottleDelay: 20 * time.Millisecond, Destinations: dest, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Shutdown(context.Background()) })
	return bus, dest
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	end := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMaximumEventAge(t *testing.T) {
	c := &clock{}
	bus, dest := startBus(t, c)
	var calls atomic.Int64
	fail := invokerFunc(func(*runtime.Request) (*runtime.Response, error) {
		calls.Add(1)
		// After the first attempt the clock jumps past the maximum age, so
		// the scheduled retry finds the event too old.
		c.offset.Store(int64(2 * time.Minute))
		return &runtime.Response{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"no"}`)}, nil
	})
	if err := bus.Serve(context.Background(), []Function{{Name: "f", ARN: "arn:aws:lambda:us-east-1:000000000000:function:f",
		Invoker: fail, MaxEventAge: time.Minute, OnFailure: "arn:aws:sqs:us-east-1:000000000000:failures"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Enqueue(context.Background(), "f", []byte(`{"x":1}`), ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the OnFailure record", func() bool { return len(dest.get("arn:aws:sqs:us-east-1:000000000000:failures")) == 1 })
	var rec struct {
		RequestContext struct {
			Condition              string `json:"condition"`
			ApproximateInvokeCount int    `json:"approximateInvokeCount"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal(dest.get("arn:aws:sqs:us-east-1:000000000000:failures")[0].Body, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.RequestContext.Condition != "EventAgeExceeded" || rec.RequestContext.ApproximateInvokeCount != 1 || calls.Load() != 1 {
		t.Errorf("record %+v after %d calls", rec, calls.Load())
	}
}

func TestThrottlingDoesNotSpendAttempts(t *testing.T) {
	bus, dest := startBus(t, &clock{})
	var calls atomic.Int64
	inv := invokerFunc(func(*runtime.Request) (*runtime.Response, error) {
		if calls.Add(1) <= 5 {
			return nil, runtime.ErrTooManyRequests
		}
		return &runtime.Response{Payload: []byte(`"ok"`)}, nil
	})
	zero := 0
	if err := bus.Serve(context.Background(), []Function{{Name: "g", ARN: "arn:g", Invoker: inv, Concurrency: 1,
		MaxRetryAttempts: &zero, OnSuccess: "arn:ok", OnFailure: "arn:failed"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Enqueue(context.Background(), "g", []byte(`{}`), ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "delivery after throttling", func() bool { return len(dest.get("arn:ok")) == 1 })
	if len(dest.get("arn:failed")) != 0 {
		t.Error("a throttled event was failed")
	}
	st := bus.Stats()
	if len(st) != 1 || st[0].Throttled != 5 || st[0].Delivered != 1 || st[0].Accepted != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestUndeliveredEventsSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	bb, err := backbone.Start(ctx, backbone.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	bus, err := New(ctx, Config{JetStream: bb.JetStream()})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := bus.Enqueue(ctx, "h", []byte(`{}`), ""); err != nil {
			t.Fatal(err)
		}
	}
	bus.Shutdown(ctx)
	bb.Shutdown(ctx)

	bb, err = backbone.Start(ctx, backbone.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Shutdown(ctx)
	bus, err = New(ctx, Config{JetStream: bb.JetStream()})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Shutdown(ctx)
	var calls atomic.Int64
	inv := invokerFunc(func(*runtime.Request) (*runtime.Response, error) {
		calls.Add(1)
		return &runtime.Response{Payload: []byte(`null`)}, nil
	})
	if err := bus.Serve(ctx, []Function{{Name: "h", ARN: "arn:h", Invoker: inv}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "10 deliveries", func() bool { return calls.Load() == 10 })
}

func TestBacklogCountsScheduledRetries(t *testing.T) {
	c := &clock{}
	bb, err := backbone.Start(context.Background(), backbone.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Shutdown(context.Background()) })
	bus, err := New(context.Background(), Config{JetStream: bb.JetStream(), RetryBackoff: time.Hour, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Shutdown(context.Background()) })
	fail := invokerFunc(func(*runtime.Request) (*runtime.Response, error) {
		return &runtime.Response{FunctionError: "Unhandled", Payload: []byte(`{}`)}, nil
	})
	if err := bus.Serve(context.Background(), []Function{{Name: "r", ARN: "arn:r", Invoker: fail}}); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if _, err := bus.Enqueue(context.Background(), "r", []byte(`{}`), ""); err != nil {
		t.Fatal(err)
	}
	var bl Backlog
	// The retry is stored before the first attempt is acked, so wait for
	// both.
	eventually(t, "a scheduled retry and nothing else", func() bool {
		bl, err = bus.Backlog(context.Background(), "r")
		return err == nil && bl.Scheduled == 1 && bl.InFlight == 0 && bl.Waiting == 0
	})
	if bl.Oldest.Before(before.Add(-time.Second)) || bl.Oldest.After(time.Now()) {
		t.Errorf("backlog %+v", bl)
	}
}

// TestLongInvocationsAreNotRedelivered holds an invocation until the test
// has seen the worker's in-progress heartbeats (+WPI on the message's ack
// subject) span twice AckWait: only they keep the event from the second
// waiting worker. Heartbeats come every AckWait/3, so a redelivery needs a
// stall of more than two heartbeat intervals, far beyond scheduling noise.
func TestLongInvocationsAreNotRedelivered(t *testing.T) {
	bb, err := backbone.Start(context.Background(), backbone.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Shutdown(context.Background()) })
	const ackWait = 2 * time.Second
	var beats atomic.Int64
	sub, err := bb.Conn().Subscribe("$JS.ACK."+StreamName+".async-s.>", func(m *nats.Msg) {
		if string(m.Data) == "+WPI" {
			beats.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	dest := &sink{sent: map[string][]Message{}}
	bus, err := New(context.Background(), Config{JetStream: bb.JetStream(), AckWait: ackWait, Destinations: dest})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Shutdown(context.Background()) })
	var calls atomic.Int64
	slow := invokerFunc(func(*runtime.Request) (*runtime.Response, error) {
		calls.Add(1)
		// The function's work: 6 heartbeats, two AckWaits. (Not
		// eventually: this runs on a worker's goroutine.)
		for end := time.Now().Add(20 * time.Second); beats.Load() < 6; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(end) {
				t.Errorf("%d heartbeats in 20 s", beats.Load())
				break
			}
		}
		return &runtime.Response{Payload: []byte(`null`)}, nil
	})
	if err := bus.Serve(context.Background(), []Function{{Name: "s", ARN: "arn:s", Invoker: slow, Concurrency: 2, OnSuccess: "arn:done"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Enqueue(context.Background(), "s", []byte(`{}`), ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the OnSuccess record", func() bool { return len(dest.get("arn:done")) == 1 })
	if n := calls.Load(); n != 1 {
		t.Errorf("%d invocations of one event", n)
	}
}

func TestClientContextReachesEveryAttempt(t *testing.T) {
	bus, dest := startBus(t, &clock{})
	var mu sync.Mutex
	var seen []string
	fail := invokerFunc(func(r *runtime.Request) (*runtime.Response, error) {
		mu.Lock()
		seen = append(seen, r.ClientContext)
		mu.Unlock()
		return &runtime.Response{FunctionError: "Unhandled", Payload: []byte(`{}`)}, nil
	})
	if err := bus.Serve(context.Background(), []Function{{Name: "c", ARN: "arn:c", Invoker: fail, OnFailure: "arn:failed"}}); err != nil {
		t.Fatal(err)
	}
	const cc = `{"custom":{"k":"v"}}`
	if _, err := bus.Enqueue(context.Background(), "c", []byte(`{}`), cc); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the OnFailure record", func() bool { return len(dest.get("arn:failed")) == 1 })
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen[0] != cc || seen[1] != cc || seen[2] != cc {
		t.Errorf("client context per attempt: %q", seen)
	}
}

// storingDest stores each record in a real stream, deduplicated by the
// message's DedupeID as aloft's destinations are; failFirst makes the first
// Send report an error after storing, as a crash between the dead-letter
// publish and the ack would.
type storingDest struct {
	js        jetstream.JetStream
	failFirst atomic.Bool
	mu        sync.Mutex
	ids       []string
}

func (d *storingDest) Send(ctx context.Context, arn string, m Message) error {
	d.mu.Lock()
	d.ids = append(d.ids, m.DedupeID)
	d.mu.Unlock()
	msg := nats.NewMsg("records." + Token(arn))
	msg.Header.Set(nats.MsgIdHdr, m.DedupeID)
	msg.Data = m.Body
	if _, err := d.js.PublishMsg(ctx, msg); err != nil {
		return err
	}
	if d.failFirst.CompareAndSwap(true, false) {
		return errors.New("lost the ack")
	}
	return nil
}

// TestDeadLetterHandOffIsDeduplicated: an event whose dead-letter hand-off
// is repeated (redelivered after the record was stored) hands off the same
// dedupe id each time, so the target stores one record.
func TestDeadLetterHandOffIsDeduplicated(t *testing.T) {
	bb, err := backbone.Start(context.Background(), backbone.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Shutdown(context.Background()) })
	ctx := context.Background()
	records, err := bb.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "RECORDS", Subjects: []string{"records.>"}, Duplicates: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fn   Function
	}{
		{"OnFailure", Function{OnFailure: "arn:failures"}},
		{"DeadLetterConfig", Function{DeadLetter: "arn:dlq"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := &storingDest{js: bb.JetStream()}
			dest.failFirst.Store(true)
			bus, err := New(ctx, Config{JetStream: bb.JetStream(), ThrottleDelay: 20 * time.Millisecond, Destinations: dest})
			if err != nil {
				t.Fatal(err)
			}
			defer bus.Shutdown(ctx)
			zero := 0
			fn := tc.fn
			fn.Name, fn.ARN, fn.MaxRetryAttempts = "d"+tc.name, "arn:d", &zero
			fn.Invoker = invokerFunc(func(*runtime.Request) (*runtime.Response, error) {
				return &runtime.Response{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"no"}`)}, nil
			})
			if err := bus.Serve(ctx, []Function{fn}); err != nil {
				t.Fatal(err)
			}
			before, err := records.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bus.Enqueue(ctx, fn.Name, []byte(`{}`), ""); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the event dead-lettered", func() bool {
				st := bus.Stats()
				return len(st) == 1 && st[0].DeadLettered == 1
			})
			dest.mu.Lock()
			ids := append([]string(nil), dest.ids...)
			dest.mu.Unlock()
			if len(ids) != 2 || ids[0] != ids[1] || !strings.HasPrefix(ids[0], "dlq-"+StreamName+"-") {
				t.Errorf("hand-off dedupe ids %q, want the same dlq- id twice", ids)
			}
			after, err := records.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n := after.State.Msgs - before.State.Msgs; n != 1 {
				t.Errorf("%d records stored, want 1", n)
			}
		})
	}
}
