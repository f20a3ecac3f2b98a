package server

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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

// TestThumbnailExample runs examples/thumbnail as a user would: uploads to
// the uploads bucket invoke the function written for AWS (aws-lambda-go,
// aws-sdk-go-v2 with LoadDefaultConfig, x/image) through the bucket's
// notifications, and it writes thumbnails through the endpoint aloft gives
// it. Over TLS the function trusts aloft's CA through the AWS_CA_BUNDLE aloft
// gives it.
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
	dep, err := srv.Deploy(ctx, stack)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range dep.Warnings {
		if strings.Contains(w, "otification") {
			t.Errorf("deploy warns about notifications: %s", w)
		}
	}
	store := s3Client(t, srv)

	// The text file goes first: once the images' thumbnails exist, its
	// notification, had there been one, was enqueued before theirs.
	uploads := []struct {
		key          string
		body         []byte
		wantW, wantH int // 0: not an image, no invocation
	}{
		{"notes.txt", []byte("not an image"), 0, 0},
		{"photos/my cat.jpg", encodeImage(t, "jpeg", 640, 480), 256, 192},
		{"tall.PNG", encodeImage(t, "png", 300, 600), 128, 256},
		{"small.png", encodeImage(t, "png", 100, 50), 100, 50},
	}
	for _, u := range uploads {
		if _, err := store.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("uploads"), Key: aws.String(u.key), Body: bytes.NewReader(u.body)}); err != nil {
			t.Fatal(err)
		}
	}
	images := 0
	for _, u := range uploads {
		if u.wantW == 0 {
			continue
		}
		images++
		w, h, format := waitForThumbnail(t, store, u.key)
		if w != u.wantW || h != u.wantH {
			t.Errorf("%s: thumbnail %dx%d (%s), want %dx%d", u.key, w, h, format, u.wantW, u.wantH)
		}
	}
	// Every image made exactly one asynchronous invocation; the text file none.
	found := false
	for _, st := range srv.EventStats().Functions {
		if st.Function == "Thumbnail" {
			found = true
			if st.Accepted != int64(images) {
				t.Errorf("Thumbnail got %d events for %d images: a non-image upload invoked it", st.Accepted, images)
			}
		}
	}
	if !found {
		t.Error("no event counters for Thumbnail")
	}
	if _, err := store.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("thumbnails"), Key: aws.String("notes.txt")}); err == nil {
		t.Error("a thumbnail was written for a file that is not an image")
	}
}

// waitForThumbnail polls the thumbnails bucket until key's thumbnail exists
// (or a minute passes) and returns its size and format.
func waitForThumbnail(t *testing.T, store *s3.Client, key string) (w, h int, format string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for {
		got, err := store.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("thumbnails"), Key: aws.String(key)})
		if err == nil {
			cfg, format, err := image.DecodeConfig(got.Body)
			got.Body.Close()
			if err != nil {
				t.Fatalf("%s: thumbnail: %v", key, err)
			}
			return cfg.Width, cfg.Height, format
		}
		if apiErrorCode(err) != "NoSuchKey" {
			t.Fatalf("%s: %v", key, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no thumbnail after a minute", key)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
