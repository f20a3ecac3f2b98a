package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// instState is where an instance's runtime is in the Runtime API protocol.
// The states and their names are those of Lambda's Runtime Interface
// Emulator, so that a runtime calling an endpoint out of turn gets the same
// 403 InvalidStateTransition answer as on Lambda:
//
//	Started ──next──▶ Ready ──response──▶ InvocationResponse ──┐
//	   │                ▲  └───error────▶ InvocationErrorResponse ─┤
//	   │                └──────next──── RuntimeResponseSentState ◀┘
//	   └──init/error──▶ InitError
//
// Independently of the state, an instance is dead once it has been killed
// or its process has exited; a dead instance takes no more invocations.
type instState int

const (
	stateStarted instState = iota
	stateInitError
	stateReady
	stateResponding
	stateErrorResponding
	stateResponseSent
)

func (s instState) String() string {
	switch s {
	case stateStarted:
		return "Started"
	case stateInitError:
		return "InitError"
	case stateReady:
		return "Ready"
	case stateResponding:
		return "InvocationResponse"
	case stateErrorResponding:
		return "InvocationErrorResponse"
	case stateResponseSent:
		return "RuntimeResponseSentState"
	}
	return "Unknown"
}

// invocation is one Invoke call on its way through an instance. The request
// fields are fixed at creation; the rest is guarded by the mu of the
// instance the invocation is assigned to, until done is closed.
type invocation struct {
	id, traceID, arn, clientContext, cognito string
	payload                                  []byte

	assigned time.Time // handed to an instance
	cold     bool      // that instance was started for it
	started  bool      // delivered to the runtime; START logged
	start    time.Time
	deadline time.Time
	timer    *time.Timer
	result   *posted // what the runtime posted, from stateResponseSent on

	done chan struct{} // closed once resp or err is set
	resp *Response
	err  error

	// ResultOnPost: posted is closed once early holds the posted result.
	// counted (the pool counts the invocation in Pool.posted) and released
	// (its slot was given back) are guarded by the pool's mu.
	posted   chan struct{}
	early    *Response
	counted  bool
	released bool
}

// posted is an invocation result as the runtime posted it.
type posted struct {
	payload []byte
	failed  bool // an error document: FunctionError "Unhandled"
}

// outcomeKind says how an invocation ended.
type outcomeKind int

const (
	outcomePosted      outcomeKind = iota // the runtime posted a response or an error
	outcomeTimeout                        // the function timeout expired
	outcomeExit                           // the process exited while holding the invocation
	outcomeInitError                      // the runtime posted init/error
	outcomeInitExit                       // the process exited before its first next
	outcomeInitTimeout                    // no next within the init timeout
	outcomeStartFailed                    // the process could not be started
)

type outcome struct {
	kind      outcomeKind
	err       error  // exit status or start error
	errorType string // outcomeInitError
	payload   []byte // outcomeInitError
}

// instance is one runtime process and the Runtime API listener that serves
// only it.
//
// Lifecycle: the pool creates an instance for an invocation (spawn); the
// process starts, calls next and receives that invocation. After each result
// the runtime's next call finishes the invocation and returns the instance to
// the pool as idle. Timeouts, crashes, init failures, idle reaping and
// Shutdown kill its process group; watch then reaps the process, fails the
// invocation it held, stops the listener and removes it from the pool.
//
// Concurrency: mu guards the protocol state and the current invocation. Work
// that can block (draining output, logging, HTTP I/O, calls into the pool) is
// done without mu, except in deliver, whose START line must precede anything
// the new invocation can trigger. The pool never calls the instance with
// pool.mu held, and the instance never holds mu while calling the pool.
type instance struct {
	pool      *Pool
	addr      string
	logStream string
	ln        net.Listener
	srv       *http.Server
	cmd       *exec.Cmd
	out       *capture
	streams   []*outputStream
	events    chan *invocation // capacity 1: the assigned, not yet delivered invocation
	gone      chan struct{}    // closed when the instance is killed or its process exits
	spawned   time.Time
	helpers   sync.WaitGroup // the listener and the output readers

	mu        sync.Mutex
	state     instState
	cur       *invocation
	pid       int
	dead      bool // killed or exited
	reaped    bool // the leader exited: the group was killed, the pid may be reused
	initDone  bool
	initDur   time.Duration
	initTimer *time.Timer
	peakKB    int64 // last known peak RSS of a process that is no longer readable

	// Guarded by pool.mu.
	idleTimer *time.Timer
	idleSince time.Time
	removed   bool
}

