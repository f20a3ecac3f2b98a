// Package objstoretest is the contract every objstore.Backend passes: Run
// exercises an implementation through the interface alone, as litestream's
// RunWithReplicaClient does for its replica clients.
package objstoretest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// Run runs the contract suite; newBackend returns a fresh, empty backend for
// each subtest.
func Run(t *testing.T, newBackend func(t *testing.T) objstore.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b objstore.Backend)
	}{
		{"Buckets", testBuckets},
		{"PutGetHead", testPutGetHead},
		{"Ranges", testRanges},
		{"AwkwardKeys", testAwkwardKeys},
		{"Delete", testDelete},
		{"List", testList},
		{"ListMatchesModel", testListMatchesModel},
		{"FailedWriteKeepsOld", testFailedWriteKeepsOld},
		{"ConcurrentOverwrite", testConcurrentOverwrite},
		{"Multipart", testMultipart},
		{"ConditionalWrites", testConditionalWrites},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newBackend(t)) })
	}
}

var ctx = context.Background()

func mustBucket(t *testing.T, b objstore.Backend, name string) {
	t.Helper()
	if err := b.CreateBucket(ctx, name); err != nil {
		t.Fatalf("CreateBucket(%s): %v", name, err)
	}
}

func put(t *testing.T, b objstore.Backend, bucket, key, body string) objstore.ObjectInfo {
	t.Helper()
	info, err := b.PutObject(ctx, bucket, key, strings.NewReader(body), objstore.PutOptions{})
	if err != nil {
		t.Fatalf("PutObject(%s/%q): %v", bucket, key, err)
	}
	return info
}

func get(t *testing.T, b objstore.Backend, bucket, key string, rng *objstore.Range) string {
	t.Helper()
	obj, err := b.GetObject(ctx, bucket, key, rng)
	if err != nil {
		t.Fatalf("GetObject(%s/%q): %v", bucket, key, err)
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatalf("read %s/%q: %v", bucket, key, err)
	}
	return string(data)
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func testBuckets(t *testing.T, b objstore.Backend) {
	mustBucket(t, b, "b2")
	mustBucket(t, b, "b1")
	if err := b.CreateBucket(ctx, "b1"); !errors.Is(err, objstore.ErrBucketExists) {
		t.Fatalf("second CreateBucket: %v, want ErrBucketExists", err)
	}
	list, err := b.ListBuckets(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "b1" || list[1].Name != "b2" || list[0].Created.IsZero() {
		t.Fatalf("ListBuckets = %+v, %v", list, err)
	}
	if _, err := b.HeadBucket(ctx, "nope"); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Fatalf("HeadBucket(nope): %v", err)
	}
	if _, err := b.PutObject(ctx, "nope", "k", strings.NewReader("x"), objstore.PutOptions{}); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Fatalf("PutObject into a missing bucket: %v", err)
	}
	put(t, b, "b1", "k", "x")
	if err := b.DeleteBucket(ctx, "b1"); !errors.Is(err, objstore.ErrBucketNotEmpty) {
		t.Fatalf("DeleteBucket(non-empty): %v", err)
	}
	if err := b.DeleteObject(ctx, "b1", "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateUpload(ctx, "b1", "pending", objstore.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteBucket(ctx, "b1"); err != nil {
		t.Fatalf("DeleteBucket(empty): %v", err)
	}
	if err := b.DeleteBucket(ctx, "b1"); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Fatalf("DeleteBucket(gone): %v", err)
	}
	mustBucket(t, b, "b1") // the name is free again, and the bucket empty
	if res, err := b.ListObjects(ctx, "b1", objstore.ListOptions{}); err != nil || len(res.Objects) != 0 {
		t.Fatalf("recreated bucket lists %+v, %v", res, err)
	}
}

