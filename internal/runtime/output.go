package runtime

import (
	"bytes"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxLineBytes splits lines longer than this, so that a process that never
// writes a newline cannot make the pool buffer without bound.
const maxLineBytes = 256 << 10

// outputStream turns one of an instance's output pipes (stdout or stderr)
// into log lines, keeping the stream's order.
//
// Lines must land in the invocation that printed them: everything a process
// wrote before it called invocation/next (or exited, or was killed) belongs
// before that invocation's END. drain provides that barrier. The pipe is read
// with non-blocking reads performed under mu, so "bytes still in the pipe"
// (FIONREAD) plus "bytes consumed" is exact at any instant mu is held; drain
// waits until the reader has consumed everything that was in the pipe when
// drain was called, then flushes an unterminated last line.
type outputStream struct {
	f  *os.File
	rc syscall.RawConn
	c  *capture

	mu       sync.Mutex
	cond     *sync.Cond
	consumed int64
	eof      bool
	partial  []byte
}

func newOutputStream(f *os.File, c *capture) (*outputStream, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	s := &outputStream{f: f, rc: rc, c: c}
	s.cond = sync.NewCond(&s.mu)
	return s, nil
}

// run reads the pipe until every writer has closed it (the process group is
// gone), then closes it. It runs on its own goroutine.
func (s *outputStream) run() {
	buf := make([]byte, 32<<10)
	for {
		stop := false
		err := s.rc.Read(func(fd uintptr) bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			n, err := syscall.Read(int(fd), buf)
			switch {
			case err == syscall.EAGAIN:
				return false // wait until readable
			case err == syscall.EINTR:
				return true
			case err == nil && n > 0:
				s.split(buf[:n])
				s.consumed += int64(n)
				s.cond.Broadcast()
				return true
			}
			// EOF or a read error: either way nothing more will come.
			s.finishLocked()
			stop = true
			return true
		})
		if err != nil || stop {
			s.mu.Lock()
			s.finishLocked()
			s.mu.Unlock()
			// Read side of a pipe: nothing to flush, a close error is moot.
			_ = s.f.Close()
			return
		}
	}
}

// split emits the complete lines in data and keeps the rest. Called with mu held.
func (s *outputStream) split(data []byte) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.partial = append(s.partial, data...)
			if len(s.partial) >= maxLineBytes {
				s.flushLocked()
			}
			return
		}
		if len(s.partial) > 0 {
			s.partial = append(s.partial, data[:i]...)
			s.flushLocked()
		} else {
			s.c.line(data[:i])
		}
		data = data[i+1:]
	}
}

func (s *outputStream) flushLocked() {
	if len(s.partial) > 0 {
		s.c.line(s.partial)
		s.partial = s.partial[:0]
	}
	if cap(s.partial) > maxLineBytes {
		s.partial = nil
	}
}

func (s *outputStream) finishLocked() {
	if !s.eof {
		s.flushLocked()
		s.eof = true
		s.cond.Broadcast()
	}
}

// drain returns once every byte written to the pipe before the call has been
// turned into log lines, including an unterminated last line.
func (s *outputStream) drain() {
	target := int64(-1)
	err := s.rc.Control(func(fd uintptr) {
		s.mu.Lock()
		n, err := unix.IoctlGetInt(int(fd), ioctlPendingBytes)
		if err != nil {
			n = 0
		}
		target = s.consumed + int64(n)
		s.mu.Unlock()
	})
	s.mu.Lock()
	if err == nil {
		for s.consumed < target && !s.eof {
			s.cond.Wait()
		}
	}
	// err != nil means the reader already closed the pipe after EOF, having
	// flushed everything.
	s.flushLocked()
	s.mu.Unlock()
}
