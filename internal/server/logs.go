package server

import (
	"bytes"
	"io"
	"sync"
)

// lineWriter serialises whole lines from many writers onto one output, each line
// prefixed with the name of its source, so that the logs of concurrent functions
// interleave by line, never inside one.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// prefixed returns a writer whose lines appear as "name | line".
func (lw *lineWriter) prefixed(name string) io.Writer {
	return &prefixWriter{lw: lw, prefix: []byte(name + " | ")}
}

type prefixWriter struct {
	lw     *lineWriter
	prefix []byte
	mu     sync.Mutex
	buf    []byte // an incomplete last line
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	var out []byte
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		out = append(out, p.prefix...)
		out = append(out, p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
	}
	if len(p.buf) == 0 {
		p.buf = nil
	}
	if len(out) > 0 {
		p.lw.mu.Lock()
		_, err := p.lw.w.Write(out)
		p.lw.mu.Unlock()
		if err != nil {
			return 0, err
		}
	}
	return len(b), nil
}