func testPutGetHead(t *testing.T, b objstore.Backend) {
	mustBucket(t, b, "b")
	meta := objstore.Metadata{ContentType: "text/plain", CacheControl: "no-cache", User: map[string]string{"colour": "blue"}}
	info, err := b.PutObject(ctx, "b", "dir/file.txt", strings.NewReader("hello"), objstore.PutOptions{
		Metadata: meta,
		Seal: func(i *objstore.ObjectInfo) error {
			if i.Size != 5 || i.ETag != md5hex("hello") {
				return fmt.Errorf("seal saw %+v", i)
			}
			i.Checksums = map[string]string{"CRC32": "NhCmhg=="}
			i.WriteID = "w1"
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag != md5hex("hello") || info.Size != 5 || info.LastModified.IsZero() {
		t.Fatalf("PutObject info %+v", info)
	}
	head, err := b.HeadObject(ctx, "b", "dir/file.txt")
	if err != nil {
		t.Fatal(err)
	}
	if head.ETag != info.ETag || head.Size != 5 || !reflect.DeepEqual(head.Metadata, meta) || head.Checksums["CRC32"] != "NhCmhg==" || head.Key != "dir/file.txt" || head.WriteID != "w1" {
		t.Fatalf("HeadObject = %+v", head)
	}
	if got := get(t, b, "b", "dir/file.txt", nil); got != "hello" {
		t.Fatalf("GetObject = %q", got)
	}
	put(t, b, "b", "dir/file.txt", "")
	if got := get(t, b, "b", "dir/file.txt", nil); got != "" {
		t.Fatalf("empty object reads %q", got)
	}
	for _, key := range []string{"dir", "dir/", "dir/file.txt/x", "missing"} {
		if _, err := b.HeadObject(ctx, "b", key); !errors.Is(err, objstore.ErrNoSuchKey) {
			t.Errorf("HeadObject(%q): %v, want ErrNoSuchKey", key, err)
		}
		if _, err := b.GetObject(ctx, "b", key, nil); !errors.Is(err, objstore.ErrNoSuchKey) {
			t.Errorf("GetObject(%q): %v, want ErrNoSuchKey", key, err)
		}
	}
	if _, err := b.PutObject(ctx, "b", strings.Repeat("k", 1025), strings.NewReader(""), objstore.PutOptions{}); !errors.Is(err, objstore.ErrKeyTooLong) {
		t.Errorf("1025-byte key: %v, want ErrKeyTooLong", err)
	}
}

func testRanges(t *testing.T, b objstore.Backend) {
	mustBucket(t, b, "b")
	put(t, b, "b", "k", "0123456789")
	for _, tc := range []struct {
		rng  objstore.Range
		want string
	}{{objstore.Range{Start: 0, End: 0}, "0"}, {objstore.Range{Start: 3, End: 5}, "345"}, {objstore.Range{Start: 8, End: 100}, "89"}, {objstore.Range{Start: -3}, "789"}, {objstore.Range{Start: -30}, "0123456789"}} {
		if got := get(t, b, "b", "k", &tc.rng); got != tc.want {
			t.Errorf("range %+v = %q, want %q", tc.rng, got, tc.want)
		}
	}
	obj, err := b.GetObject(ctx, "b", "k", &objstore.Range{Start: 8, End: 100})
	if err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	if obj.Range != (objstore.Range{Start: 8, End: 9}) || obj.Info.Size != 10 {
		t.Errorf("clamped range = %+v, size %d", obj.Range, obj.Info.Size)
	}
	if _, err := b.GetObject(ctx, "b", "k", &objstore.Range{Start: 10, End: 12}); !errors.Is(err, objstore.ErrInvalidRange) {
		t.Errorf("range past the end: %v, want ErrInvalidRange", err)
	}
}

// awkwardKeys are keys that trip naive key-to-path mappings.
var awkwardKeys = []string{
	"a", "a/", "a/b", "a//b", "a/b/", "/lead", ".", "..", "a/../b", "...", ".hidden",
	"sp ace", "per%cent", "tilde~o", "x~o/y", "ünï/cödé", "q?&=#", strings.Repeat("s", 240) + "/" + strings.Repeat("t", 240),
}

func testAwkwardKeys(t *testing.T, b objstore.Backend) {
	mustBucket(t, b, "b")
	for _, k := range awkwardKeys {
		put(t, b, "b", k, "v:"+k)
	}
	for _, k := range awkwardKeys {
		if got := get(t, b, "b", k, nil); got != "v:"+k {
			t.Errorf("GetObject(%q) = %q", k, got)
		}
	}
	res, err := b.ListObjects(ctx, "b", objstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range res.Objects {
		got = append(got, o.Key)
	}
	want := append([]string(nil), awkwardKeys...)
	sortStrings(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("listed\n%q\nwant\n%q", got, want)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func testDelete(t *testing.T, b objstore.Backend) {
	mustBucket(t, b, "b")
	put(t, b, "b", "x/y/z", "1")
	put(t, b, "b", "x/y", "2")
	if err := b.DeleteObject(ctx, "b", "x/y/z"); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteObject(ctx, "b", "x/y/z"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if got := get(t, b, "b", "x/y", nil); got != "2" {
		t.Fatalf("sibling after delete = %q", got)
	}
	put(t, b, "b", "x/y/z", "3") // the emptied directory comes back
	if got := get(t, b, "b", "x/y/z", nil); got != "3" {
		t.Fatalf("re-put = %q", got)
	}
}

func testList(t *testing.T, b objstore.Backend) {
	mustBucket(t, b, "b")
	keys := []string{"a-c", "a/b", "a/c/d", "a/c/e", "a/d", "b", "c/x", "c/y"}
	for _, k := range keys {
		put(t, b, "b", k, k)
	}
	type page struct {
		objs, cps []string
		trunc     bool
		next      string
	}
	list := func(o objstore.ListOptions) page {
		res, err := b.ListObjects(ctx, "b", o)
		if err != nil {
			t.Fatal(err)
		}
		p := page{cps: res.CommonPrefixes, trunc: res.Truncated, next: res.Next}
		for _, o := range res.Objects {
			p.objs = append(p.objs, o.Key)
			if o.ETag != md5hex(o.Key) || o.Size != int64(len(o.Key)) {
				t.Errorf("listed %+v", o)
			}
		}
		return p
	}
	for _, tc := range []struct {
		opts objstore.ListOptions
		want page
	}{
		{objstore.ListOptions{}, page{objs: keys}},
		{objstore.ListOptions{Prefix: "a/"}, page{objs: []string{"a/b", "a/c/d", "a/c/e", "a/d"}}},
		{objstore.ListOptions{Prefix: "a/c"}, page{objs: []string{"a/c/d", "a/c/e"}}},
		{objstore.ListOptions{Delimiter: "/"}, page{objs: []string{"a-c", "b"}, cps: []string{"a/", "c/"}}},
		{objstore.ListOptions{Prefix: "a/", Delimiter: "/"}, page{objs: []string{"a/b", "a/d"}, cps: []string{"a/c/"}}},
		{objstore.ListOptions{MaxKeys: 3}, page{objs: keys[:3], trunc: true, next: "a/c/d"}},
		{objstore.ListOptions{After: "a/c/d", MaxKeys: 3}, page{objs: keys[3:6], trunc: true, next: "b"}},
		{objstore.ListOptions{After: "b"}, page{objs: keys[6:]}},
		{objstore.ListOptions{Delimiter: "/", MaxKeys: 2}, page{objs: []string{"a-c"}, cps: []string{"a/"}, trunc: true, next: "a/"}},
		{objstore.ListOptions{Delimiter: "/", After: "a/", MaxKeys: 2}, page{objs: []string{"b"}, cps: []string{"c/"}}},
		{objstore.ListOptions{Prefix: "zzz"}, page{}},
	} {
		if got := list(tc.opts); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ListObjects(%+v) = %+v, want %+v", tc.opts, got, tc.want)
		}
	}
}

// failingReader returns some bytes, then err.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	n := min(r.n, len(p))
	for i := range p[:n] {
		p[i] = 'x'
	}
	r.n -= n
	return n, nil
}

func testFailedWriteKeepsOld(t *testing.T, b objstore.Backend) {
	mustBucket(t, b, "b")
	put(t, b, "b", "k", "old")
	boom := errors.New("boom")
	_, err := b.PutObject(ctx, "b", "k", &failingReader{n: 1 << 20, err: boom}, objstore.PutOptions{})
	if !errors.Is(err, boom) {
		t.Fatalf("PutObject with a failing body: %v, want it to wrap the body's error", err)
	}
	_, err = b.PutObject(ctx, "b", "k", strings.NewReader("new"), objstore.PutOptions{Seal: func(*objstore.ObjectInfo) error { return boom }})
	if !errors.Is(err, boom) {
		t.Fatalf("PutObject refused by Seal: %v", err)
	}
	if got := get(t, b, "b", "k", nil); got != "old" {
		t.Fatalf("after failed writes the object reads %q", got)
	}
	if _, err := b.PutObject(ctx, "b", "new", &failingReader{n: 10, err: boom}, objstore.PutOptions{}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := b.HeadObject(ctx, "b", "new"); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Fatalf("a failed first write left an object: %v", err)
	}
}

// testConcurrentOverwrite reads while writers replace an object: every read
// sees one whole version.
func testConcurrentOverwrite(t *testing.T, b objstore.Backend) {
	mustBucket(t, b, "b")
	versions := []string{strings.Repeat("A", 300<<10), strings.Repeat("B", 200<<10), strings.Repeat("C", 100<<10)}
	put(t, b, "b", "k", versions[0])
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				v := versions[(i+j)%3]
				if _, err := b.PutObject(ctx, "b", "k", strings.NewReader(v), objstore.PutOptions{}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for range 20 {
		obj, err := b.GetObject(ctx, "b", "k", nil)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(obj.Body)
		obj.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != versions[0] && string(data) != versions[1] && string(data) != versions[2] {
			t.Fatalf("read a torn object of %d bytes", len(data))
		}
		if md5hex(string(data)) != obj.Info.ETag {
			t.Fatalf("data and description disagree")
		}
	}
	wg.Wait()
}

func testMultipart(t *testing.T, b objstore.Backend) {
	mustBucket(t, b, "b")
	meta := objstore.Metadata{ContentType: "application/x-test"}
	id, err := b.CreateUpload(ctx, "b", "big", meta)
	if err != nil {
		t.Fatal(err)
	}
	part1 := bytes.Repeat([]byte("1"), objstore.MinPartSize)
	part2 := []byte("tail")
	p1, err := b.UploadPart(ctx, "b", "big", id, 1, bytes.NewReader(part1), objstore.PutOptions{Seal: func(i *objstore.ObjectInfo) error {
		i.Checksums = map[string]string{"CRC32": "part1sum"}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.UploadPart(ctx, "b", "big", id, 2, strings.NewReader("to be replaced"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	p2, err := b.UploadPart(ctx, "b", "big", id, 2, bytes.NewReader(part2), objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.UploadPart(ctx, "b", "big", "00000000000000000000000000000000", 1, strings.NewReader("x"), objstore.PutOptions{}); !errors.Is(err, objstore.ErrNoSuchUpload) {
		t.Fatalf("UploadPart to an unknown upload: %v", err)
	}
	if _, err := b.UploadPart(ctx, "b", "other", id, 1, strings.NewReader("x"), objstore.PutOptions{}); !errors.Is(err, objstore.ErrNoSuchUpload) {
		t.Fatalf("UploadPart with another key: %v", err)
	}
	uploads, err := b.ListUploads(ctx, "b")
	if err != nil || len(uploads) != 1 || uploads[0].ID != id || uploads[0].Key != "big" {
		t.Fatalf("ListUploads = %+v, %v", uploads, err)
	}
	u, parts, err := b.ListParts(ctx, "b", "big", id)
	if err != nil || len(parts) != 2 || parts[1].ETag != md5hex("tail") || parts[1].Size != 4 || u.Metadata.ContentType != meta.ContentType {
		t.Fatalf("ListParts = %+v %+v, %v", u, parts, err)
	}
	if _, err := b.CompleteUpload(ctx, "b", "big", id, []objstore.CompletedPart{{Number: 2, ETag: p2.ETag}, {Number: 1, ETag: p1.ETag}}, objstore.PutOptions{}); !errors.Is(err, objstore.ErrInvalidPartList) {
		t.Fatalf("out-of-order parts: %v", err)
	}
	if _, err := b.CompleteUpload(ctx, "b", "big", id, []objstore.CompletedPart{{Number: 1, ETag: p2.ETag}, {Number: 2, ETag: p2.ETag}}, objstore.PutOptions{}); !errors.Is(err, objstore.ErrInvalidPart) {
		t.Fatalf("wrong ETag: %v", err)
	}
	if _, err := b.CompleteUpload(ctx, "b", "big", id, []objstore.CompletedPart{{Number: 1, ETag: p1.ETag}, {Number: 3, ETag: p2.ETag}}, objstore.PutOptions{}); !errors.Is(err, objstore.ErrInvalidPart) {
		t.Fatalf("missing part: %v", err)
	}
	info, err := b.CompleteUpload(ctx, "b", "big", id, []objstore.CompletedPart{{Number: 1, ETag: `"` + p1.ETag + `"`}, {Number: 2, ETag: p2.ETag}},
		objstore.PutOptions{Seal: func(i *objstore.ObjectInfo) error { i.WriteID = "mp"; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := md5.Sum(part1), md5.Sum(part2)
	want := md5.Sum(append(s1[:], s2[:]...))
	if info.ETag != hex.EncodeToString(want[:])+"-2" || info.Size != int64(len(part1)+len(part2)) || info.Parts != 2 ||
		!reflect.DeepEqual(info.PartSizes, []int64{int64(len(part1)), int64(len(part2))}) ||
		len(info.PartChecksums) != 2 || info.PartChecksums[0]["CRC32"] != "part1sum" || info.PartChecksums[1] != nil {
		t.Fatalf("completed %+v", info)
	}
	if got := get(t, b, "b", "big", &objstore.Range{Start: int64(len(part1)) - 1, End: int64(len(part1)) + 3}); got != "1tail" {
		t.Fatalf("across the part boundary: %q", got)
	}
	if head, err := b.HeadObject(ctx, "b", "big"); err != nil || head.Metadata.ContentType != meta.ContentType || head.WriteID != "mp" {
		t.Fatalf("HeadObject = %+v, %v", head, err)
	}
	if _, _, err := b.ListParts(ctx, "b", "big", id); !errors.Is(err, objstore.ErrNoSuchUpload) {
		t.Fatalf("upload survives completion: %v", err)
	}
	// Too small a non-last part, and abort.
	id2, err := b.CreateUpload(ctx, "b", "small", objstore.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	q1, _ := b.UploadPart(ctx, "b", "small", id2, 1, strings.NewReader("x"), objstore.PutOptions{})
	q2, _ := b.UploadPart(ctx, "b", "small", id2, 2, strings.NewReader("y"), objstore.PutOptions{})
	if _, err := b.CompleteUpload(ctx, "b", "small", id2, []objstore.CompletedPart{{Number: 1, ETag: q1.ETag}, {Number: 2, ETag: q2.ETag}}, objstore.PutOptions{}); !errors.Is(err, objstore.ErrEntityTooSmall) {
		t.Fatalf("small part: %v", err)
	}
	if err := b.AbortUpload(ctx, "b", "small", id2); err != nil {
		t.Fatal(err)
	}
	if err := b.AbortUpload(ctx, "b", "small", id2); !errors.Is(err, objstore.ErrNoSuchUpload) {
		t.Fatalf("second abort: %v", err)
	}
	if uploads, _ := b.ListUploads(ctx, "b"); len(uploads) != 0 {
		t.Fatalf("uploads left: %+v", uploads)
	}
}

func testConditionalWrites(t *testing.T, b objstore.Backend) {
	mustBucket(t, b, "b")
	create := objstore.PutOptions{IfNoneMatch: true}
	first, err := b.PutObject(ctx, "b", "k", strings.NewReader("first"), create)
	if err != nil {
		t.Fatalf("IfNoneMatch on a new key: %v", err)
	}
	if _, err := b.PutObject(ctx, "b", "k", strings.NewReader("second"), create); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("IfNoneMatch on an existing key: %v", err)
	}
	if _, err := b.PutObject(ctx, "b", "k", strings.NewReader("third"), objstore.PutOptions{IfMatch: md5hex("nope")}); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("IfMatch with another ETag: %v", err)
	}
	if got := get(t, b, "b", "k", nil); got != "first" {
		t.Fatalf("failed conditions changed the object to %q", got)
	}
	if _, err := b.PutObject(ctx, "b", "k", strings.NewReader("fourth"), objstore.PutOptions{IfMatch: `"` + first.ETag + `"`}); err != nil {
		t.Fatalf("IfMatch with the ETag: %v", err)
	}
	if _, err := b.PutObject(ctx, "b", "missing", strings.NewReader("x"), objstore.PutOptions{IfMatch: first.ETag}); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Fatalf("IfMatch on a missing key: %v", err)
	}
	// Racing creators: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.PutObject(ctx, "b", "race", strings.NewReader(fmt.Sprint(i)), create)
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, objstore.ErrPreconditionFailed) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d racing IfNoneMatch writes succeeded, want 1", wins)
	}
}

// testListMatchesModel lists random keys over a small alphabet (slashes,
// empty and dot segments, dashes sorting before "/") with every delimiter,
// prefix and page size, and compares the pages, joined, with a listing
// computed from the sorted keys.
func testListMatchesModel(t *testing.T, b objstore.Backend) {
	mustBucket(t, b, "b")
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ab/-."
	seen := map[string]bool{}
	var keys []string
	for len(keys) < 150 {
		n := 1 + rng.IntN(6)
		k := make([]byte, n)
		for i := range k {
			k[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if !seen[string(k)] {
			seen[string(k)] = true
			keys = append(keys, string(k))
		}
	}
	for _, k := range keys {
		put(t, b, "b", k, "")
	}
	sortStrings(keys)
	model := func(prefix, delim string) (objs, cps []string) {
		for _, k := range keys {
			if !strings.HasPrefix(k, prefix) {
				continue
			}
			if delim != "" {
				if i := strings.Index(k[len(prefix):], delim); i >= 0 {
					cp := k[:len(prefix)+i+len(delim)]
					if len(cps) == 0 || cps[len(cps)-1] != cp {
						cps = append(cps, cp)
					}
					continue
				}
			}
			objs = append(objs, k)
		}
		return objs, cps
	}
	for _, prefix := range []string{"", "a", "a/", "b/", "/", "a/b", ".", "-"} {
		for _, delim := range []string{"", "/", "-", "b/"} {
			for _, page := range []int{1, 3, 1000} {
				wantObjs, wantCPs := model(prefix, delim)
				var gotObjs, gotCPs []string
				after := ""
				for range 1000 {
					res, err := b.ListObjects(ctx, "b", objstore.ListOptions{Prefix: prefix, Delimiter: delim, After: after, MaxKeys: page})
					if err != nil {
						t.Fatal(err)
					}
					for _, o := range res.Objects {
						gotObjs = append(gotObjs, o.Key)
					}
					gotCPs = append(gotCPs, res.CommonPrefixes...)
					if !res.Truncated {
						break
					}
					after = res.Next
				}
				if strings.Join(gotObjs, "|") != strings.Join(wantObjs, "|") || strings.Join(gotCPs, "|") != strings.Join(wantCPs, "|") {
					t.Fatalf("prefix %q delimiter %q page %d:\nkeys     %q\nprefixes %q\nwant keys     %q\nwant prefixes %q",
						prefix, delim, page, gotObjs, gotCPs, wantObjs, wantCPs)
				}
			}
		}
	}
}
