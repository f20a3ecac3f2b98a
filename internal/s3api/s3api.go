// Package s3api is the S3 API on aloft's AWS endpoint: the REST/XML
// operations on buckets, objects and multipart uploads, over an
// objstore.Backend. awsapi.Router authenticates requests (SigV4 header,
// presigned and aws-chunked forms) and hands those signed for "s3" to a
// Service; the Service renders every error, the router's included, in S3's
// XML shape from one catalogue (errors.go).
package s3api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/s3notify"
)

// Config configures a Service.
type Config struct {
	// Backend stores the buckets. Required.
	Backend objstore.Backend
	// Region is reported as every bucket's region; "" means us-east-1.
	Region string
	// Notifier, when set, hears of every write and delete around its commit
	// and sends the bucket notifications due; nil sends none.
	Notifier *s3notify.Notifier
	// Notifications, when set, keeps the buckets' notification
	// configurations for Put/GetBucketNotificationConfiguration; nil answers
	// them NotImplemented.
	Notifications NotificationConfigs
	// ErrorLog receives failures that cannot reach the client (a
	// notification that could not be sent after the write committed); nil
	// discards them.
	ErrorLog *log.Logger
	// VirtualHostDomains are the host names under which a bucket is addressed
	// virtual-hosted style (bucket.DOMAIN). Hosts of the form BUCKET.s3.… and
	// BUCKET.s3-… are always recognised. nil means {"localhost"}.
	VirtualHostDomains []string
}

// Service serves the S3 API. It implements awsapi.Service and is safe for
// concurrent use; it holds no state beyond its Config.
type Service struct {
	cfg Config
}

var _ awsapi.Service = (*Service)(nil)

// New returns a Service over cfg.Backend.
func New(cfg Config) (*Service, error) {
	if cfg.Backend == nil {
		return nil, errors.New("s3api: Config.Backend is required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.VirtualHostDomains == nil {
		cfg.VirtualHostDomains = []string{"localhost"}
	}
	return &Service{cfg: cfg}, nil
}

// xmlNS is S3's XML namespace.
const xmlNS = "http://s3.amazonaws.com/doc/2006-03-01/"

// apiVersionPath matches the first path segment of the date-versioned REST
// APIs (Lambda's /2015-03-31/…), which are not buckets.
var apiVersionPath = regexp.MustCompile(`^/\d{4}-\d{2}-\d{2}(/|$)`)

// Match reports whether an unsigned request is S3's, so that its
// authentication error comes back as S3 XML: a virtual-hosted bucket, a GET of
// "/", or a path whose first segment could be a bucket. POSTs are S3's only
// with S3's own subresources (?delete, ?uploads, ?uploadId), and requests of
// the JSON protocols (X-Amz-Target) never are, so the Query and JSON APIs
// sharing the endpoint (SQS, SNS) keep their own error shapes. List it after
// services with more specific matches all the same.
func (s *Service) Match(r *http.Request) bool {
	if r.Header.Get("X-Amz-Target") != "" {
		return false
	}
	if r.Method == http.MethodPost {
		q := r.URL.Query()
		if !q.Has("delete") && !q.Has("uploads") && !q.Has("uploadId") {
			return false
		}
	}
	if bucket, _ := s.address(r); bucket != "" {
		return !apiVersionPath.MatchString(r.URL.Path)
	}
	return r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead)
}