// spawn starts a new instance for inv. Start failures of the process become
// the invocation's result (Runtime.InvalidEntrypoint), as on Lambda; only
// failures of aloft itself are returned.
func (p *Pool) spawn(inv *invocation) error {
	now := time.Now()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("spawn %s: runtime API listener: %w", p.spec.Name, err)
	}
	i := &instance{
		pool:      p,
		ln:        ln,
		addr:      ln.Addr().String(),
		logStream: newLogStreamName(now, p.spec.Version),
		out:       &capture{sink: p.sink},
		events:    make(chan *invocation, 1),
		gone:      make(chan struct{}),
	}
	i.srv = &http.Server{Handler: i, ErrorLog: log.New(io.Discard, "", 0)}

	var readEnds, writeEnds []*os.File
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			_ = f.Close() // unused pipe ends: nothing was written
		}
	}
	for range 2 {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(readEnds)
			closeAll(writeEnds)
			_ = ln.Close()
			return fmt.Errorf("spawn %s: output pipe: %w", p.spec.Name, err)
		}
		readEnds, writeEnds = append(readEnds, r), append(writeEnds, w)
		s, err := newOutputStream(r, i.out)
		if err != nil {
			closeAll(readEnds)
			closeAll(writeEnds)
			_ = ln.Close()
			return fmt.Errorf("spawn %s: output pipe: %w", p.spec.Name, err)
		}
		i.streams = append(i.streams, s)
	}

	env := instanceEnv(p.env, i.addr, i.logStream)
	i.cmd = &exec.Cmd{
		Path:        resolveCommand(p.spec.Command[0], p.spec.TaskRoot, p.env["PATH"]),
		Args:        p.spec.Command,
		Env:         env,
		Dir:         p.spec.TaskRoot,
		Stdout:      writeEnds[0],
		Stderr:      writeEnds[1],
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}

	if !p.register(i) {
		closeAll(readEnds)
		closeAll(writeEnds)
		_ = ln.Close()
		return ErrPoolClosed
	}

	inv.assigned, inv.cold = now, true
	i.mu.Lock()
	i.cur = inv
	i.events <- inv
	var startErr error
	if i.dead { // Shutdown killed it before it ran
		startErr = ErrPoolClosed
	} else {
		i.spawned = time.Now()
		startErr = i.cmd.Start()
	}
	if startErr == nil {
		i.pid = i.cmd.Process.Pid
		i.initTimer = time.AfterFunc(p.initTimeout, i.onInitTimeout)
	} else {
		i.cur, i.dead, i.reaped = nil, true, true
		i.closeGoneLocked()
	}
	i.mu.Unlock()
	// The child holds its own copies of the write ends; ours must go so that
	// the readers see EOF when the process group is gone.
	closeAll(writeEnds)

	if startErr != nil {
		closeAll(readEnds)
		_ = ln.Close()
		if errors.Is(startErr, ErrPoolClosed) {
			// Invoke gives the slot back and reports ErrPoolClosed.
			p.remove(i)
			p.wg.Done()
			return ErrPoolClosed
		}
		i.finish(inv, outcome{kind: outcomeStartFailed, err: startErr}, false)
		p.remove(i)
		p.wg.Done()
		return nil
	}

	i.helpers.Add(1 + len(i.streams))
	go func() {
		defer i.helpers.Done()
		_ = i.srv.Serve(ln) // returns when watch closes the server
	}()
	for _, s := range i.streams {
		go func() {
			defer i.helpers.Done()
			s.run()
		}()
	}
	go i.watch()
	return nil
}

// assign hands inv to an idle instance. It fails if the instance died
// meanwhile; the caller then tries another one.
func (i *instance) assign(inv *invocation) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.dead || i.cur != nil {
		return false
	}
	inv.assigned = time.Now()
	i.cur = inv
	i.events <- inv // never blocks: the channel is empty while cur is nil
	return true
}

// deliver makes inv the runtime's current event, answering its next call.
func (i *instance) deliver(w http.ResponseWriter, inv *invocation) {
	p := i.pool
	i.mu.Lock()
	if i.cur != inv || i.dead || i.pid == 0 || i.reaped || exited(i.pid) {
		// The runtime is gone, its next call with it: watch gives the
		// undelivered event to another instance.
		i.mu.Unlock()
		renderInternalError(w)
		return
	}
	// Output written while idle belongs before START.
	i.drain()
	i.out.begin()
	i.out.logStart(inv.id, p.spec.Version)
	now := time.Now()
	inv.started, inv.start, inv.deadline = true, now, now.Add(p.spec.Timeout)
	inv.timer = time.AfterFunc(p.spec.Timeout, func() { i.onTimeout(inv) })
	i.state = stateReady
	i.mu.Unlock()
	writeEvent(w, inv)
}

