package eventbus

import (
	"sort"
	"sync/atomic"
)

// Stats counts one function's asynchronous events on this node since it
// started. Every event that leaves the stream without a successful delivery
// is counted in DeadLettered or Dropped, and Dropped ones are also logged.
type Stats struct {
	Accepted, Delivered, Retried, Throttled, Failed, DeadLettered, Dropped atomic.Int64
	InFlight                                                               atomic.Int64
}

// FunctionStats is a snapshot of one function's counters.
type FunctionStats struct {
	Function                                                               string
	Accepted, Delivered, Retried, Throttled, Failed, DeadLettered, Dropped int64
	InFlight                                                               int64
}

func (b *Bus) stat(fn string) *Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.statLocked(fn)
}

func (b *Bus) statLocked(fn string) *Stats {
	s, ok := b.stats[fn]
	if !ok {
		s = &Stats{}
		b.stats[fn] = s
	}
	return s
}

// Stats returns every function's counters, sorted by function name.
func (b *Bus) Stats() []FunctionStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]FunctionStats, 0, len(b.stats))
	for name, s := range b.stats {
		out = append(out, FunctionStats{
			Function: name, Accepted: s.Accepted.Load(), Delivered: s.Delivered.Load(), Retried: s.Retried.Load(),
			Throttled: s.Throttled.Load(), Failed: s.Failed.Load(), DeadLettered: s.DeadLettered.Load(),
			Dropped: s.Dropped.Load(), InFlight: s.InFlight.Load(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Function < out[j].Function })
	return out
}
