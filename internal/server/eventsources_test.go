package server

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloft-dev/aloft/internal/template"
)

// deployWithMapping redeploys testdata/events with the Work mapping's
// properties changed by edit.
func (n *eventsNode) deployWithMapping(t *testing.T, edit func(props map[string]any)) *Deployment {
	t.Helper()
	stack, err := template.Load("testdata/events/template.yaml", template.Options{StackName: "events"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range stack.Resources {
		if r.Type == "AWS::Lambda::EventSourceMapping" && strings.HasSuffix(fmt.Sprint(r.Properties["EventSourceArn"]), ":Work") {
			edit(r.Properties)
			found = true
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
