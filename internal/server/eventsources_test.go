package server

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloft-dev/aloft/internal/template"
)

// deployWithMapping redeploys testdata/events with the Work mapping's
// properties changed by edit.
func (n *eventsNode) deployWithMapping(t *testing.T, edit func(props map[string]any)) *Deployment {
	t.Helper()
	return n.deployWithWork(t, edit, nil)
}

// deployWithWork redeploys testdata/events with the Work mapping's and the
// Work queue's properties changed by the edits (nil: unchanged).
func (n *eventsNode) deployWithWork(t *testing.T, mapping, queue func(props map[string]any)) *Deployment {
	t.Helper()
	stack, err := template.Load("testdata/events/template.yaml", template.Options{StackName: "events"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for id, r := range stack.Resources {
		if r.Type == "AWS::Lambda::EventSourceMapping" && strings.HasSuffix(fmt.Sprint(r.Properties["EventSourceArn"]), ":Work") {
			if mapping != nil {
				mapping(r.Properties)
			}
			found = true
		}
		if id == "Work" && queue != nil {
			queue(r.Properties)
		}
	}
	if !found {
		t.Fatal("no mapping of the Work queue in testdata/events")
	}
	dep, err := n.srv.Deploy(context.Background(), stack)
	if err != nil {
		t.Fatal(err)
	}
	return dep
}

func (n *eventsNode) pollsWork() bool {
	for _, m := range n.srv.EventStats().Mappings {
		if m.Queue == "Work" {
			return true
		}
	}
	return false
}

// TestDisabledMappings: Enabled false, as a boolean or as a string in any
// case, starts no poller; a value that is neither is a warning, not an
// enabled mapping; enabling it again delivers what waited.
func TestDisabledMappings(t *testing.T) {
	n := startEventsNode(t, t.TempDir())
	if !n.pollsWork() {
		t.Fatal("the Work mapping does not poll to begin with")
	}
	for _, v := range []any{false, "false", "False"} {
		n.deployWithMapping(t, func(p map[string]any) { p["Enabled"] = v })
		if n.pollsWork() {
			t.Errorf("Enabled: %#v: the mapping polls", v)
		}
	}
	dep := n.deployWithMapping(t, func(p map[string]any) { p["Enabled"] = "maybe" })
	if n.pollsWork() || !strings.Contains(strings.Join(dep.Warnings, "\n"), "Enabled is maybe, not true or false") {
		t.Errorf("Enabled: maybe: polls %v, warnings %q", n.pollsWork(), dep.Warnings)
	}
	// Nothing polls, so the message waits in the queue ...
	if _, err := n.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(n.queueURL("Work")),
		MessageBody: aws.String(`{"action":"seen","name":"waited"}`)}); err != nil {
		t.Fatal(err)
	}
	n.waitReport(t, "the message visible in Work", func(r *EventReport) bool {
		rows := queueRows(r, "Work")
		return len(rows) == 1 && rows[0].Visible == 1 && rows[0].Function == ""
	})
	// ... until the mapping is enabled again.
	n.deployWithMapping(t, func(p map[string]any) { p["Enabled"] = "TRUE" })
	n.waitReport(t, "the waiting message delivered", func(r *EventReport) bool {
		rows := queueRows(r, "Work")
		return len(rows) == 1 && rows[0].Delivered == 1 && rows[0].Visible == 0 && rows[0].InFlight == 0
	})
}

// consumerEvents returns the SQS events Consumer printed so far.
func consumerEvents(t *testing.T, logs string) []events.SQSEvent {
	t.Helper()
	var out []events.SQSEvent
	for _, line := range strings.Split(logs, "\n") {
		raw, ok := strings.CutPrefix(line, "Consumer | EVENT ")
		if !ok {
			continue
		}
		var ev events.SQSEvent
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			t.Fatalf("event %s: %v", raw, err)
		}
		out = append(out, ev)
	}
	return out
}

