package s3api_test

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestListingWithSDK(t *testing.T) {
	e := newEndpoint(t, false)
	e.mustBucket(t, "bkt")
	keys := []string{"a b", "a/1", "a/2", "a/x/3", "b", "c/4", "c/5", "é"}
	for _, k := range keys {
		e.put(t, "bkt", k, k)
	}
	names := func(objs []types.Object) []string {
		var out []string
		for _, o := range objs {
			out = append(out, *o.Key)
		}
		return out
	}
	prefixes := func(cps []types.CommonPrefix) []string {
		var out []string
		for _, p := range cps {
			out = append(out, *p.Prefix)
		}
		return out
	}

	// V2 pages through everything two at a time.
	var all []string
	p := s3.NewListObjectsV2Paginator(e.client, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if *page.KeyCount != int32(len(page.Contents)) {
			t.Errorf("KeyCount %d for %d keys", *page.KeyCount, len(page.Contents))
		}
		all = append(all, names(page.Contents)...)
		pages++
	}
	if !reflect.DeepEqual(all, keys) || pages != 4 {
		t.Fatalf("paged listing %q in %d pages, want %q in 4", all, pages, keys)
	}

	v2, err := e.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(v2.Contents), []string{"a b", "b", "é"}; !reflect.DeepEqual(got, want) {
		t.Errorf("delimited keys %q, want %q", got, want)
	}
	if got, want := prefixes(v2.CommonPrefixes), []string{"a/", "c/"}; !reflect.DeepEqual(got, want) {
		t.Errorf("common prefixes %q, want %q", got, want)
	}
	v2, err = e.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Prefix: aws.String("a/"), Delimiter: aws.String("/"), StartAfter: aws.String("a/1")})
	if err != nil {
		t.Fatal(err)
	}
	if got := append(names(v2.Contents), prefixes(v2.CommonPrefixes)...); !reflect.DeepEqual(got, []string{"a/2", "a/x/"}) {
		t.Errorf("prefix+delimiter+start-after: %q", got)
	}
	v2, err = e.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), EncodingType: types.EncodingTypeUrl, Prefix: aws.String("a")})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(v2.Contents); len(got) == 0 || got[0] != "a+b" {
		t.Errorf("url-encoded keys %q, want a+b first", got)
	}

	// V1 with markers.
	v1, err := e.client.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("bkt"), Marker: aws.String("a/x/3"), MaxKeys: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(v1.Contents); !reflect.DeepEqual(got, []string{"b", "c/4"}) || !*v1.IsTruncated || *v1.NextMarker != "c/4" {
		t.Errorf("ListObjects after a marker: %q truncated=%v next=%v", got, *v1.IsTruncated, aws.ToString(v1.NextMarker))
	}
	if v1.Contents[0].Owner == nil || v1.Contents[0].Size == nil || *v1.Contents[0].Size != 1 {
		t.Errorf("ListObjects entry %+v", v1.Contents[0])
	}
	empty, err := e.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(0)})
	if err != nil || len(empty.Contents) != 0 || *empty.IsTruncated {
		t.Errorf("max-keys 0: %+v, %v", empty, err)
	}
}
