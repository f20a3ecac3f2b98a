package runtime

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// Pool runs the instances of one function. It starts instances on demand,
// gives each exactly one invocation at a time, reuses warm idle instances
// (most recently used first), caps invocations in flight at MaxConcurrency,
// and kills instances idle for IdleTimeout.
//
// Lifecycle: NewPool starts nothing; the first Invoke starts the first
// instance. Shutdown kills every instance and makes later Invoke calls fail
// with ErrPoolClosed. A Pool must be created with NewPool.
//
// Concurrency: all methods are safe for concurrent use. No lock is held
// while an invocation runs. Pools are independent of each other.
type Pool struct {
	spec        FunctionSpec      // normalized copy
	env         map[string]string // shared part of every instance's environment
	maxConc     int
	idleTimeout time.Duration
	initTimeout time.Duration
	maxResponse int // bytes accepted in a response: MaxResponseBytes + Lambda's slack
	sink        *logSink

	mu     sync.Mutex
	closed bool
	busy   int
	// posted counts invocations whose result went to a ResultOnPost caller
	// while their instance has not called next yet: their slots and
	// instances are about to be free. freed, when not nil, is closed by the
	// next release.
	posted int
	freed  chan struct{}
	idle   []*instance // LIFO: the last is the warmest
	all    map[*instance]struct{}
	wg     sync.WaitGroup // one per instance, done once it is fully gone
}

