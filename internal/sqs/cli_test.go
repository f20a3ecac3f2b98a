package sqs

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/testenv"
)

// TestAWSCLISmoke drives the queue API with Debian's aws CLI (v2.9), which
// speaks SQS's Query/XML protocol.
func TestAWSCLISmoke(t *testing.T) {
	const aws = "/usr/bin/aws"
	if _, err := os.Stat(aws); err != nil {
		testenv.Unavailable(t, "Debian's awscli is not installed (%s): apt-get install -y awscli", aws)
	}
	h := start(t)
	run := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(aws, append([]string{"--endpoint-url", h.url, "--output", "json", "sqs"}, args...)...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=" + h.creds.AccessKeyID,
			"AWS_SECRET_ACCESS_KEY=" + h.creds.SecretAccessKey, "AWS_DEFAULT_REGION=us-east-1",
			"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_PAGER="}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws sqs %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		var v map[string]any
		if len(strings.TrimSpace(string(out))) > 0 {
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("aws sqs %s printed %s", strings.Join(args, " "), out)
			}
		}
		return v
	}
	url, _ := run("create-queue", "--queue-name", "cli", "--attributes", "VisibilityTimeout=7")["QueueUrl"].(string)
	if !strings.HasSuffix(url, "/000000000000/cli") {
		t.Fatalf("QueueUrl %q", url)
	}
	run("send-message", "--queue-url", url, "--message-body", "from the cli",
		"--message-attributes", `{"k":{"DataType":"String","StringValue":"v"}}`)
	run("send-message-batch", "--queue-url", url, "--entries", `[{"Id":"a","MessageBody":"one"},{"Id":"b","MessageBody":"two","DelaySeconds":0}]`)
	attrs := run("get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"].(map[string]any)
	if attrs["VisibilityTimeout"] != "7" || attrs["ApproximateNumberOfMessages"] != "3" {
		t.Errorf("attributes %v", attrs)
	}
	got := run("receive-message", "--queue-url", url, "--max-number-of-messages", "10", "--wait-time-seconds", "2",
		"--attribute-names", "All", "--message-attribute-names", "All")
	msgs, _ := got["Messages"].([]any)
	if len(msgs) != 3 {
		t.Fatalf("received %v", got)
	}
	for _, m := range msgs {
		m := m.(map[string]any)
		run("delete-message", "--queue-url", url, "--receipt-handle", m["ReceiptHandle"].(string))
	}
	list := run("list-queues")
	if urls, _ := list["QueueUrls"].([]any); len(urls) != 1 {
		t.Errorf("list-queues %v", list)
	}
	run("purge-queue", "--queue-url", url)
	run("delete-queue", "--queue-url", url)
	cmd := exec.Command(aws, "--endpoint-url", h.url, "sqs", "get-queue-url", "--queue-name", "cli")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=" + h.creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + h.creds.SecretAccessKey, "AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/nonexistent"}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "AWS.SimpleQueueService.NonExistentQueue") {
		t.Errorf("get-queue-url of a deleted queue: %v\n%s", err, out)
	}
}
