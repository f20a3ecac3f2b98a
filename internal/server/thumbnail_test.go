package server

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aloft-dev/aloft/internal/template"
)

func encodeImage(t *testing.T, format string, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var b bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&b, img)
	} else {
		err = jpeg.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestThumbnailExample runs examples/thumbnail: a function written for AWS
// (aws-lambda-go, aws-sdk-go-v2 with LoadDefaultConfig, x/image) reads and
// writes aloft's buckets through the endpoint aloft gives it. Until bucket
// notifications deliver S3 events, the test invokes the function with the
// event S3 would send. Over TLS the function trusts aloft's CA through the
// AWS_CA_BUNDLE aloft gives it.
func TestThumbnailExample(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "tls"}[useTLS], func(t *testing.T) { testThumbnail(t, useTLS) })
	}
}

func testThumbnail(t *testing.T, useTLS bool) {
	ctx := context.Background()
	cfg := DefaultConfig(t.TempDir())
	cfg.Endpoint = "127.0.0.1:0"
	cfg.BuildCacheDir = buildCache
	cfg.TLS = useTLS
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	stack, err := template.Load("../../examples/thumbnail/template.yaml", template.Options{StackName: "thumbnail"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Deploy(ctx, stack); err != nil {
		t.Fatal(err)
	}
	store := s3Client(t, srv)
	fn := lambdaClient(t, srv)

	uploads := []struct {
		key          string
		body         []byte
		wantW, wantH int // 0: no thumbnail
	}{
		{"photos/my cat.jpg", encodeImage(t, "jpeg", 640, 480), 256, 192},
		{"tall.PNG", encodeImage(t, "png", 300, 600), 128, 256},
		{"small.png", encodeImage(t, "png", 100, 50), 100, 50},
		{"notes.txt", []byte("not an image"), 0, 0},
	}
	for _, u := range uploads {
		put, err := store.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("uploads"), Key: aws.String(u.key), Body: bytes.NewReader(u.body)})
		if err != nil {
			t.Fatal(err)
		}
		ev := events.S3Event{Records: []events.S3EventRecord{{
			EventVersion: "2.1", EventSource: "aws:s3", AWSRegion: srv.Region(), EventName: "ObjectCreated:Put",
			S3: events.S3Entity{
				SchemaVersion: "1.0",
				Bucket:        events.S3Bucket{Name: "uploads", Arn: "arn:aws:s3:::uploads"},
				Object: events.S3Object{Key: strings.ReplaceAll(url.QueryEscape(u.key), "%2F", "/"), Size: int64(len(u.body)),
					ETag: strings.Trim(*put.ETag, `"`), Sequencer: "0A1B2C3D4E5F678901"},
			},
		}}}
		payload, _ := json.Marshal(ev)
		out, err := fn.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("Thumbnail"), Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		if out.FunctionError != nil {
			t.Fatalf("%s: function error %s: %s", u.key, *out.FunctionError, out.Payload)
		}
		got, err := store.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("thumbnails"), Key: aws.String(u.key)})
		if u.wantW == 0 {
			if err == nil {
				got.Body.Close()
				t.Fatalf("%s: a thumbnail was written for a file that is not an image", u.key)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: no thumbnail: %v", u.key, err)
		}
		cfg, format, err := image.DecodeConfig(got.Body)
		got.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Width != u.wantW || cfg.Height != u.wantH {
			t.Errorf("%s: thumbnail %dx%d (%s), want %dx%d", u.key, cfg.Width, cfg.Height, format, u.wantW, u.wantH)
		}
	}
}

// lambdaClient is newClient trusting the node's CA when it serves TLS.
func lambdaClient(t *testing.T, srv *Server) *lambda.Client {
	t.Helper()
	c := newClient(srv, srv.Credentials())
	if srv.CAPath() == "" {
		return c
	}
	return lambda.New(c.Options(), func(o *lambda.Options) { o.HTTPClient = s3Client(t, srv).Options().HTTPClient })
}
