package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/server"
)

func newEventsCommand() *cobra.Command {
	var endpoint string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show event delivery per function and queue of a running aloft",
		Long: `Show event delivery of a running aloft: for each function, its asynchronous
invocations (accepted, delivered, retried, throttled, failed, dead-lettered,
dropped on this node since it started; waiting, in flight, retries scheduled
and the oldest age from JetStream); for each queue, its messages and the function its event
source mapping invokes (batches, delivered, failed) and the messages moved to
its dead-letter queue (redriven); for each topic, its subscriptions, the
publications not yet fanned out, and this node's fan-out counters (published,
copies delivered, filtered out, failed and retried, dropped).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvents(cmd.Context(), cmd.OutOrStdout(), endpoint, asJSON)
		},
	}
	cmd.Flags().StringVar(&endpoint, "endpoint", "127.0.0.1:4566", "the aloft AWS endpoint (host:port or URL)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// emptySHA256 is the SHA-256 of an empty body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func runEvents(ctx context.Context, out io.Writer, endpoint string, asJSON bool) error {
	rec, err := loadEndpoint(endpoint)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rec.URL+server.EventsPath, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	creds := aws.Credentials{AccessKeyID: rec.Credentials.AccessKeyID, SecretAccessKey: rec.Credentials.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptySHA256, "aloft", rec.Region, time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	if asJSON {
		_, err := fmt.Fprintf(out, "%s\n", body)
		return err
	}
	var rep server.EventReport
	if err := json.Unmarshal(body, &rep); err != nil {
		return fmt.Errorf("decoding the report: %w", err)
	}
	return printEvents(out, &rep)
}

func printEvents(out io.Writer, rep *server.EventReport) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FUNCTION\tACCEPTED\tDELIVERED\tRETRIED\tTHROTTLED\tFAILED\tDEAD-LETTERED\tDROPPED\tWAITING\tIN FLIGHT\tRETRIES SCHEDULED\tOLDEST")
	for _, f := range rep.Functions {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", f.Function, f.Accepted, f.Delivered, f.Retried, f.Throttled,
			f.Failed, f.DeadLettered, f.Dropped, f.Waiting, f.InFlight, f.Scheduled, ageString(f.OldestAgeSeconds))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "QUEUE\tVISIBLE\tIN FLIGHT\tDELAYED\tOLDEST\tREDRIVEN\tFUNCTION\tBATCHES\tDELIVERED\tFAILED\tTHROTTLED")
	for _, q := range rep.Queues {
		fn := q.Function
		if fn == "" {
			fn = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%d\t%s\t%d\t%d\t%d\t%d\n", q.Queue, q.Visible, q.InFlight, q.Delayed, ageString(q.OldestAgeSeconds),
			q.Redriven, fn, q.Batches, q.Delivered, q.Failed, q.Throttled)
	}
	if len(rep.Topics) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "TOPIC\tSUBSCRIPTIONS\tPENDING\tOLDEST\tPUBLISHED\tDELIVERED\tFILTERED\tFAILED\tDROPPED")
		for _, t := range rep.Topics {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\n", t.Topic, t.Subscriptions, t.Pending, ageString(t.OldestAgeSeconds),
				t.Published, t.Delivered, t.Filtered, t.Failed, t.Dropped)
		}
	}
	return tw.Flush()
}

func ageString(seconds float64) string {
	if seconds == 0 {
		return "-"
	}
	return (time.Duration(seconds * float64(time.Second))).Round(time.Second).String()
}
