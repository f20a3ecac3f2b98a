// Command events measures aloft's event path beside a raw JetStream
// publish+consume loop with the same sync setting, in the same run:
//
//   - accepted/s: asynchronous invocations (Invoke, Event) answered 202, from
//     -c concurrent clients, against raw JetStream publishes/s;
//   - delivered/s: those events run by a no-op function, against raw
//     consumes/s of a durable pull consumer;
//   - SendMessage → function start p50, one message at a time, against raw
//     publish → consumer-receive p50.
//
// Run it with `go run ./bench/events` (or bench/run); -sync always fsyncs
// every JetStream write in both measurements.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/backbone"
	"github.com/aloft-dev/aloft/internal/server"
	"github.com/aloft-dev/aloft/internal/template"
)

func main() {
	n := flag.Int("n", 5000, "asynchronous events to send")
	lat := flag.Int("latency-n", 300, "messages for the SendMessage → function start latency")
	conc := flag.Int("c", 8, "concurrent senders")
	syncMode := flag.String("sync", "default", `JetStream sync: "default" or "always"`)
	tmpl := flag.String("template", "bench/events/template.yaml", "the benchmark's template")
	flag.Parse()
	if err := run(*n, *lat, *conc, *syncMode == "always", *tmpl); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// seenWriter records when each "SEEN name" line of the functions' output
// arrives.
type seenWriter struct {
	mu   sync.Mutex
	seen map[string]time.Time
	pw   *io.PipeWriter
}

func newSeenWriter() *seenWriter {
	pr, pw := io.Pipe()
	w := &seenWriter{seen: map[string]time.Time{}, pw: pw}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if _, name, ok := strings.Cut(sc.Text(), "SEEN "); ok {
				w.mu.Lock()
				w.seen[name] = time.Now()
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// Write implements io.Writer for the server's log output.
func (w *seenWriter) Write(p []byte) (int, error) { return w.pw.Write(p) }

func (w *seenWriter) at(name string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.seen[name]
	return t, ok
}

func run(n, latN, conc int, syncAlways bool, tmpl string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "aloft-bench-events-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	raw, err := rawJetStream(ctx, filepath.Join(dir, "raw"), n, latN, conc, syncAlways)
	if err != nil {
		return fmt.Errorf("raw JetStream: %w", err)
	}

	stack, err := template.Load(tmpl, template.Options{StackName: "bench"})
	if err != nil {
		return err
	}
	seen := newSeenWriter()
	cfg := server.DefaultConfig(filepath.Join(dir, "aloft"))
	cfg.Endpoint = "127.0.0.1:0"
	cfg.SyncAlways = syncAlways
	cfg.Logs = seen
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer srv.Shutdown(context.Background())
	if _, err := srv.Deploy(ctx, stack); err != nil {
		return err
	}
	creds := credentials.NewStaticCredentialsProvider(srv.Credentials().AccessKeyID, srv.Credentials().SecretAccessKey, "")
	lc := lambda.New(lambda.Options{Region: srv.Region(), BaseEndpoint: aws.String(srv.EndpointURL()), Credentials: creds})
	qc := sqs.New(sqs.Options{Region: srv.Region(), BaseEndpoint: aws.String(srv.EndpointURL()), Credentials: creds})

	// Accepted/s and delivered/s.
	payload := []byte(`{}`)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if _, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("Sink"), Payload: payload, InvocationType: lambdatypes.InvocationTypeEvent}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	accepted := time.Since(start)
	select {
	case err := <-errs:
		return err
	default:
	}
	for {
		var delivered int64
		for _, s := range srv.EventStats().Functions {
			if s.Function == "Sink" {
				delivered = s.Delivered
			}
		}
		if delivered >= int64(n) {
			break
		}
		if time.Since(start) > 10*time.Minute {
			return fmt.Errorf("only %d of %d events delivered after 10 minutes", delivered, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	delivered := time.Since(start)

	// SendMessage → function start, one message at a time.
	queueURL := srv.EndpointURL() + "/000000000000/Jobs"
	var latencies []time.Duration
	for i := range latN {
		name := fmt.Sprintf("m%d", i)
		body, _ := json.Marshal(map[string]string{"action": "seen", "name": name})
		sent := time.Now()
		if _, err := qc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(string(body))}); err != nil {
			return err
		}
		for {
			if at, ok := seen.at(name); ok {
				latencies = append(latencies, at.Sub(sent))
				break
			}
			if time.Since(sent) > time.Minute {
				return fmt.Errorf("message %s never reached the function", name)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}

	mode := "default"
	if syncAlways {
		mode = "always"
	}
	fmt.Printf("sync %s, %d events, %d concurrent senders\n", mode, n, conc)
	fmt.Printf("%-44s %12s %12s %8s\n", "", "aloft", "raw JS", "ratio")
	accRate, rawPub := float64(n)/accepted.Seconds(), float64(n)/raw.publish.Seconds()
	delRate, rawCons := float64(n)/delivered.Seconds(), float64(n)/raw.consume.Seconds()
	fmt.Printf("%-44s %12.0f %12.0f %8.2f\n", "accepted/s (Invoke Event | publish)", accRate, rawPub, rawPub/accRate)
	fmt.Printf("%-44s %12.0f %12.0f %8.2f\n", "delivered/s (no-op function | consume+ack)", delRate, rawCons, rawCons/delRate)
	p50 := percentile(latencies, 50)
	fmt.Printf("%-44s %12s %12s %8.1f\n", "p50 SendMessage→function start | pub→recv", p50.Round(time.Microsecond), raw.p50.Round(time.Microsecond), float64(p50)/float64(raw.p50))
	fmt.Printf("%-44s %12s\n", "p99 SendMessage→function start", percentile(latencies, 99).Round(time.Microsecond))
	return nil
}

type rawResult struct {
	publish, consume time.Duration
	p50              time.Duration
}

// rawJetStream is the baseline: the same embedded server configuration,
// publishing n messages from conc goroutines, consuming and acking them with
// one durable pull consumer, then latN publish → receive round trips.
func rawJetStream(ctx context.Context, dir string, n, latN, conc int, syncAlways bool) (rawResult, error) {
	var res rawResult
	bb, err := backbone.Start(ctx, backbone.Config{DataDir: dir, SyncAlways: syncAlways})
	if err != nil {
		return res, err
	}
	defer bb.Shutdown(context.Background())
	js := bb.JetStream()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Retention: jetstream.WorkQueuePolicy})
	if err != nil {
		return res, err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if _, err := js.Publish(ctx, "raw.work", []byte(`{}`)); err != nil {
					panic(err)
				}
			}
		}()
	}
	wg.Wait()
	res.publish = time.Since(start)
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c", FilterSubject: "raw.work", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		return res, err
	}
	start = time.Now()
	for got := 0; got < n; {
		batch, err := cons.Fetch(min(100, n-got))
		if err != nil {
			return res, err
		}
		for m := range batch.Messages() {
			if err := m.DoubleAck(ctx); err != nil {
				return res, err
			}
			got++
		}
	}
	res.consume = time.Since(start)
	lcons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "l", FilterSubject: "raw.lat", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		return res, err
	}
	var lats []time.Duration
	for range latN {
		sent := time.Now()
		if _, err := js.Publish(ctx, "raw.lat", []byte(`{}`)); err != nil {
			return res, err
		}
		batch, err := lcons.Fetch(1)
		if err != nil {
			return res, err
		}
		for m := range batch.Messages() {
			lats = append(lats, time.Since(sent))
			m.Ack()
		}
	}
	res.p50 = percentile(lats, 50)
	return res, nil
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
