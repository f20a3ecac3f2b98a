package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

const thumbnailTemplate = "../../examples/thumbnail/template.yaml"

// pngImage is a w×h PNG.
func pngImage(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// s3For is an aws-sdk-go-v2 S3 client for a running `aloft up`.
func s3For(up *upProcess) *s3.Client {
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(up.endpoint), UsePathStyle: true, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(up.keyID, up.secret, ""),
	})
}

// thumbnailSize returns the size of key's thumbnail, or ok false while there
// is none.
func thumbnailSize(t *testing.T, c *s3.Client, key string) (w, h int, ok bool) {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("thumbnails"), Key: aws.String(key)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey" {
		return 0, 0, false
	}
	if err != nil {
		t.Fatalf("thumbnail of %s: %v", key, err)
	}
	defer out.Body.Close()
	cfg, _, err := image.DecodeConfig(out.Body)
	if err != nil {
		t.Fatalf("thumbnail of %s: %v", key, err)
	}
	return cfg.Width, cfg.Height, true
}

// TestThumbnailWithAWSCLI is the example's README: `aloft up
// examples/thumbnail/template.yaml`, `aws s3 cp cat.png s3://uploads/`, and
// the thumbnail shows in `aws s3 ls s3://thumbnails/`.
func TestThumbnailWithAWSCLI(t *testing.T) {
	awsCLI := debianAWSCLI(t)
	bin := aloftBinary(t)
	env := baseEnv(t)
	up := startUp(t, bin, env, thumbnailTemplate, "--endpoint", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "data"))
	defer up.stop(t)
	if strings.Contains(up.output.String(), "otification") && strings.Contains(up.output.String(), "not applied") {
		t.Errorf("aloft up warns about notifications:\n%s", up.output)
	}
	src := filepath.Join(t.TempDir(), "cat.png")
	if err := os.WriteFile(src, pngImage(t, 600, 400), 0o644); err != nil {
		t.Fatal(err)
	}
	awsEnv := append(without(env, "AWS_CA_BUNDLE"), "AWS_ACCESS_KEY_ID="+up.keyID, "AWS_SECRET_ACCESS_KEY="+up.secret,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_PAGER=")
	if out, err := runCmd(awsEnv, awsCLI, "--endpoint-url", up.endpoint, "s3", "cp", src, "s3://uploads/"); err != nil {
		t.Fatalf("aws s3 cp: %v\n%s", err, out)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := runCmd(awsEnv, awsCLI, "--endpoint-url", up.endpoint, "s3", "ls", "s3://thumbnails/")
		if err == nil && strings.Contains(out, " cat.png") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no thumbnail listed after a minute: %v\n%s\naloft up:\n%s", err, out, up.output)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if w, h, _ := thumbnailSize(t, s3For(up), "cat.png"); w != 256 || h != 170 {
		t.Errorf("thumbnail %dx%d, want 256x170", w, h)
	}
	if !strings.Contains(up.output.String(), "thumbnail of uploads/cat.png (600x400) written to thumbnails/cat.png (256x170)") {
		t.Errorf("the function's log line is missing:\n%s", up.output)
	}
}

// TestThumbnailCrash kills `aloft up` (SIGKILL) at a random moment while
// images are uploaded and thumbnailed, restarts it on the same data
// directory, and repeats; at the end every upload aloft acknowledged has its
// thumbnail. ALOFT_THUMBNAIL_CRASHES sets the number of kills (default 3;
// bench/run runs more).
func TestThumbnailCrash(t *testing.T) {
	crashes := 3
	if v := os.Getenv("ALOFT_THUMBNAIL_CRASHES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("ALOFT_THUMBNAIL_CRASHES: %v", err)
		}
		crashes = n
	}
	bin := aloftBinary(t)
	env := baseEnv(t)
	data := filepath.Join(t.TempDir(), "data")
	img := pngImage(t, 300, 200)
	ctx := context.Background()

	var accepted []string
	for round := range crashes {
		up := startUp(t, bin, env, thumbnailTemplate, "--endpoint", "127.0.0.1:0", "--data", data)
		c := s3For(up)
		// A few uploaders until the kill point, a random number of
		// acknowledged uploads into the round.
		killAt := 1 + rand.IntN(20)
		var (
			mu     sync.Mutex
			acked  []string
			wg     sync.WaitGroup
			killed = make(chan struct{})
			once   sync.Once
		)
		kill := func() { once.Do(func() { close(killed) }) }
		for u := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 40; i++ {
					key := fmt.Sprintf("r%d/u%d-%d.png", round, u, i)
					if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("uploads"), Key: aws.String(key), Body: bytes.NewReader(img)}); err != nil {
						return // aloft is gone: not acknowledged
					}
					mu.Lock()
					acked = append(acked, key)
					n := len(acked)
					mu.Unlock()
					if n >= killAt {
						kill()
					}
				}
			}()
		}
		go func() { wg.Wait(); kill() }()
		<-killed
		if err := up.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-up.done
		wg.Wait()
		mu.Lock()
		late := 0
		for _, key := range acked {
			if !strings.Contains(up.output.String(), "thumbnail of uploads/"+key+" ") {
				late++
			}
		}
		t.Logf("round %d: killed after %d acknowledged uploads, %d of them not yet thumbnailed", round, len(acked), late)
		accepted = append(accepted, acked...)
		mu.Unlock()
	}

	up := startUp(t, bin, env, thumbnailTemplate, "--endpoint", "127.0.0.1:0", "--data", data)
	defer up.stop(t)
	c := s3For(up)
	deadline := time.Now().Add(2 * time.Minute)
	pending := accepted
	for len(pending) > 0 {
		var still []string
		for _, key := range pending {
			w, h, ok := thumbnailSize(t, c, key)
			if !ok {
				still = append(still, key)
			} else if w != 256 || h != 170 {
				t.Errorf("%s: thumbnail %dx%d, want 256x170", key, w, h)
			}
		}
		pending = still
		if len(pending) > 0 && time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged uploads have no thumbnail, e.g. %v\naloft up:\n%s", len(pending), len(accepted), pending[:min(5, len(pending))], up.output)
		}
		if len(pending) > 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("all %d acknowledged uploads have their thumbnails after %d kills", len(accepted), crashes)
}
