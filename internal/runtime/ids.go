package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"
)

// newRequestID returns a random UUID version 4, as Lambda uses for request ids.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:]) // crypto/rand.Read never returns an error (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// newTraceID returns an X-Ray trace header in the form Lambda passes it in
// Lambda-Runtime-Trace-Id: Root=1-{epoch seconds, 8 hex}-{24 hex};Parent={16 hex};Sampled=0.
func newTraceID(now time.Time) string {
	var b [20]byte
	rand.Read(b[:])
	epoch := strconv.FormatInt(now.Unix(), 16)
	for len(epoch) < 8 {
		epoch = "0" + epoch
	}
	return "Root=1-" + epoch + "-" + hex.EncodeToString(b[:12]) +
		";Parent=" + hex.EncodeToString(b[12:]) + ";Sampled=0"
}

// newLogStreamName returns a per-instance log stream name in Lambda's form,
// YYYY/MM/DD/[version]{32 hex}.
func newLogStreamName(now time.Time, version string) string {
	var b [16]byte
	rand.Read(b[:])
	return now.UTC().Format("2006/01/02") + "/[" + version + "]" + hex.EncodeToString(b[:])
}

// NewRequestID returns a random UUID version 4, the form of Lambda's request
// ids, for callers that must know an invocation's id before it runs (an
// asynchronous invocation answers 202 with it). It is also used for SQS and
// SNS message ids.
func NewRequestID() string { return newRequestID() }
