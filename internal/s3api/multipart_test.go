package s3api_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestMultipartWithSDK(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e := newEndpoint(t, tr.tls)
			e.mustBucket(t, "bkt")
			part1 := bytes.Repeat([]byte("a"), 5<<20)
			part3 := []byte("the end")
			source := "0123456789" + string(bytes.Repeat([]byte("b"), 5<<20))
			e.put(t, "bkt", "source", source)
			copied := source[2 : 2+5<<20]

			up, err := e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("big"),
				ContentType: aws.String("application/x-big"), Metadata: map[string]string{"m": "v"}})
			if err != nil {
				t.Fatal(err)
			}
			p1, err := e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: up.UploadId,
				PartNumber: aws.Int32(1), Body: bytes.NewReader(part1)})
			if err != nil {
				t.Fatal(err)
			}
			p2, err := e.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: up.UploadId,
				PartNumber: aws.Int32(2), CopySource: aws.String("bkt/source"), CopySourceRange: aws.String(fmt.Sprintf("bytes=2-%d", 2+5<<20-1))})
			if err != nil {
				t.Fatal(err)
			}
			p3, err := e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: up.UploadId,
				PartNumber: aws.Int32(3), Body: bytes.NewReader(part3)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: aws.String("nope"),
				PartNumber: aws.Int32(1), Body: bytes.NewReader(part3)})
			wantCode(t, err, "NoSuchUpload")

			uploads, err := e.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt")})
			if err != nil || len(uploads.Uploads) != 1 || *uploads.Uploads[0].UploadId != *up.UploadId || *uploads.Uploads[0].Key != "big" {
				t.Fatalf("ListMultipartUploads = %+v, %v", uploads, err)
			}
			parts, err := e.client.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: up.UploadId})
			if err != nil || len(parts.Parts) != 3 || *parts.Parts[1].Size != 5<<20 || *parts.Parts[0].ETag != *p1.ETag {
				t.Fatalf("ListParts = %+v, %v", parts, err)
			}

			_, err = e.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: up.UploadId,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
					{PartNumber: aws.Int32(1), ETag: p1.ETag}, {PartNumber: aws.Int32(2), ETag: p1.ETag}}}})
			wantCode(t, err, "InvalidPart")
			done, err := e.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: up.UploadId,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
					{PartNumber: aws.Int32(1), ETag: p1.ETag}, {PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag}, {PartNumber: aws.Int32(3), ETag: p3.ETag}}}})
			if err != nil {
				t.Fatal(err)
			}
			var sums []byte
			for _, p := range [][]byte{part1, []byte(copied), part3} {
				s := md5.Sum(p)
				sums = append(sums, s[:]...)
			}
			all := md5.Sum(sums)
			if want := fmt.Sprintf(`"%s-3"`, hex.EncodeToString(all[:])); *done.ETag != want {
				t.Fatalf("multipart ETag %s, want %s", *done.ETag, want)
			}
			want := string(part1) + copied + string(part3)
			if got := e.get(t, "bkt", "big"); got != want {
				t.Fatalf("assembled object has %d bytes, want %d", len(got), len(want))
			}
			head, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big")})
			if err != nil || *head.ContentType != "application/x-big" || head.Metadata["m"] != "v" || *head.ETag != *done.ETag {
				t.Fatalf("HeadObject = %+v, %v", head, err)
			}

			// Reading by part number, as the transfer managers do.
			pn, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big"), PartNumber: aws.Int32(2)})
			if err != nil {
				t.Fatal(err)
			}
			pb, _ := io.ReadAll(pn.Body)
			pn.Body.Close()
			if string(pb) != copied || aws.ToInt32(pn.PartsCount) != 3 || *pn.ETag != *done.ETag {
				t.Fatalf("GetObject part 2: %d bytes, parts count %d, ETag %s", len(pb), aws.ToInt32(pn.PartsCount), *pn.ETag)
			}
			hp, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big"), PartNumber: aws.Int32(3)})
			if err != nil || *hp.ContentLength != int64(len(part3)) {
				t.Fatalf("HeadObject part 3 = %+v, %v", hp, err)
			}
			_, err = e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big"), PartNumber: aws.Int32(4)})
			wantCode(t, err, "InvalidPartNumber")
			if got, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("source"), PartNumber: aws.Int32(1)}); err != nil || *got.ContentLength != int64(len(source)) {
				t.Fatalf("part 1 of a single-part object: %v", err)
			} else {
				got.Body.Close()
			}

			// A too-small part, then an abort.
			up2, err := e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("small")})
			if err != nil {
				t.Fatal(err)
			}
			var cps []types.CompletedPart
			for n := int32(1); n <= 2; n++ {
				p, err := e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("small"), UploadId: up2.UploadId,
					PartNumber: aws.Int32(n), Body: bytes.NewReader([]byte("tiny"))})
				if err != nil {
					t.Fatal(err)
				}
				cps = append(cps, types.CompletedPart{PartNumber: aws.Int32(n), ETag: p.ETag})
			}
			_, err = e.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("small"), UploadId: up2.UploadId,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: cps}})
			wantCode(t, err, "EntityTooSmall")
			if _, err := e.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("small"), UploadId: up2.UploadId}); err != nil {
				t.Fatal(err)
			}
			_, err = e.client.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("small"), UploadId: up2.UploadId})
			wantCode(t, err, "NoSuchUpload")
		})
	}
}

