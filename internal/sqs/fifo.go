package sqs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A FIFO queue keeps each message group on its own subject,
// aloft.sqs.<queue>.g.<group hash>, read by its own durable consumer
// ("g-<group hash>", created on first receive) with MaxAckPending 1: a
// group's messages are handed out in order, one at a time, while other
// groups proceed in parallel and a stuck group holds up only itself.

func groupToken(group string) string {
	sum := sha256.Sum256([]byte(group))
	return hex.EncodeToString(sum[:12])
}

func groupSubject(queue, group string) string {
	return "aloft.sqs." + token(queue) + ".g." + groupToken(group)
}

func groupWildcard(queue string) string { return "aloft.sqs." + token(queue) + ".g.*" }

const groupConsumerPrefix = "g-"

// subjectFor is where a message of queue q (in group, for FIFO) is stored.
func subjectFor(q *Queue, group string) string {
	if q.fifo() {
		return groupSubject(q.Name, group)
	}
	return msgSubject(q.Name)
}

func (s *Store) groupConsumerConfig(q *Queue, subject string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       groupConsumerPrefix + subject[strings.LastIndex(subject, ".")+1:],
		FilterSubject: subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       max(time.Duration(q.intAttr("VisibilityTimeout"))*time.Second, time.Second),
		MaxDeliver:    -1,
		MaxAckPending: 1,
		Replicas:      s.cfg.Replicas,
		// Longer than the longest visibility timeout (12 h), so a consumer
		// is only forgotten when nothing of its group is in flight.
		InactiveThreshold: 24 * time.Hour,
	}
}

// updateGroupConsumers applies the queue's visibility timeout to the
// consumers of its groups.
func (s *Store) updateGroupConsumers(ctx context.Context, q *Queue, st jetstream.Stream) error {
	names := st.ConsumerNames(ctx)
	for name := range names.Name() {
		if !strings.HasPrefix(name, groupConsumerPrefix) {
			continue
		}
		c, err := st.Consumer(ctx, name)
		if err != nil {
			continue // expired meanwhile
		}
		cc := s.groupConsumerConfig(q, c.CachedInfo().Config.FilterSubject)
		if _, err := st.UpdateConsumer(ctx, cc); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("sqs: consumer %s of %s: %w", name, q.Name, err)
		}
	}
	return names.Err()
}

// receiveFIFO takes at most one message from each group that has one
// available (the head of the group, when nothing of it is in flight),
// polling until the deadline for the first.
func (s *Store) receiveFIFO(ctx context.Context, q *Queue, st jetstream.Stream, in ReceiveInput, deadline time.Time) ([]*Message, error) {
	for {
		out, err := s.receiveGroups(ctx, q, st, in)
		if err != nil || len(out) > 0 {
			return out, err
		}
		if !s.cfg.Now().Before(deadline) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(50*time.Millisecond, time.Until(deadline))):
			// Group subjects come and go, so long polling looks again
			// rather than holding one pull request per group.
		}
	}
}

func (s *Store) receiveGroups(ctx context.Context, q *Queue, st jetstream.Stream, in ReceiveInput) ([]*Message, error) {
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(groupWildcard(q.Name)))
	if err != nil {
		return nil, fmt.Errorf("sqs: queue %s: %w", q.Name, err)
	}
	subjects := make([]string, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		subjects = append(subjects, subj)
	}
	sort.Strings(subjects)
	if len(subjects) > 1 { // start at a random group, for fairness
		i := rand.IntN(len(subjects))
		subjects = append(subjects[i:], subjects[:i]...)
	}
	var out []*Message
	for _, subj := range subjects {
		if len(out) >= in.Max {
			break
		}
		c, err := st.CreateOrUpdateConsumer(ctx, s.groupConsumerConfig(q, subj))
		if err != nil {
			return out, fmt.Errorf("sqs: queue %s: %w", q.Name, err)
		}
		batch, err := c.FetchNoWait(1)
		if err != nil {
			return out, fmt.Errorf("sqs: queue %s: %w", q.Name, err)
		}
		for m := range batch.Messages() {
			r, err := s.prepare(ctx, q, m, in.Visibility)
			if err != nil {
				return out, err
			}
			if r != nil {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// countFIFO is Count for a FIFO queue: in flight is the sum over its groups.
func (s *Store) countFIFO(ctx context.Context, name string, st jetstream.Stream) (Counts, error) {
	var out Counts
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(groupWildcard(name)))
	if err != nil {
		return out, fmt.Errorf("sqs: queue %s: %w", name, err)
	}
	var stored int64
	for _, n := range info.State.Subjects {
		stored += int64(n)
	}
	infos := st.ListConsumers(ctx)
	for ci := range infos.Info() {
		if strings.HasPrefix(ci.Name, groupConsumerPrefix) {
			out.InFlight += int64(ci.NumAckPending)
		}
	}
	if err := infos.Err(); err != nil {
		return out, fmt.Errorf("sqs: queue %s: %w", name, err)
	}
	out.Visible = max(stored-out.InFlight, 0)
	out.Delayed = max(int64(info.State.Msgs)-stored, 0)
	if m, err := st.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(groupWildcard(name))); err == nil {
		if ms, err := strconv.ParseInt(m.Header.Get(hdrSent), 10, 64); err == nil {
			out.Oldest = time.UnixMilli(ms)
		}
	}
	return out, nil
}
