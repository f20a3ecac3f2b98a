package s3api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/s3notify"
)

// ownerOf is the canonical owner of everything a key pair creates.
func ownerOf(r *http.Request) owner {
	sum := sha256.Sum256([]byte(awsapi.AccessKeyFrom(r.Context())))
	return owner{ID: hex.EncodeToString(sum[:]), DisplayName: "aloft"}
}

// maxXMLBody bounds the XML documents clients send (DeleteObjects allows
// 1000 keys of 1 KiB each).
const maxXMLBody = 2 << 20

func readXML(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxXMLBody+1))
	if err != nil {
		return err
	}
	if len(b) > maxXMLBody {
		return errInvalidRequest("the XML document is larger than 2 MiB")
	}
	if err := xml.Unmarshal(b, v); err != nil {
		return errMalformedXML
	}
	return nil
}

func (s *Service) createBucket(w http.ResponseWriter, r *http.Request, bucket string) error {
	// The body, if any, is a CreateBucketConfiguration naming a location;
	// every bucket lives in aloft's one region.
	if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, maxXMLBody)); err != nil {
		return err
	}
	if err := s.cfg.Backend.CreateBucket(r.Context(), bucket); err != nil {
		return err
	}
	w.Header().Set("Location", "/"+bucket)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) deleteBucket(w http.ResponseWriter, r *http.Request, bucket string) error {
	if err := s.cfg.Backend.DeleteBucket(r.Context(), bucket); err != nil {
		return err
	}
	// A bucket's configuration goes with it, as on S3: a new bucket of the
	// same name starts without notifications.
	if s.cfg.Notifications != nil {
		if err := s.cfg.Notifications.SetBucketNotifications(r.Context(), bucket, nil); err != nil {
			return fmt.Errorf("s3: delete bucket %s: notifications: %w", bucket, err)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) headBucket(w http.ResponseWriter, r *http.Request, bucket string) error {
	if _, err := s.cfg.Backend.HeadBucket(r.Context(), bucket); err != nil {
		return err
	}
	w.Header().Set("X-Amz-Bucket-Region", s.cfg.Region)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) getBucketLocation(w http.ResponseWriter, r *http.Request, bucket string) error {
	if _, err := s.cfg.Backend.HeadBucket(r.Context(), bucket); err != nil {
		return err
	}
	loc := s.cfg.Region
	if loc == "us-east-1" {
		loc = "" // S3's answer for us-east-1
	}
	writeXML(w, locationConstraint{NS: xmlNS, Value: loc})
	return nil
}

func (s *Service) listBuckets(w http.ResponseWriter, r *http.Request) error {
	list, err := s.cfg.Backend.ListBuckets(r.Context())
	if err != nil {
		return err
	}
	res := listAllMyBucketsResult{NS: xmlNS, Owner: ownerOf(r), Buckets: []bucketXML{}}
	for _, b := range list {
		res.Buckets = append(res.Buckets, bucketXML{Name: b.Name, CreationDate: isoTime(b.Created), BucketRegion: s.cfg.Region})
	}
	writeXML(w, res)
	return nil
}

// listing is what the two ListObjects versions share.
type listing struct {
	prefix, delimiter, encoding string
	maxKeys                     int
}

func parseListing(q url.Values) (listing, error) {
	l := listing{prefix: q.Get("prefix"), delimiter: q.Get("delimiter"), encoding: q.Get("encoding-type"), maxKeys: 1000}
	if l.encoding != "" && l.encoding != "url" {
		return l, errInvalidArgument("Invalid Encoding Method specified in Request")
	}
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return l, errInvalidArgument("Provided max-keys not an integer or within integer range")
		}
		l.maxKeys = min(n, 1000)
	}
	return l, nil
}

func (l listing) enc(s string) string {
	if l.encoding != "url" {
		return s
	}
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

func (s *Service) list(r *http.Request, bucket string, l listing, after string, fetchOwner bool) (listBucketResult, string, error) {
	res := listBucketResult{NS: xmlNS, Name: bucket, Prefix: l.enc(l.prefix), MaxKeys: l.maxKeys,
		Delimiter: l.enc(l.delimiter), EncodingType: l.encoding}
	if l.maxKeys == 0 {
		_, err := s.cfg.Backend.HeadBucket(r.Context(), bucket)
		return res, "", err
	}
	page, err := s.cfg.Backend.ListObjects(r.Context(), bucket, objstore.ListOptions{
		Prefix: l.prefix, Delimiter: l.delimiter, After: after, MaxKeys: l.maxKeys,
	})
	if err != nil {
		return res, "", err
	}
	var o *owner
	if fetchOwner {
		ow := ownerOf(r)
		o = &ow
	}
	for _, obj := range page.Objects {
		res.Contents = append(res.Contents, objectXML{Key: l.enc(obj.Key), LastModified: isoTime(obj.LastModified),
			ETag: `"` + obj.ETag + `"`, Size: obj.Size, StorageClass: "STANDARD", Owner: o})
	}
	for _, p := range page.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, prefixXML{Prefix: l.enc(p)})
	}
	res.IsTruncated = page.Truncated
	return res, page.Next, nil
}

