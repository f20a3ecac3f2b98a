package sqs

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/runtime"
)

// Headers of a stored message.
const (
	hdrMessageID = "Aloft-Message-Id"
	hdrAttrs     = "Aloft-Attributes" // JSON of the message attributes
	hdrSent      = "Aloft-Sent"       // Unix milliseconds
	hdrSender    = "Aloft-Sender"
	hdrGroup     = "Aloft-Group-Id"
	hdrDedup     = "Aloft-Dedup-Id"
)

// MessageAttribute is one SQS message attribute.
type MessageAttribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	BinaryValue []byte `json:"BinaryValue,omitempty"`
}

// SendInput is one message to send.
type SendInput struct {
	Body         string
	DelaySeconds *int
	Attributes   map[string]MessageAttribute
	// SystemAttributes (AWSTraceHeader) are accepted and ignored.
	GroupID, DeduplicationID string
	Sender                   string
	// DedupeID, for aloft's own hand-offs (destinations, dead letters),
	// makes a repeated send of the same record a no-op within 5 minutes,
	// on standard queues too.
	DedupeID string
}

// Sent is the outcome of a send.
type Sent struct {
	MessageID, MD5OfBody, MD5OfAttributes, SequenceNumber string
}

// Send stores a message in queue q. It returns once JetStream has it.
func (s *Store) Send(ctx context.Context, q *Queue, in SendInput) (*Sent, error) {
	if in.Body == "" {
		return nil, errMissing("MessageBody")
	}
	if len(in.Body) > q.intAttr("MaximumMessageSize") {
		return nil, errInvalidValue("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", q.intAttr("MaximumMessageSize"))
	}
	if !validBody(in.Body) {
		return nil, errorf("InvalidMessageContents", "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
	}
	delay := q.intAttr("DelaySeconds")
	if in.DelaySeconds != nil {
		if q.fifo() {
			return nil, errInvalidValue("Value %d for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.", *in.DelaySeconds)
		}
		if *in.DelaySeconds < 0 || *in.DelaySeconds > 900 {
			return nil, errInvalidValue("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", *in.DelaySeconds)
		}
		delay = *in.DelaySeconds
	}
	for name, a := range in.Attributes {
		if a.DataType == "" || (!strings.HasPrefix(a.DataType, "String") && !strings.HasPrefix(a.DataType, "Number") && !strings.HasPrefix(a.DataType, "Binary")) {
			return nil, errInvalidValue("The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", name)
		}
	}
	id := runtime.NewRequestID()
	m := nats.NewMsg(subjectFor(q, in.GroupID))
	m.Header.Set(hdrMessageID, id)
	m.Header.Set(hdrSent, strconv.FormatInt(s.cfg.Now().UnixMilli(), 10))
	m.Header.Set(hdrSender, in.Sender)
	if len(in.Attributes) > 0 {
		b, _ := json.Marshal(in.Attributes)
		m.Header.Set(hdrAttrs, string(b))
	}
	if q.fifo() {
		if in.GroupID == "" {
			return nil, errMissing("MessageGroupId")
		}
		dedup := in.DeduplicationID
		if dedup == "" {
			if q.Attributes["ContentBasedDeduplication"] != "true" {
				return nil, errInvalidValue("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
			}
			sum := sha256.Sum256([]byte(in.Body))
			dedup = hex.EncodeToString(sum[:])
		}
		m.Header.Set(hdrGroup, in.GroupID)
		m.Header.Set(hdrDedup, dedup)
		m.Header.Set(nats.MsgIdHdr, fifoMsgID(q, in.GroupID, dedup))
	} else if in.DedupeID != "" {
		m.Header.Set(nats.MsgIdHdr, in.DedupeID)
	} else if in.GroupID != "" {
		return nil, errInvalidValue("Value %s for parameter MessageGroupId is invalid. Reason: The request include parameter that is not valid for this queue type.", in.GroupID)
	}
	m.Data = []byte(in.Body)
	if delay > 0 {
		// The delayed message is itself stored, as a schedule the server
		// fires into the queue's subject when due.
		m.Subject = schedSubject(q.Name, id)
		m.Header.Set("Nats-Schedule", "@at "+s.cfg.Now().Add(time.Duration(delay)*time.Second).UTC().Format(time.RFC3339Nano))
		m.Header.Set("Nats-Schedule-Target", subjectFor(q, in.GroupID))
	}
	ack, err := s.cfg.JetStream.PublishMsg(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("sqs: send to %s: %w", q.Name, err)
	}
	out := &Sent{MessageID: id, MD5OfBody: md5Hex([]byte(in.Body)), MD5OfAttributes: attributesMD5(in.Attributes)}
	if ack.Duplicate {
		if st, err := s.cfg.JetStream.Stream(ctx, streamName(q.Name)); err == nil {
			if raw, err := st.GetMsg(ctx, ack.Sequence); err == nil {
				out.MessageID = raw.Header.Get(hdrMessageID)
			}
		}
	}
	if q.fifo() {
		out.SequenceNumber = fmt.Sprintf("%020d", ack.Sequence)
	}
	return out, nil
}

// fifoMsgID is the JetStream dedupe id of a FIFO message: its
// deduplication id, scoped to its group when DeduplicationScope is
// messageGroup (the same id in two groups is then two messages).
func fifoMsgID(q *Queue, group, dedup string) string {
	if q.Attributes["DeduplicationScope"] == "messageGroup" {
		return "g-" + groupToken(group) + "-" + dedup
	}
	return dedup
}

func validBody(s string) bool {
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

// Message is a received message.
type Message struct {
	MessageID     string
	ReceiptHandle string
	Body          string
	MD5OfBody     string
	// Attributes are the system attributes (SentTimestamp, …), all of them;
	// the API layer filters them by the names asked for.
	Attributes             map[string]string
	MessageAttributes      map[string]MessageAttribute
	MD5OfMessageAttributes string

	msg jetstream.Msg
}

// ReceiveInput says how to receive.
type ReceiveInput struct {
	Max int // 1–10
	// Wait is the long-polling time; nil means the queue's
	// ReceiveMessageWaitTimeSeconds.
	Wait *time.Duration
	// Visibility overrides the queue's VisibilityTimeout for these messages.
	Visibility *int
}

// Receive returns up to in.Max messages, waiting up to the long-polling time
// for the first one. Messages past the redrive policy's maxReceiveCount are
// moved to the dead-letter queue instead of being returned.
func (s *Store) Receive(ctx context.Context, q *Queue, in ReceiveInput) ([]*Message, error) {
	st, err := s.cfg.JetStream.Stream(ctx, streamName(q.Name))
	if err != nil {
		return nil, fmt.Errorf("sqs: queue %s: %w", q.Name, err)
	}
	wait := time.Duration(q.intAttr("ReceiveMessageWaitTimeSeconds")) * time.Second
	if in.Wait != nil {
		wait = *in.Wait
	}
	deadline := s.cfg.Now().Add(wait)
	if q.fifo() {
		return s.receiveFIFO(ctx, q, st, in, deadline)
	}
	cons, err := st.Consumer(ctx, consumerName)
	if err != nil {
		return nil, fmt.Errorf("sqs: queue %s: %w", q.Name, err)
	}
	var out []*Message
	for len(out) == 0 {
		msgs, err := s.fetch(ctx, cons, in.Max, deadline)
		if err != nil {
			return nil, err
		}
		if len(msgs) == 0 {
			return nil, nil
		}
		for _, m := range msgs {
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

// fetch returns what is available now, or else waits for one message until
// deadline and then takes whatever else is available.
func (s *Store) fetch(ctx context.Context, cons jetstream.Consumer, n int, deadline time.Time) ([]jetstream.Msg, error) {
	collect := func(b jetstream.MessageBatch, err error) ([]jetstream.Msg, error) {
		if err != nil {
			return nil, err
		}
		var out []jetstream.Msg
		for m := range b.Messages() {
			out = append(out, m)
		}
		if err := b.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) && len(out) == 0 {
			return nil, err
		}
		return out, nil
	}
	msgs, err := collect(cons.FetchNoWait(n))
	if err != nil || len(msgs) > 0 {
		return msgs, err
	}
	wait := time.Until(deadline)
	if wait < 10*time.Millisecond {
		return nil, nil
	}
	fctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	msgs, err = collect(cons.Fetch(1, jetstream.FetchContext(fctx)))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, nil
		}
		return nil, err
	}
	if len(msgs) > 0 && n > 1 {
		more, err := collect(cons.FetchNoWait(n - 1))
		if err == nil {
			msgs = append(msgs, more...)
		}
	}
	return msgs, nil
}

// prepare turns a delivered message into a received Message, or moves it to
// the dead-letter queue (and returns nil).
func (s *Store) prepare(ctx context.Context, q *Queue, m jetstream.Msg, visibility *int) (*Message, error) {
	md, err := m.Metadata()
	if err != nil {
		return nil, err
	}
	if dlq, maxReceives, ok := q.redrive(); ok && int(md.NumDelivered) > maxReceives {
		if err := s.redrive(ctx, q, dlq, m, md.Sequence.Stream); err != nil {
			return nil, err
		}
		return nil, nil
	}
	if visibility != nil && *visibility != q.intAttr("VisibilityTimeout") {
		if err := s.nak(m.Reply(), time.Duration(*visibility)*time.Second); err != nil {
			return nil, err
		}
	}
	h := m.Headers()
	out := &Message{
		MessageID:     h.Get(hdrMessageID),
		ReceiptHandle: base64.RawURLEncoding.EncodeToString([]byte(m.Reply())),
		Body:          string(m.Data()),
		MD5OfBody:     md5Hex(m.Data()),
		Attributes: map[string]string{
			"SenderId":                         h.Get(hdrSender),
			"SentTimestamp":                    h.Get(hdrSent),
			"ApproximateReceiveCount":          strconv.FormatUint(md.NumDelivered, 10),
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(s.cfg.Now().UnixMilli(), 10),
		},
		msg: m,
	}
	if q.fifo() {
		out.Attributes["MessageGroupId"] = h.Get(hdrGroup)
		out.Attributes["MessageDeduplicationId"] = h.Get(hdrDedup)
		out.Attributes["SequenceNumber"] = fmt.Sprintf("%020d", md.Sequence.Stream)
	}
	if a := h.Get(hdrAttrs); a != "" {
		if err := json.Unmarshal([]byte(a), &out.MessageAttributes); err != nil {
			return nil, fmt.Errorf("sqs: message %s attributes: %w", out.MessageID, err)
		}
		out.MD5OfMessageAttributes = attributesMD5(out.MessageAttributes)
	}
	return out, nil
}

// redrive moves a message to the dead-letter queue: publish with a dedupe id
// first, then terminate the original, so a crash in between only repeats a
// deduplicated publish.
func (s *Store) redrive(ctx context.Context, q *Queue, dlqName string, m jetstream.Msg, seq uint64) error {
	dlq, err := s.Get(ctx, dlqName)
	if err != nil {
		fmt.Fprintf(s.cfg.Logs, "sqs: %s: message %s is past maxReceiveCount but its dead-letter queue %s cannot be used (%v); it stays in the queue\n",
			q.Name, m.Headers().Get(hdrMessageID), dlqName, err)
		return fmt.Errorf("sqs: dead-letter queue %s of %s: %w", dlqName, q.Name, err)
	}
	out := nats.NewMsg(subjectFor(dlq, m.Headers().Get(hdrGroup)))
	for k, v := range m.Headers() {
		if strings.HasPrefix(k, "Aloft-") {
			out.Header[k] = v
		}
	}
	out.Header.Set(nats.MsgIdHdr, fmt.Sprintf("redrive-%s-%d", streamName(q.Name), seq))
	out.Data = m.Data()
	if _, err := s.cfg.JetStream.PublishMsg(ctx, out); err != nil {
		return fmt.Errorf("sqs: redrive to %s: %w", dlq.Name, err)
	}
	if err := m.Term(); err != nil {
		return fmt.Errorf("sqs: redrive from %s: %w", q.Name, err)
	}
	s.counters(q.Name).redriven.Add(1)
	md, _ := m.Metadata()
	var receives uint64
	if md != nil {
		receives = md.NumDelivered - 1
	}
	fmt.Fprintf(s.cfg.Logs, "sqs: %s: message %s moved to dead-letter queue %s after %d receives (maxReceiveCount exceeded)\n",
		q.Name, m.Headers().Get(hdrMessageID), dlq.Name, receives)
	return nil
}

// replyOf decodes a receipt handle of queue q into the ack subject it is.
func replyOf(q *Queue, handle string) (string, *awsapi.Error) {
	b, err := base64.RawURLEncoding.DecodeString(handle)
	prefix := "$JS.ACK." + streamName(q.Name) + "." + consumerName + "."
	if q.fifo() {
		prefix = "$JS.ACK." + streamName(q.Name) + "." + groupConsumerPrefix
	}
	if err != nil || !strings.HasPrefix(string(b), prefix) {
		return "", errorf(codeReceiptHandleIsInvalid, "The input receipt handle \"%s\" is not a valid receipt handle.", handle)
	}
	return string(b), nil
}

// DeleteMessage deletes the message a receipt handle names.
func (s *Store) DeleteMessage(ctx context.Context, q *Queue, handle string) error {
	reply, e := replyOf(q, handle)
	if e != nil {
		return e
	}
	return s.ackSubject(ctx, reply, []byte("+ACK"))
}

// ChangeVisibility makes the message visible again after timeout seconds.
func (s *Store) ChangeVisibility(ctx context.Context, q *Queue, handle string, timeout int) error {
	if timeout < 0 || timeout > 43200 {
		return errInvalidValue("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", timeout)
	}
	reply, e := replyOf(q, handle)
	if e != nil {
		return e
	}
	// The queue's stream keeps a message until it is deleted (work-queue
	// retention), so a message the stream no longer holds was deleted: SQS
	// refuses to change its visibility rather than pretend it did.
	if seq, ok := streamSeqOf(reply); ok {
		st, err := s.cfg.JetStream.Stream(ctx, streamName(q.Name))
		if err != nil {
			return fmt.Errorf("sqs: queue %s: %w", q.Name, err)
		}
		if _, err := st.GetMsg(ctx, seq); errors.Is(err, jetstream.ErrMsgNotFound) {
			return errorf(codeMessageNotInflight, "The message referred to is not in flight.")
		} else if err != nil {
			return fmt.Errorf("sqs: queue %s: %w", q.Name, err)
		}
	}
	return s.nak(reply, time.Duration(timeout)*time.Second)
}

// streamSeqOf reads the stream sequence out of a JetStream ack subject:
// $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>, or the
// newer form with a domain and an account hash after "ACK".
func streamSeqOf(reply string) (uint64, bool) {
	tokens := strings.Split(reply, ".")
	var tok string
	switch {
	case len(tokens) == 9:
		tok = tokens[5]
	case len(tokens) >= 11:
		tok = tokens[7]
	default:
		return 0, false
	}
	seq, err := strconv.ParseUint(tok, 10, 64)
	return seq, err == nil
}

func (s *Store) nak(reply string, delay time.Duration) error {
	body := []byte("-NAK")
	if delay > 0 {
		body = fmt.Appendf(nil, `-NAK {"delay": %d}`, delay.Nanoseconds())
	}
	return s.ackSubject(context.Background(), reply, body)
}

// ackSubject sends an ack (or nak) and waits for the server to confirm it.
// The server confirms an ack for a message no longer pending as well.
func (s *Store) ackSubject(ctx context.Context, reply string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.cfg.Conn.RequestWithContext(ctx, reply, body); err != nil {
		return fmt.Errorf("sqs: acknowledge: %w", err)
	}
	return nil
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// attributesMD5 is SQS's MD5 of message attributes: for each attribute in
// name order, the length-prefixed name, data type, a transport byte (1
// string, 2 binary) and the length-prefixed value.
func attributesMD5(attrs map[string]MessageAttribute) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := md5.New()
	put := func(b []byte) {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(b)))
		h.Write(l[:])
		h.Write(b)
	}
	for _, n := range names {
		a := attrs[n]
		put([]byte(n))
		put([]byte(a.DataType))
		if strings.HasPrefix(a.DataType, "Binary") {
			h.Write([]byte{2})
			put(a.BinaryValue)
		} else {
			h.Write([]byte{1})
			put([]byte(a.StringValue))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
