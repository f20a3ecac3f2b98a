package eventbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Backlog is what JetStream holds for one function: the same on every node.
type Backlog struct {
	// Waiting events (including scheduled retries that are due) and events
	// delivered to a worker and not yet finished.
	Waiting, InFlight uint64
	// Scheduled retries, not yet due.
	Scheduled int
	// Oldest is when the oldest unfinished event was accepted; zero when
	// there is none.
	Oldest time.Time
}

// Backlog reports the function's unfinished events.
func (b *Bus) Backlog(ctx context.Context, function string) (Backlog, error) {
	var out Backlog
	c, err := b.stream.Consumer(ctx, "async-"+Token(function))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("eventbus: %s: %w", function, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return out, fmt.Errorf("eventbus: %s: %w", function, err)
	}
	out.Waiting, out.InFlight = info.NumPending, uint64(info.NumAckPending)
	si, err := b.stream.Info(ctx, jetstream.WithSubjectFilter("aloft.async.sched."+Token(function)+".*"))
	if err != nil {
		return out, fmt.Errorf("eventbus: %s: %w", function, err)
	}
	out.Scheduled = len(si.State.Subjects)
	// WorkQueue retention removes finished events, so the first one left
	// on the work subject, or among the scheduled retries, is the oldest
	// unfinished.
	for _, subject := range []string{workSubject(function), "aloft.async.sched." + Token(function) + ".*"} {
		m, err := b.stream.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("eventbus: %s: %w", function, err)
		}
		if t, err := time.Parse(time.RFC3339Nano, m.Header.Get(HeaderEnqueued)); err == nil && (out.Oldest.IsZero() || t.Before(out.Oldest)) {
			out.Oldest = t
		}
	}
	return out, nil
}
