package sqs

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestRedriveIsDeduplicated plays the crash between the two steps of a
// redrive: the same message, delivered twice, goes through the dead-letter
// path twice (as after a crash before the terminate), and the dead-letter
// queue holds one copy, thanks to the redrive's dedupe id.
func TestRedriveIsDeduplicated(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	h.create(t, "dead", nil)
	url := h.create(t, "live", map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dead","maxReceiveCount":1}`})
	h.send(t, url, "poison")
	q, err := h.store.Get(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}
	st, err := h.store.cfg.JetStream.Stream(ctx, streamName("live"))
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.Consumer(ctx, consumerName)
	if err != nil {
		t.Fatal(err)
	}
	fetch := func() jetstream.Msg {
		t.Helper()
		b, err := cons.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			return m
		}
		t.Fatalf("no delivery: %v", b.Error())
		return nil
	}
	first := fetch()
	// Return it through its ack subject, as a visibility timeout would,
	// leaving first itself unacknowledged, like a node that died.
	if err := h.store.nak(first.Reply(), 0); err != nil {
		t.Fatal(err)
	}
	second := fetch()
	md1, _ := first.Metadata()
	md2, _ := second.Metadata()
	if md1.Sequence.Stream != md2.Sequence.Stream || md2.NumDelivered != 2 {
		t.Fatalf("deliveries %+v and %+v", md1, md2)
	}
	for _, m := range []jetstream.Msg{first, second} {
		if err := h.store.redrive(ctx, q, "dead", m, md1.Sequence.Stream); err != nil {
			t.Fatal(err)
		}
	}
	waitCount(t, h, "dead", func(c Counts) bool { return c.Visible == 1 })
	dst, err := h.store.cfg.JetStream.Stream(ctx, streamName("dead"))
	if err != nil {
		t.Fatal(err)
	}
	if info, err := dst.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Fatalf("dead-letter stream %+v %v, want one message", info.State, err)
	}
	waitCount(t, h, "live", func(c Counts) bool { return c.Visible == 0 && c.InFlight == 0 })
}

// TestSendDedupeID: aloft's own hand-offs (destinations, SNS copies) to a
// standard queue are stored once per dedupe id.
func TestSendDedupeID(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	h.create(t, "records", nil)
	q, err := h.store.Get(ctx, "records")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 2 {
		sent, err := h.store.Send(ctx, q, SendInput{Body: "record", DedupeID: "dlq-ALOFT_ASYNC-7"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sent.MessageID)
	}
	if ids[0] != ids[1] {
		t.Errorf("message ids %v: the second send was stored again", ids)
	}
	st, err := h.store.cfg.JetStream.Stream(ctx, streamName("records"))
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Fatalf("stream %+v %v, want one message", info.State, err)
	}
}
