package s3api_test

import (
	"net/http"
	"testing"

	"github.com/aloft-dev/aloft/internal/objstore/fs"
	"github.com/aloft-dev/aloft/internal/s3api"
)

func TestMatchUnsignedRequests(t *testing.T) {
	backend, err := fs.New(fs.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := s3api.New(s3api.Config{Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, url string
		header      map[string]string
		want        bool
	}{
		{"GET", "http://127.0.0.1/", nil, true},
		{"GET", "http://127.0.0.1/photos/cat.jpg", nil, true},
		{"PUT", "http://127.0.0.1/photos/cat.jpg", nil, true},
		{"OPTIONS", "http://127.0.0.1/photos/cat.jpg", nil, true},
		{"POST", "http://127.0.0.1/photos?delete", nil, true},
		{"POST", "http://127.0.0.1/photos/big?uploads", nil, true},
		{"GET", "http://photos.localhost/cat.jpg", nil, true},
		{"POST", "http://127.0.0.1/2015-03-31/functions/F/invocations", nil, false},
		{"GET", "http://127.0.0.1/2015-03-31/functions/", nil, false},
		{"POST", "http://127.0.0.1/", nil, false},                      // SQS/SNS Query protocol
		{"POST", "http://127.0.0.1/000000000000/my-queue", nil, false}, // an SQS queue URL
		{"POST", "http://127.0.0.1/", map[string]string{"X-Amz-Target": "AmazonSQS.SendMessage"}, false},
	} {
		r, _ := http.NewRequest(tc.method, tc.url, nil)
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		if got := svc.Match(r); got != tc.want {
			t.Errorf("Match(%s %s) = %v, want %v", tc.method, tc.url, got, tc.want)
		}
	}
}
