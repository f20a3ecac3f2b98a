package runtime

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
	"time"
)

// tailSize is how much of an invocation's log Response.LogTail keeps, the
// 4 KB that Lambda returns for X-Amz-Log-Type: Tail.
const tailSize = 4 * 1024

// logSink serializes whole lines onto the pool's Logs writer. One sink is
// shared by all instances of a pool; each line is one Write.
type logSink struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (s *logSink) writeLine(line []byte) {
	s.mu.Lock()
	s.buf = append(append(s.buf[:0], line...), '\n')
	// A failing log writer must not fail invocations: the line still reaches
	// the invocation's LogTail, and there is nobody else to tell.
	_, _ = s.w.Write(s.buf)
	if cap(s.buf) > 64<<10 {
		s.buf = nil // do not pin one huge line's buffer forever
	}
	s.mu.Unlock()
}

// capture routes one instance's log lines, its process output and the
// platform lines (START, END, REPORT, ...), to the pool's sink and, between
// begin and end, to the current invocation's tail.
type capture struct {
	sink *logSink

	mu   sync.Mutex
	on   bool
	tail []byte
}

func (c *capture) line(b []byte) {
	c.mu.Lock()
	if c.on {
		c.tail = append(append(c.tail, b...), '\n')
		if len(c.tail) > 4*tailSize {
			c.tail = append(c.tail[:0], c.tail[len(c.tail)-tailSize:]...)
		}
	}
	c.mu.Unlock()
	c.sink.writeLine(b)
}

func (c *capture) linef(format string, args ...any) {
	c.line(fmt.Appendf(nil, format, args...))
}

// begin starts collecting an invocation's tail.
func (c *capture) begin() {
	c.mu.Lock()
	c.on = true
	c.tail = c.tail[:0]
	c.mu.Unlock()
}

// end stops collecting and returns a copy of the last tailSize bytes.
func (c *capture) end() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	t := c.tail
	if len(t) > tailSize {
		t = t[len(t)-tailSize:]
	}
	out := make([]byte, len(t))
	copy(out, t)
	if cap(c.tail) > 4*tailSize+64<<10 {
		c.tail = nil
	}
	return out
}

// Platform log lines, in the exact format Lambda writes to CloudWatch.

func (c *capture) logStart(id, version string) {
	c.line([]byte("START RequestId: " + id + " Version: " + version))
}

func (c *capture) logEnd(id string) {
	c.line([]byte("END RequestId: " + id))
}

// report is the content of one REPORT line.
type report struct {
	requestID string
	duration  time.Duration
	billed    time.Duration
	memoryMB  int
	maxMemMB  int
	init      time.Duration // 0: not a cold start
	status    string        // "" (success), "error" or "timeout"
	errorType string        // with status "error"
}

func (c *capture) logReport(r report) {
	b := make([]byte, 0, 200)
	b = append(b, "REPORT RequestId: "...)
	b = append(b, r.requestID...)
	b = append(b, "\tDuration: "...)
	b = appendMillis(b, r.duration)
	b = append(b, " ms\tBilled Duration: "...)
	b = strconv.AppendInt(b, r.billed.Milliseconds(), 10)
	b = append(b, " ms\tMemory Size: "...)
	b = strconv.AppendInt(b, int64(r.memoryMB), 10)
	b = append(b, " MB\tMax Memory Used: "...)
	b = strconv.AppendInt(b, int64(r.maxMemMB), 10)
	b = append(b, " MB"...)
	if r.init > 0 {
		b = append(b, "\tInit Duration: "...)
		b = appendMillis(b, r.init)
		b = append(b, " ms"...)
	}
	b = appendStatus(b, r.status, r.errorType)
	c.line(b)
}

// logInitReport writes the INIT_REPORT line Lambda logs when init fails.
func (c *capture) logInitReport(d time.Duration, status, errorType string) {
	b := []byte("INIT_REPORT Init Duration: ")
	b = appendMillis(b, d)
	b = append(b, " ms\tPhase: init"...)
	b = appendStatus(b, status, errorType)
	c.line(b)
}

// logTimeout writes Lambda's timeout line: "{ts} {id} Task timed out after 3.00 seconds".
func (c *capture) logTimeout(now time.Time, id string, timeout time.Duration) {
	c.line([]byte(now.UTC().Format("2006-01-02T15:04:05.000Z") + " " + id + " Task timed out after " +
		formatSeconds(timeout) + " seconds"))
}

func appendStatus(b []byte, status, errorType string) []byte {
	if status == "" {
		return b
	}
	b = append(b, "\tStatus: "...)
	b = append(b, status...)
	if errorType != "" {
		b = append(b, "\tError Type: "...)
		b = append(b, errorType...)
	}
	return b
}

func appendMillis(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 2, 64)
}

// formatSeconds renders a timeout as Lambda's messages do: two decimals.
func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64)
}

// billed rounds a duration up to the next millisecond, as Lambda bills.
func billed(d time.Duration) time.Duration {
	return time.Duration(math.Ceil(float64(d)/float64(time.Millisecond))) * time.Millisecond
}
