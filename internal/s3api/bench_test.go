package s3api_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BenchmarkPutObject64MB: one 64 MiB PutObject per op through the SDK (default
// checksums) over TLS and plain HTTP, in process; bench/s3 measures the same
// against a separate aloft process beside raw disk rates.
func BenchmarkPutObject64MB(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	for _, tr := range transports {
		b.Run(tr.name, func(b *testing.B) {
			e := newEndpoint(b, tr.tls)
			if _, err := e.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			for i := 0; b.Loop(); i++ {
				if _, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprint(i)), Body: bytes.NewReader(body)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