func (s *Service) listObjectsV1(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) error {
	l, err := parseListing(q)
	if err != nil {
		return err
	}
	marker := q.Get("marker")
	res, next, err := s.list(r, bucket, l, marker, true)
	if err != nil {
		return err
	}
	m := l.enc(marker)
	res.Marker = &m
	if res.IsTruncated {
		res.NextMarker = l.enc(next)
	}
	writeXML(w, res)
	return nil
}

func (s *Service) listObjectsV2(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) error {
	l, err := parseListing(q)
	if err != nil {
		return err
	}
	after := q.Get("start-after")
	token := q.Get("continuation-token")
	if q.Has("continuation-token") {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(b) == 0 {
			return errInvalidArgument("The continuation token provided is incorrect")
		}
		after = string(b)
	}
	res, next, err := s.list(r, bucket, l, after, q.Get("fetch-owner") == "true")
	if err != nil {
		return err
	}
	res.StartAfter = l.enc(q.Get("start-after"))
	res.ContinuationToken = token
	count := len(res.Contents) + len(res.CommonPrefixes)
	res.KeyCount = &count
	if res.IsTruncated {
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	writeXML(w, res)
	return nil
}

func (s *Service) listUploads(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) error {
	uploads, err := s.cfg.Backend.ListUploads(r.Context(), bucket)
	if err != nil {
		return err
	}
	maxUploads := 1000
	if v := q.Get("max-uploads"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("max-uploads must be a non-negative integer")
		}
		maxUploads = min(n, 1000)
	}
	prefix, keyMarker, idMarker := q.Get("prefix"), q.Get("key-marker"), q.Get("upload-id-marker")
	res := listMultipartUploadsResult{NS: xmlNS, Bucket: bucket, KeyMarker: keyMarker, UploadIDMarker: idMarker, Prefix: prefix, MaxUploads: maxUploads}
	o := ownerOf(r)
	pastMarker := keyMarker == ""
	for _, u := range uploads {
		if !strings.HasPrefix(u.Key, prefix) {
			continue
		}
		if !pastMarker {
			if u.Key < keyMarker || (u.Key == keyMarker && (idMarker == "" || u.ID != idMarker)) {
				continue
			}
			pastMarker = true
			if u.Key == keyMarker {
				continue // the marker itself
			}
		}
		if len(res.Uploads) == maxUploads {
			res.IsTruncated = true
			last := res.Uploads[len(res.Uploads)-1]
			res.NextKeyMarker, res.NextUploadIDMarker = last.Key, last.UploadID
			break
		}
		res.Uploads = append(res.Uploads, uploadXML{Key: u.Key, UploadID: u.ID, Initiator: o, Owner: o,
			StorageClass: "STANDARD", Initiated: isoTime(u.Initiated)})
	}
	writeXML(w, res)
	return nil
}

func (s *Service) deleteObjects(w http.ResponseWriter, r *http.Request, bucket string) error {
	var req deleteRequest
	if err := readXML(r, &req); err != nil {
		return err
	}
	if len(req.Objects) > 1000 {
		return errMalformedXML
	}
	if _, err := s.cfg.Backend.HeadBucket(r.Context(), bucket); err != nil {
		return err
	}
	res := deleteResult{NS: xmlNS}
	for _, o := range req.Objects {
		var err error
		if o.VersionID != "" && o.VersionID != "null" {
			err = errNotImplemented("object versions (VersionId)")
		} else {
			err = s.deleteOne(w, r, bucket, o.Key)
		}
		if err != nil {
			e := toS3(err)
			res.Errors = append(res.Errors, deleteErrorXML{Key: o.Key, Code: e.Code, Message: e.Message})
			continue
		}
		if !req.Quiet {
			res.Deleted = append(res.Deleted, deletedXML{Key: o.Key})
		}
	}
	writeXML(w, res)
	return nil
}

// deleteOne deletes a key of DeleteObjects, with its notification.
func (s *Service) deleteOne(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	in, err := s.begin(w, r, bucket, key, s3notify.ObjectRemovedDelete)
	if err != nil {
		return err
	}
	err = s.cfg.Backend.DeleteObject(r.Context(), bucket, key)
	s.settle(r, in, objstore.ObjectInfo{}, err)
	return err
}
