package sqs

import (
	"sort"
	"sync/atomic"
)

// QueueStats counts what this node did with one queue's messages since it
// started.
type QueueStats struct {
	Queue string
	// Redriven counts messages moved to the dead-letter queue after
	// maxReceiveCount receives (each also a log line).
	Redriven int64
}

type queueCounters struct {
	redriven atomic.Int64
}

func (s *Store) counters(queue string) *queueCounters {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	c, ok := s.stats[queue]
	if !ok {
		c = &queueCounters{}
		s.stats[queue] = c
	}
	return c
}

// Stats returns every queue's counters on this node, sorted by queue name.
func (s *Store) Stats() []QueueStats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	out := make([]QueueStats, 0, len(s.stats))
	for name, c := range s.stats {
		out = append(out, QueueStats{Queue: name, Redriven: c.redriven.Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Queue < out[j].Queue })
	return out
}
