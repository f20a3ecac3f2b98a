package server

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/aloft-dev/aloft/internal/awsapi"
)

// EventReport is what `aloft events` shows: per function, its asynchronous
// events; per queue, its messages and the mappings that poll it; per topic,
// its publications not yet fanned out. Backlogs
// come from JetStream (the same on every node); counters are this node's
// since it started.
type EventReport struct {
	Functions []FunctionEvents `json:"functions"`
	Queues    []QueueEvents    `json:"queues"`
	Topics    []TopicEvents    `json:"topics"`
}

// TopicEvents is one topic: its subscriptions, the publications not yet
// fanned out to all of them (JetStream), and this node's fan-out counters
// (see sns.TopicStats).
type TopicEvents struct {
	Topic            string  `json:"topic"`
	Subscriptions    int     `json:"subscriptions"`
	Pending          uint64  `json:"pending"`
	OldestAgeSeconds float64 `json:"oldestAgeSeconds"`
	Published        int64   `json:"published"`
	Delivered        int64   `json:"delivered"`
	Filtered         int64   `json:"filtered"`
	Failed           int64   `json:"failed"`
	Dropped          int64   `json:"dropped"`
}

// FunctionEvents is one function's asynchronous invocations.
type FunctionEvents struct {
	Function string `json:"function"`
	// Node counters.
	Accepted     int64 `json:"accepted"`
	Delivered    int64 `json:"delivered"`
	Retried      int64 `json:"retried"`
	Throttled    int64 `json:"throttled"`
	Failed       int64 `json:"failed"`
	DeadLettered int64 `json:"deadLettered"`
	Dropped      int64 `json:"dropped"`
	// JetStream backlog.
	Waiting   uint64 `json:"waiting"`
	InFlight  uint64 `json:"inFlight"`
	Scheduled int    `json:"scheduledRetries"`
	// OldestAgeSeconds is the age of the oldest unfinished event (0: none).
	OldestAgeSeconds float64 `json:"oldestAgeSeconds"`
}

// QueueEvents is one queue and the functions its messages trigger.
type QueueEvents struct {
	Queue            string  `json:"queue"`
	Visible          int64   `json:"visible"`
	InFlight         int64   `json:"inFlight"`
	Delayed          int64   `json:"delayed"`
	OldestAgeSeconds float64 `json:"oldestAgeSeconds"`
	// Redriven counts the messages this node moved to the dead-letter
	// queue.
	Redriven int64 `json:"redriven"`
	// Function, when a mapping polls the queue, with this node's counters.
	Function  string `json:"function,omitempty"`
	Batches   int64  `json:"batches,omitempty"`
	Delivered int64  `json:"delivered,omitempty"`
	Failed    int64  `json:"failed,omitempty"`
	Throttled int64  `json:"throttled,omitempty"`
}

// eventsAPI serves GET /_aloft/events, signed with the service name
// "aloft", for `aloft events`.
type eventsAPI struct{ s *Server }

var _ awsapi.Service = eventsAPI{}

// EventsPath is where the node serves its EventReport.
const EventsPath = "/_aloft/events"

// WriteError implements awsapi.Service with a small JSON error document.
func (a eventsAPI) WriteError(w http.ResponseWriter, r *http.Request, e *awsapi.Error) {
	b, _ := json.Marshal(map[string]string{"code": e.Code, "message": e.Message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	w.Write(b)
}

// ServeHTTP answers GET EventsPath with the node's EventReport.
func (a eventsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != EventsPath || r.Method != http.MethodGet {
		a.WriteError(w, r, awsapi.Errorf(http.StatusNotFound, "NotFound", "aloft serves GET %s here", EventsPath))
		return
	}
	rep, err := a.s.eventReport(r)
	if err != nil {
		a.WriteError(w, r, awsapi.AsError(err))
		return
	}
	b, _ := json.Marshal(rep)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

func age(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return time.Since(t).Seconds()
}

func (s *Server) eventReport(r *http.Request) (*EventReport, error) {
	ctx := r.Context()
	stats := s.EventStats()
	byFn := map[string]FunctionEvents{}
	for _, c := range stats.Functions {
		byFn[c.Function] = FunctionEvents{Function: c.Function, Accepted: c.Accepted, Delivered: c.Delivered, Retried: c.Retried,
			Throttled: c.Throttled, Failed: c.Failed, DeadLettered: c.DeadLettered, Dropped: c.Dropped}
	}
	for _, f := range s.functions.Functions() {
		name := f.Configuration.FunctionName
		fe := byFn[name]
		fe.Function = name
		bl, err := s.ev.bus.Backlog(ctx, name)
		if err != nil {
			return nil, err
		}
		fe.Waiting, fe.InFlight, fe.Scheduled, fe.OldestAgeSeconds = bl.Waiting, bl.InFlight, bl.Scheduled, age(bl.Oldest)
		byFn[name] = fe
	}
	rep := &EventReport{Functions: []FunctionEvents{}, Queues: []QueueEvents{}, Topics: []TopicEvents{}}
	for _, fe := range byFn {
		rep.Functions = append(rep.Functions, fe)
	}
	sort.Slice(rep.Functions, func(i, j int) bool { return rep.Functions[i].Function < rep.Functions[j].Function })
	names, err := s.ev.queues.List(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, q := range names {
		c, err := s.ev.queues.Count(ctx, q)
		if err != nil {
			return nil, err
		}
		base := QueueEvents{Queue: q, Visible: c.Visible, InFlight: c.InFlight, Delayed: c.Delayed, OldestAgeSeconds: age(c.Oldest)}
		for _, qs := range stats.Queues {
			if qs.Queue == q {
				base.Redriven = qs.Redriven
			}
		}
		matched := false
		for _, p := range stats.Mappings {
			if p.Queue == q {
				qe := base
				qe.Function, qe.Batches, qe.Delivered, qe.Failed, qe.Throttled = p.Function, p.Batches, p.Delivered, p.Failed, p.Throttled
				rep.Queues = append(rep.Queues, qe)
				matched = true
			}
		}
		if !matched {
			rep.Queues = append(rep.Queues, base)
		}
	}
	topics, err := s.ev.topics.Topics(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range topics {
		subs, err := s.ev.topics.Subscriptions(ctx, s.ev.topics.TopicARN(t.Name))
		if err != nil {
			return nil, err
		}
		bl, err := s.ev.topics.Backlog(ctx, t.Name)
		if err != nil {
			return nil, err
		}
		te := TopicEvents{Topic: t.Name, Subscriptions: len(subs), Pending: bl.Pending, OldestAgeSeconds: age(bl.Oldest)}
		for _, ts := range stats.Topics {
			if ts.Topic == t.Name {
				te.Published, te.Delivered, te.Filtered, te.Failed, te.Dropped = ts.Published, ts.Delivered, ts.Filtered, ts.Failed, ts.Dropped
			}
		}
		rep.Topics = append(rep.Topics, te)
	}
	return rep, nil
}