// TestMultipartChecksums: parts uploaded with the SDK's default CRC32 give
// the object S3's composite checksum, and each part its own, which the SDK
// validates when it downloads by part number.
func TestMultipartChecksums(t *testing.T) {
	e := newEndpoint(t, true)
	e.mustBucket(t, "bkt")
	up, err := e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k"),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		t.Fatal(err)
	}
	bodies := [][]byte{bytes.Repeat([]byte("p"), 5<<20), []byte("last part")}
	var parts []types.CompletedPart
	for i, b := range bodies {
		p, err := e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(b), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		if err != nil {
			t.Fatal(err)
		}
		if p.ChecksumCRC32 == nil {
			t.Fatalf("part %d: no CRC32 echoed", i+1)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: p.ETag, ChecksumCRC32: p.ChecksumCRC32})
	}
	wrong := append([]types.CompletedPart(nil), parts...)
	wrong[1].ChecksumCRC32 = aws.String("AAAAAA==")
	_, err = e.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: wrong}})
	wantCode(t, err, "InvalidPart")
	done, err := e.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatal(err)
	}
	if done.ChecksumCRC32 == nil || !strings.HasSuffix(*done.ChecksumCRC32, "-2") || done.ChecksumType != types.ChecksumTypeComposite {
		t.Fatalf("CompleteMultipartUpload checksum %v type %q, want a composite -2", aws.ToString(done.ChecksumCRC32), done.ChecksumType)
	}
	whole, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, whole.Body)
	whole.Body.Close()
	if aws.ToString(whole.ChecksumCRC32) != *done.ChecksumCRC32 {
		t.Fatalf("GetObject checksum %v, want %s", aws.ToString(whole.ChecksumCRC32), *done.ChecksumCRC32)
	}
	for i := range bodies {
		p, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), PartNumber: aws.Int32(int32(i + 1)), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(p.Body) // validated against the part's CRC32 by the SDK
		p.Body.Close()
		if err != nil || !bytes.Equal(got, bodies[i]) || aws.ToString(p.ChecksumCRC32) != aws.ToString(parts[i].ChecksumCRC32) {
			t.Fatalf("part %d: %d bytes, checksum %v (want %v), %v", i+1, len(got), aws.ToString(p.ChecksumCRC32), aws.ToString(parts[i].ChecksumCRC32), err)
		}
	}
}