// onTimeout kills the instance whose invocation overran its timeout.
func (i *instance) onTimeout(inv *invocation) {
	i.mu.Lock()
	if i.cur != inv {
		i.mu.Unlock()
		return
	}
	i.cur = nil
	responded := i.state == stateResponseSent
	i.mu.Unlock()
	i.kill()
	if responded {
		// The result was posted but the runtime never asked for the next
		// event: the caller gets the result, the instance is discarded.
		i.finish(inv, outcome{kind: outcomePosted}, false)
		return
	}
	i.finish(inv, outcome{kind: outcomeTimeout}, false)
}

// onInitTimeout kills an instance that did not reach its first next in time.
func (i *instance) onInitTimeout() {
	i.mu.Lock()
	if i.initDone || i.dead || i.state != stateStarted {
		i.mu.Unlock()
		return
	}
	inv := i.cur
	i.cur = nil
	i.mu.Unlock()
	i.kill()
	if inv != nil {
		i.finish(inv, outcome{kind: outcomeInitTimeout}, false)
	}
}

// kill marks the instance dead and SIGKILLs its whole process group. It is
// idempotent and safe before the process has started or after it exited.
func (i *instance) kill() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.dead = true
	i.closeGoneLocked()
	if i.initTimer != nil {
		i.initTimer.Stop()
	}
	if i.pid != 0 && !i.reaped {
		// A killed process's /proc entry loses its memory figures.
		i.peakKB = max(i.peakKB, peakRSSKB(i.pid))
		killGroup(i.pid)
	}
}

func (i *instance) closeGoneLocked() {
	select {
	case <-i.gone:
	default:
		close(i.gone)
	}
}