// NewPool validates cfg, applies its defaults and returns an empty pool.
func NewPool(cfg PoolConfig) (*Pool, error) {
	spec := cfg.Function
	if spec.Name == "" {
		return nil, errors.New("runtime: new pool: function name is empty")
	}
	if len(spec.Command) == 0 || spec.Command[0] == "" {
		return nil, fmt.Errorf("runtime: new pool %s: command is empty", spec.Name)
	}
	if cfg.MaxConcurrency < 0 || cfg.MaxResponseBytes < 0 || spec.MemoryMB < 0 ||
		spec.Timeout < 0 || cfg.IdleTimeout < 0 || cfg.InitTimeout < 0 {
		return nil, fmt.Errorf("runtime: new pool %s: negative limit", spec.Name)
	}
	spec.Command = slices.Clone(spec.Command)
	env := make(map[string]string, len(spec.Env))
	for k, v := range spec.Env {
		env[k] = v
	}
	spec.Env = env
	if spec.Version == "" {
		spec.Version = DefaultVersion
	}
	if spec.MemoryMB == 0 {
		spec.MemoryMB = DefaultMemoryMB
	}
	if spec.Timeout == 0 {
		spec.Timeout = DefaultTimeout
	}

	p := &Pool{
		spec:        spec,
		maxConc:     orDefault(cfg.MaxConcurrency, DefaultMaxConcurrency),
		idleTimeout: orDefault(cfg.IdleTimeout, DefaultIdleTimeout),
		initTimeout: orDefault(cfg.InitTimeout, DefaultInitTimeout),
		maxResponse: orDefault(cfg.MaxResponseBytes, DefaultMaxResponseBytes) + payloadSizeSlack,
		sink:        &logSink{w: cfg.Logs},
		all:         make(map[*instance]struct{}),
	}
	if p.sink.w == nil {
		p.sink.w = io.Discard
	}
	p.env = functionEnv(&p.spec)
	if p.spec.ARN == "" {
		p.spec.ARN = "arn:aws:lambda:" + p.env["AWS_REGION"] + ":000000000000:function:" + spec.Name
	}
	return p, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Invoke runs req on a warm instance, or on a new one if none is idle, and
// returns its outcome. Function failures (errors, panics, timeouts, crashes,
// init failures) are Responses with FunctionError set; the error is non-nil
// only for ErrTooManyRequests, ErrPoolClosed, ctx's error or a failure to
// start an instance at all.
//
// ctx bounds the caller's wait, not the invocation: when ctx ends first the
// invocation still runs to completion (or timeout) on its instance, which
// then returns to the pool.
func (p *Pool) Invoke(ctx context.Context, req *Request) (*Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req == nil {
		req = &Request{}
	}
	inv := p.newInvocation(req)

	var patience *time.Timer
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return nil, ErrPoolClosed
		}
		if p.busy < p.maxConc {
			break
		}
		if p.posted == 0 {
			p.mu.Unlock()
			return nil, ErrTooManyRequests
		}
		// Every slot is held, some by invocations already answered whose
		// runtime is on its way to next: wait a round trip for one
		// rather than throttle, but not for a runtime that never comes.
		if patience == nil {
			patience = time.NewTimer(postedWait)
			defer patience.Stop()
		}
		ch := p.freedLocked()
		p.mu.Unlock()
		select {
		case <-ch:
		case <-patience.C:
			return nil, ErrTooManyRequests
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		p.mu.Lock()
	}
	p.busy++
	p.mu.Unlock()

	if err := p.place(inv); err != nil {
		p.mu.Lock()
		p.busy--
		p.mu.Unlock()
		return nil, err
	}

	select {
	case <-inv.posted: // nil unless ResultOnPost
		return inv.early, nil
	case <-inv.done:
		return inv.resp, inv.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// postedWait bounds how long Invoke and place wait for an instance whose
// runtime posted its result to call next: a round trip normally, far less
// than a cold start; a runtime slower than this is not waited for.
const postedWait = 50 * time.Millisecond

// freedLocked returns the channel the next release closes.
func (p *Pool) freedLocked() chan struct{} {
	if p.freed == nil {
		p.freed = make(chan struct{})
	}
	return p.freed
}

// place hands inv, which holds a concurrency slot, to the warmest idle
// instance or, if there is none, to a new one.
func (p *Pool) place(inv *invocation) error {
	var patience *time.Timer
	expired := false
	defer func() {
		if patience != nil {
			patience.Stop()
		}
	}()
	for {
		p.mu.Lock()
		i := p.popIdleLocked()
		if i == nil && p.posted > 0 && !p.closed && !expired {
			// A warm instance is a round trip from idle: cheaper than a
			// cold start, unless its runtime takes longer than postedWait.
			if patience == nil {
				patience = time.NewTimer(postedWait)
			}
			ch := p.freedLocked()
			p.mu.Unlock()
			select {
			case <-ch:
			case <-patience.C:
				expired = true
			}
			continue
		}
		p.mu.Unlock()
		if i == nil {
			return p.spawn(inv)
		}
		if i.assign(inv) {
			return nil
		}
	}
}

// replace gives an invocation whose instance died before delivering it to
// another instance; the caller never learns of the first one.
func (p *Pool) replace(inv *invocation) {
	if err := p.place(inv); err != nil {
		inv.err = err
		close(inv.done)
		p.mu.Lock()
		p.busy--
		p.mu.Unlock()
	}
}

func (p *Pool) newInvocation(req *Request) *invocation {
	inv := &invocation{
		id:            req.RequestID,
		traceID:       req.TraceID,
		arn:           req.InvokedARN,
		clientContext: decodeClientContext(req.ClientContext),
		cognito:       req.CognitoIdentity,
		payload:       req.Payload,
		done:          make(chan struct{}),
	}
	if req.ResultOnPost {
		inv.posted = make(chan struct{})
	}
	if inv.id == "" {
		inv.id = newRequestID()
	}
	if inv.traceID == "" {
		inv.traceID = newTraceID(time.Now())
	}
	if inv.arn == "" {
		inv.arn = p.spec.ARN
	}
	if len(inv.payload) == 0 {
		inv.payload = []byte("{}")
	}
	return inv
}

// decodeClientContext turns the base64 X-Amz-Client-Context value into the
// JSON that Lambda passes to the runtime; anything else passes unchanged.
func decodeClientContext(v string) string {
	if v == "" {
		return ""
	}
	if b, err := base64.StdEncoding.DecodeString(v); err == nil && json.Valid(b) {
		return string(b)
	}
	return v
}

// popIdleLocked takes the most recently used idle instance, if any.
func (p *Pool) popIdleLocked() *instance {
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	i := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	if i.idleTimer != nil {
		i.idleTimer.Stop()
	}
	return i
}

// register adds a new instance unless the pool is closed.
func (p *Pool) register(i *instance) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.all[i] = struct{}{}
	p.wg.Add(1)
	return true
}

// release ends an invocation's hold on i: a reusable instance becomes idle,
// any other is killed.
func (p *Pool) release(i *instance, inv *invocation, reuse bool) {
	p.mu.Lock()
	p.busy--
	inv.released = true
	if inv.counted {
		inv.counted = false
		p.posted--
	}
	if p.freed != nil {
		close(p.freed) // wake callers waiting for a slot or an idle instance
		p.freed = nil
	}
	if reuse && !p.closed && !i.removed {
		i.idleSince = time.Now()
		p.idle = append(p.idle, i)
		if i.idleTimer == nil {
			i.idleTimer = time.AfterFunc(p.idleTimeout, func() { p.reapIdle(i) })
		} else {
			i.idleTimer.Reset(p.idleTimeout)
		}
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	i.kill()
}

// reapIdle kills i if it is still idle and has been for IdleTimeout. A timer
// that could not be stopped when i was taken finds it busy or recently
// released and does nothing.
func (p *Pool) reapIdle(i *instance) {
	p.mu.Lock()
	k := slices.Index(p.idle, i)
	if k < 0 || time.Since(i.idleSince) < p.idleTimeout {
		p.mu.Unlock()
		return
	}
	p.idle = slices.Delete(p.idle, k, k+1)
	p.mu.Unlock()
	i.kill()
}

// remove forgets an instance that is gone and releases its WaitGroup slot.
func (p *Pool) remove(i *instance) {
	p.mu.Lock()
	if !i.removed {
		i.removed = true
		delete(p.all, i)
		if k := slices.Index(p.idle, i); k >= 0 {
			p.idle = slices.Delete(p.idle, k, k+1)
		}
		if i.idleTimer != nil {
			i.idleTimer.Stop()
		}
	}
	p.mu.Unlock()
}

func (p *Pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Stats returns a snapshot of the pool's instances.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{Instances: len(p.all), Busy: p.busy}
}

// Shutdown closes the pool, SIGKILLs the process group of every instance and
// waits until they are all reaped and their listeners closed, or until ctx
// ends. Invocations in flight fail with ErrPoolClosed. It may be called more
// than once.
func (p *Pool) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	insts := make([]*instance, 0, len(p.all))
	for i := range p.all {
		insts = append(insts, i)
	}
	p.idle = nil
	p.mu.Unlock()

	for _, i := range insts {
		i.kill()
	}
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("runtime: shutdown %s: %w", p.spec.Name, ctx.Err())
	}
}

// handOver gives a ResultOnPost caller the posted result at once. The
// invocation keeps its slot until its instance calls next (or dies); until
// then Pool.posted counts it, so that Invoke and place wait for it rather
// than throttle or cold-start.
func (p *Pool) handOver(inv *invocation, res *posted) {
	resp := &Response{RequestID: inv.id, Payload: res.payload}
	if res.failed {
		resp.FunctionError = "Unhandled"
	}
	p.mu.Lock()
	if inv.released {
		// Finished meanwhile (a timeout or an exit raced the post): done
		// carries the outcome.
		p.mu.Unlock()
		return
	}
	inv.early = resp
	inv.counted = true
	p.posted++
	p.mu.Unlock()
	close(inv.posted)
}