// address splits a request into bucket and key, virtual-hosted style when the
// host names a bucket, path style otherwise.
func (s *Service) address(r *http.Request) (bucket, key string) {
	if b := s.hostBucket(r.Host); b != "" {
		return b, strings.TrimPrefix(r.URL.Path, "/")
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

func (s *Service) hostBucket(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if net.ParseIP(strings.Trim(host, "[]")) != nil {
		return ""
	}
	for _, d := range s.cfg.VirtualHostDomains {
		if b, ok := strings.CutSuffix(host, "."+d); ok {
			return b
		}
	}
	for _, marker := range []string{".s3.", ".s3-"} {
		if i := strings.Index(host, marker); i > 0 {
			return host[:i]
		}
	}
	return ""
}

// WriteError implements awsapi.Service: S3's XML error document (no body for
// HEAD), with the router's codes mapped to S3's.
func (s *Service) WriteError(w http.ResponseWriter, r *http.Request, e *awsapi.Error) {
	if r.Method == http.MethodOptions && e.Code == awsapi.CodeMissingAuthenticationToken {
		// A CORS preflight: aloft applies no bucket CORS configuration yet.
		s.writeError(w, r, errCORSNotEnabled)
		return
	}
	s.writeError(w, r, e)
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toS3(err)
	msg := e.Message
	if e == errInternal {
		msg = fmt.Sprintf("%s (%v)", errInternal.Message, err)
	}
	id := requestID(w)
	if e.Status == http.StatusNotModified {
		w.WriteHeader(e.Status)
		return
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	bucket, key := s.address(r)
	body := errorBody{Code: e.Code, Message: msg, Resource: r.URL.Path, RequestID: id, HostID: id}
	switch e.Code {
	case "NoSuchBucket", "BucketNotEmpty", "BucketAlreadyOwnedByYou", "InvalidBucketName":
		body.BucketName = bucket
	case "NoSuchKey":
		body.Key = key
	}
	writeXMLStatus(w, e.Status, body)
}

// requestID gives the response S3's request ID headers, once.
func requestID(w http.ResponseWriter) string {
	if id := w.Header().Get("X-Amz-Request-Id"); id != "" {
		return id
	}
	b := make([]byte, 8)
	rand.Read(b)
	id := strings.ToUpper(hex.EncodeToString(b))
	w.Header().Set("X-Amz-Request-Id", id)
	w.Header().Set("X-Amz-Id-2", id)
	return id
}

func writeXML(w http.ResponseWriter, v any) { writeXMLStatus(w, http.StatusOK, v) }

func writeXMLStatus(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte("<Error><Code>InternalError</Code></Error>")
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(b)
}

// unsupportedSubresources are query parameters naming S3 features aloft does
// not implement; a request carrying one answers NotImplemented naming it.
var unsupportedSubresources = []string{
	"accelerate", "acl", "analytics", "attributes", "cors", "encryption", "intelligent-tiering",
	"inventory", "legal-hold", "lifecycle", "logging", "metadataTable", "metrics", "notification",
	"object-lock", "ownershipControls", "policy", "policyStatus", "publicAccessBlock", "replication",
	"requestPayment", "restore", "retention", "select", "session", "tagging", "torrent", "versioning",
	"versions", "website", "renameObject",
}

// unsupportedHeaders imply features aloft does not implement.
var unsupportedHeaders = []string{
	"X-Amz-Server-Side-Encryption-Customer-Algorithm", "X-Amz-Copy-Source-Server-Side-Encryption-Customer-Algorithm",
	"X-Amz-Object-Lock-Mode", "X-Amz-Object-Lock-Legal-Hold", "X-Amz-Website-Redirect-Location",
	"X-Amz-Write-Offset-Bytes",
}

// ServeHTTP implements awsapi.Service: it dispatches an authenticated request
// to its operation.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID(w)
	bucket, key := s.address(r)
	q := r.URL.Query()
	if done, err := s.readConfiguration(w, r, bucket, key, q); done {
		if err != nil {
			s.writeError(w, r, err)
		}
		return
	}
	if q.Has("notification") && key == "" && bucket != "" && s.cfg.Notifications != nil {
		if err := s.bucketNotification(w, r, bucket); err != nil {
			s.writeError(w, r, err)
		}
		return
	}
	for _, sub := range unsupportedSubresources {
		if q.Has(sub) {
			s.writeError(w, r, errNotImplemented(fmt.Sprintf("the %q subresource (%s ?%s)", sub, r.Method, sub)))
			return
		}
	}
	for _, h := range unsupportedHeaders {
		if r.Header.Get(h) != "" {
			s.writeError(w, r, errNotImplemented("the "+h+" header"))
			return
		}
	}
	if v := q.Get("versionId"); v != "" && v != "null" {
		s.writeError(w, r, errNotImplemented("object versions (versionId)"))
		return
	}
	var err error
	switch {
	case bucket == "":
		if r.Method != http.MethodGet {
			err = errMethodNotAllowed
			break
		}
		err = s.listBuckets(w, r)
	case !ValidBucketName(bucket) && !(r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodDelete):
		err = errInvalidBucketName
	case key == "":
		err = s.bucketOp(w, r, bucket, q)
	default:
		err = s.objectOp(w, r, bucket, key, q)
	}
	if err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Service) bucketOp(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) error {
	switch r.Method {
	case http.MethodPut:
		return s.createBucket(w, r, bucket)
	case http.MethodDelete:
		return s.deleteBucket(w, r, bucket)
	case http.MethodHead:
		return s.headBucket(w, r, bucket)
	case http.MethodGet:
		switch {
		case q.Has("location"):
			return s.getBucketLocation(w, r, bucket)
		case q.Has("uploads"):
			return s.listUploads(w, r, bucket, q)
		case q.Get("list-type") == "2":
			return s.listObjectsV2(w, r, bucket, q)
		default:
			return s.listObjectsV1(w, r, bucket, q)
		}
	case http.MethodPost:
		if q.Has("delete") {
			return s.deleteObjects(w, r, bucket)
		}
		return errNotImplemented("POST on a bucket without ?delete (browser-based uploads)")
	}
	return errMethodNotAllowed
}

func (s *Service) objectOp(w http.ResponseWriter, r *http.Request, bucket, key string, q url.Values) error {
	switch r.Method {
	case http.MethodPut:
		switch {
		case q.Has("uploadId") && r.Header.Get("X-Amz-Copy-Source") != "":
			return s.uploadPartCopy(w, r, bucket, key, q)
		case q.Has("uploadId"):
			return s.uploadPart(w, r, bucket, key, q)
		case r.Header.Get("X-Amz-Copy-Source") != "":
			return s.copyObject(w, r, bucket, key)
		default:
			return s.putObject(w, r, bucket, key)
		}
	case http.MethodGet, http.MethodHead:
		if q.Has("uploadId") && r.Method == http.MethodGet {
			return s.listParts(w, r, bucket, key, q)
		}
		return s.getObject(w, r, bucket, key, q)
	case http.MethodDelete:
		if q.Has("uploadId") {
			return s.abortUpload(w, r, bucket, key, q)
		}
		return s.deleteObject(w, r, bucket, key)
	case http.MethodPost:
		switch {
		case q.Has("uploads"):
			return s.createUpload(w, r, bucket, key)
		case q.Has("uploadId"):
			return s.completeUpload(w, r, bucket, key, q)
		}
		return errNotImplemented("this POST on an object")
	}
	return errMethodNotAllowed
}

var bucketNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ValidBucketName applies S3's general-purpose bucket naming rules.
func ValidBucketName(name string) bool {
	return bucketNameRE.MatchString(name) && !strings.Contains(name, "..") &&
		net.ParseIP(name) == nil && !strings.HasPrefix(name, "xn--") && !strings.HasSuffix(name, "-s3alias")
}
