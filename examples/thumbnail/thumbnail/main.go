// Command thumbnail is a Lambda function written for AWS, unchanged for aloft:
// for each S3 record of an ObjectCreated event it reads the uploaded object and,
// when it is a JPEG or PNG, writes a thumbnail of at most MaxSide pixels on its
// longer side (aspect kept, never enlarged) under the same key in the bucket
// named by THUMBNAIL_BUCKET. Other files are ignored.
package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"log"
	"net/url"
	"os"
	"path"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/image/draw"
)

// MaxSide is the longest side of a thumbnail, in pixels.
const MaxSide = 256

type handler struct {
	s3   *s3.Client
	dest string
}

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatalf("aws config: %v", err)
	}
	h := &handler{s3: s3.NewFromConfig(cfg), dest: os.Getenv("THUMBNAIL_BUCKET")}
	lambda.Start(h.handle)
}

func (h *handler) handle(ctx context.Context, ev events.S3Event) error {
	for _, rec := range ev.Records {
		// Keys arrive URL-encoded in S3 events ("my+cat.jpg" for "my cat.jpg").
		key, err := url.QueryUnescape(rec.S3.Object.Key)
		if err != nil {
			return fmt.Errorf("key %q: %w", rec.S3.Object.Key, err)
		}
		if err := h.thumbnail(ctx, rec.S3.Bucket.Name, key); err != nil {
			return fmt.Errorf("%s/%s: %w", rec.S3.Bucket.Name, key, err)
		}
	}
	return nil
}

func (h *handler) thumbnail(ctx context.Context, bucket, key string) error {
	ext := strings.ToLower(path.Ext(key))
	if ext != ".jpg" && ext != ".jpeg" && ext != ".png" {
		log.Printf("ignoring %s/%s: not a JPEG or PNG", bucket, key)
		return nil
	}
	obj, err := h.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	src, format, err := image.Decode(obj.Body)
	obj.Body.Close()
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	b := src.Bounds()
	w, hgt := b.Dx(), b.Dy()
	if w > MaxSide || hgt > MaxSide {
		if w >= hgt {
			w, hgt = MaxSide, max(1, hgt*MaxSide/b.Dx())
		} else {
			w, hgt = max(1, w*MaxSide/b.Dy()), MaxSide
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, hgt))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Over, nil)
	var out bytes.Buffer
	contentType := "image/png"
	if format == "jpeg" {
		contentType = "image/jpeg"
		err = jpeg.Encode(&out, dst, &jpeg.Options{Quality: 85})
	} else {
		err = png.Encode(&out, dst)
	}
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	_, err = h.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(h.dest), Key: aws.String(key),
		Body: bytes.NewReader(out.Bytes()), ContentType: aws.String(contentType)})
	if err != nil {
		return err
	}
	log.Printf("thumbnail of %s/%s (%dx%d) written to %s/%s (%dx%d)", bucket, key, b.Dx(), b.Dy(), h.dest, key, w, hgt)
	return nil
}