func killGroup(pgid int) {
	// ESRCH (the group is already gone) is the only expected error.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// watch waits for the process to exit, fails the invocation it held, and
// takes the instance down. It runs on its own goroutine for the instance's
// whole life.
func (i *instance) watch() {
	p := i.pool
	defer p.wg.Done()
	exitErr := reap(i.cmd, func() {
		i.mu.Lock()
		i.dead, i.reaped = true, true
		killGroup(i.pid) // a crashed runtime's children die with it, as on Lambda
		i.mu.Unlock()
	})
	rss := rusageKB(i.cmd.ProcessState)

	i.mu.Lock()
	i.peakKB = max(i.peakKB, rss)
	inv := i.cur
	i.cur = nil
	state, initDone := i.state, i.initDone
	if i.initTimer != nil {
		i.initTimer.Stop()
	}
	i.closeGoneLocked()
	i.mu.Unlock()

	if inv != nil && !inv.started && initDone {
		// Assigned while idle, but the process died before the runtime took
		// the event: it never ran, so it goes to another instance.
		p.replace(inv)
		inv = nil
	}
	if inv != nil {
		var oc outcome
		switch {
		case state == stateResponseSent:
			// Posted its result, then exited (aws-lambda-go does this after a
			// panic): the result stands and the instance goes quietly.
			oc = outcome{kind: outcomePosted}
		case !initDone:
			oc = outcome{kind: outcomeInitExit, err: exitErr}
		default:
			oc = outcome{kind: outcomeExit, err: exitErr}
		}
		i.finish(inv, oc, false)
	}

	// Anything still holding the pipes escaped the process group; stop
	// reading rather than wait for it.
	i.drain()
	for _, s := range i.streams {
		_ = s.f.Close() // read side: wakes the reader, nothing to flush
	}
	_ = i.srv.Close() // closes the listener and any connection still open
	i.helpers.Wait()
	p.remove(i)
}

// drain flushes all output the process wrote so far into the log.
func (i *instance) drain() {
	for _, s := range i.streams {
		s.drain()
	}
}

// finish completes inv: it writes the closing log lines, builds the Response,
// wakes the caller and returns the instance to the pool (reuse) or has it
// killed. The caller must have cleared i.cur, which makes finish run once per
// invocation; it is called without i.mu.
func (i *instance) finish(inv *invocation, oc outcome, reuse bool) {
	p := i.pool
	spec := &p.spec
	if inv.timer != nil {
		inv.timer.Stop()
	}
	i.drain()
	now := time.Now()

	i.mu.Lock()
	initDur := i.initDur
	if !i.initDone && !i.spawned.IsZero() {
		initDur = now.Sub(i.spawned)
	}
	i.mu.Unlock()

	resp := &Response{RequestID: inv.id}
	var status, errorType string
	fail := func(typ, msg string) {
		resp.Payload = errorDocument(typ, msg)
		errorType = typ
	}

	if !inv.started {
		// The event never reached the runtime: init failed. Lambda reports
		// the init phase, then the invoke phase that carried the failure.
		i.out.begin()
		initStatus, initType := "error", ""
		switch oc.kind {
		case outcomeInitTimeout:
			initStatus = "timeout"
		case outcomeInitError:
			initType = oc.errorType
		case outcomeStartFailed:
			initType = "Runtime.InvalidEntrypoint"
		default:
			initType = "Runtime.ExitError"
		}
		i.out.logInitReport(initDur, initStatus, initType)
		i.out.logStart(inv.id, spec.Version)
	}

	switch oc.kind {
	case outcomePosted:
		resp.Payload = inv.result.payload
		if inv.result.failed {
			resp.FunctionError = "Unhandled"
		}
	case outcomeTimeout, outcomeInitTimeout:
		limit := spec.Timeout
		if oc.kind == outcomeInitTimeout {
			limit = p.initTimeout
		}
		i.out.logTimeout(now, inv.id, limit)
		resp.Payload = errorDocument("Sandbox.Timedout", "RequestId: "+inv.id+" Error: Task timed out after "+formatSeconds(limit)+" seconds")
		status = "timeout" // REPORT names no error type for timeouts
	case outcomeExit, outcomeInitExit:
		msg := "RequestId: " + inv.id + " Error: " + exitReason(oc.err)
		i.out.line([]byte(msg))
		i.out.line([]byte("Runtime.ExitError"))
		fail("Runtime.ExitError", msg)
		status = "error"
	case outcomeInitError:
		resp.Payload, errorType, status = oc.payload, oc.errorType, "error"
	case outcomeStartFailed:
		msg := "RequestId: " + inv.id + " Error: " + oc.err.Error()
		i.out.line([]byte(msg))
		i.out.line([]byte("Runtime.InvalidEntrypoint"))
		fail("Runtime.InvalidEntrypoint", msg)
		status = "error"
	}
	if oc.kind != outcomePosted {
		resp.FunctionError = "Unhandled"
	}

	var duration time.Duration
	switch {
	case !inv.started:
		duration = now.Sub(inv.assigned)
	case oc.kind == outcomeTimeout:
		duration = min(now.Sub(inv.start), spec.Timeout)
	default:
		duration = now.Sub(inv.start)
	}
	rep := report{
		requestID: inv.id,
		duration:  duration,
		memoryMB:  spec.MemoryMB,
		maxMemMB:  i.maxMemoryMB(),
		status:    status,
		errorType: errorType,
	}
	if inv.cold {
		resp.InitDuration = initDur
		if inv.started {
			rep.init = initDur // a failed init was reported by INIT_REPORT
		}
	}
	rep.billed = billed(duration + rep.init)
	i.out.logEnd(inv.id)
	i.out.logReport(rep)

	resp.Duration, resp.BilledDuration, resp.MaxMemoryUsedMB = rep.duration, rep.billed, rep.maxMemMB
	resp.LogTail = i.out.end()
	inv.resp = resp
	if (oc.kind == outcomeExit || oc.kind == outcomeInitExit) && p.isClosed() {
		// Killed by Shutdown, not by its own fault.
		inv.resp, inv.err = nil, ErrPoolClosed
	}
	// Free the slot before waking the caller, whose next Invoke must find it free.
	p.release(i, inv, reuse)
	close(inv.done)
}

// maxMemoryMB is the instance process's peak RSS in MB, rounded up.
func (i *instance) maxMemoryMB() int {
	i.mu.Lock()
	kb := i.peakKB
	if i.pid != 0 && !i.reaped {
		// Read under mu: the pid cannot be reaped, hence reused, meanwhile.
		kb = max(kb, peakRSSKB(i.pid))
	}
	i.mu.Unlock()
	return int((kb + 1023) / 1024)
}

// exitReason words a process exit as Lambda's Runtime.ExitError messages do.
func exitReason(err error) string {
	if err == nil {
		return "Runtime exited without providing a reason"
	}
	return "Runtime exited with error: " + err.Error()
}

// errorDocument renders Lambda's error payload shape, with the field order
// of the emulator's FunctionError.
func errorDocument(errorType, message string) []byte {
	b, err := json.Marshal(struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}{errorType, message})
	if err != nil { // two strings always marshal
		panic(err)
	}
	return b
}
