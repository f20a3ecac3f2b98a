package sns

import (
	"sort"
	"sync/atomic"
)

// TopicStats counts one topic's fan-out on this node since it started.
// Every copy a publication owes a matching subscription ends in Delivered
// or Dropped (logged with its reason); Failed counts hand-offs that did not
// succeed and will be tried again, so a copy may be counted there more than
// once before it is delivered.
type TopicStats struct {
	Topic string
	// Published counts publications fanned out (acknowledged).
	Published int64
	// Delivered counts copies accepted by their endpoint (a queue stored
	// it, or the function's asynchronous invocation was accepted). A copy
	// handed off again after another subscription's failure is
	// deduplicated by its target but counted again here.
	Delivered int64
	// Filtered counts copies a subscription's filter policy did not pass.
	Filtered int64
	// Failed counts hand-offs that failed and will be repeated.
	Failed int64
	// Dropped counts copies and publications given up: an endpoint that no
	// longer exists, or a publication aloft cannot read.
	Dropped int64
}

type topicCounters struct {
	published, delivered, filtered, failed, dropped atomic.Int64
}

func (s *Store) counters(topic string) *topicCounters {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	c, ok := s.stats[topic]
	if !ok {
		c = &topicCounters{}
		s.stats[topic] = c
	}
	return c
}

// Stats returns every topic's counters on this node, sorted by topic name.
func (s *Store) Stats() []TopicStats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	out := make([]TopicStats, 0, len(s.stats))
	for name, c := range s.stats {
		out = append(out, TopicStats{Topic: name, Published: c.published.Load(), Delivered: c.delivered.Load(),
			Filtered: c.filtered.Load(), Failed: c.failed.Load(), Dropped: c.dropped.Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out
}