func (n *eventsNode) sendWork(t *testing.T, bodies ...any) {
	t.Helper()
	for _, b := range bodies {
		raw, _ := json.Marshal(b)
		if _, err := n.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(n.queueURL("Work")), MessageBody: aws.String(string(raw))}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBatchingWindow: with MaximumBatchingWindowInSeconds, messages sent
// while the poller gathers join the first one's batch. The later two are
// sent only once the first is in flight, so without the window the first
// would have been invoked alone.
func TestBatchingWindow(t *testing.T) {
	n := startEventsNode(t, t.TempDir())
	n.deployWithWork(t, func(p map[string]any) {
		p["BatchSize"] = 10
		p["MaximumBatchingWindowInSeconds"] = 3
		p["ScalingConfig"] = map[string]any{"MaximumConcurrency": 1}
	}, func(p map[string]any) { p["VisibilityTimeout"] = 60 })
	n.sendWork(t, map[string]string{"name": "w1"})
	n.waitReport(t, "the first message in flight", func(r *EventReport) bool {
		rows := queueRows(r, "Work")
		return len(rows) == 1 && rows[0].InFlight == 1
	})
	n.sendWork(t, map[string]string{"name": "w2"}, map[string]string{"name": "w3"})
	n.waitReport(t, "three messages delivered", func(r *EventReport) bool {
		rows := queueRows(r, "Work")
		return len(rows) == 1 && rows[0].Delivered == 3
	})
	evs := consumerEvents(t, n.logs.String())
	if len(evs) != 1 || len(evs[0].Records) != 3 {
		var sizes []int
		for _, ev := range evs {
			sizes = append(sizes, len(ev.Records))
		}
		t.Errorf("batches of %v records, want one of 3", sizes)
	}
}

// TestMaximumConcurrency: ScalingConfig.MaximumConcurrency bounds the
// mapping's concurrent invocations. The fixture counts the invocations
// running at once itself (files in a shared directory), so the bound is
// observed, not inferred from timing; and it is reached, so a mapping that
// ignored the setting (2 pollers by default) would fail too.
func TestMaximumConcurrency(t *testing.T) {
	n := startEventsNode(t, t.TempDir())
	const limit, count = 3, 12
	n.deployWithWork(t, func(p map[string]any) {
		p["BatchSize"] = 1
		p["ScalingConfig"] = map[string]any{"MaximumConcurrency": limit}
	}, func(p map[string]any) { p["VisibilityTimeout"] = 60 })
	dir := t.TempDir()
	for i := range count {
		n.sendWork(t, map[string]any{"action": "concurrency", "dir": dir, "ms": 400, "name": fmt.Sprint(i)})
	}
	n.waitReport(t, "every message delivered", func(r *EventReport) bool {
		rows := queueRows(r, "Work")
		return len(rows) == 1 && rows[0].Delivered == count
	})
	var seen []int
	for _, line := range strings.Split(n.logs.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "Consumer | CONCURRENT "); ok {
			c, err := strconv.Atoi(rest)
			if err != nil {
				t.Fatalf("line %q", line)
			}
			seen = append(seen, c)
		}
	}
	if len(seen) != count || slices.Max(seen) != limit {
		t.Errorf("concurrent invocations seen %v, want %d invocations, at most and at some point %d at once", seen, count, limit)
	}
}

// TestWholeBatchFailure: a function error (not a partial batch response)
// leaves the whole batch to the visibility timeout; the message comes back
// and, after maxReceiveCount (2), goes to the dead-letter queue.
func TestWholeBatchFailure(t *testing.T) {
	n := startEventsNode(t, t.TempDir())
	n.sendWork(t, map[string]string{"action": "fail-batch", "name": "fb"})
	dead := n.take(t, "WorkDLQ", 1)
	if *dead[0].Body != `{"action":"fail-batch","name":"fb"}` {
		t.Errorf("dead letter %s", *dead[0].Body)
	}
	deliveries := 0
	for _, ev := range consumerEvents(t, n.logs.String()) {
		for _, r := range ev.Records {
			if r.Body == *dead[0].Body {
				deliveries++
				if r.Attributes["ApproximateReceiveCount"] != strconv.Itoa(deliveries) {
					t.Errorf("delivery %d: ApproximateReceiveCount %s", deliveries, r.Attributes["ApproximateReceiveCount"])
				}
			}
		}
	}
	if deliveries != 2 {
		t.Errorf("%d deliveries, want maxReceiveCount 2", deliveries)
	}
	n.waitReport(t, "the failures and the redrive counted", func(r *EventReport) bool {
		rows := queueRows(r, "Work")
		return len(rows) == 1 && rows[0].Failed == 2 && rows[0].Redriven == 1 && rows[0].Delivered == 0
	})
}
