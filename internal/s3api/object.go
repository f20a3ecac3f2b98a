package s3api

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/s3notify"
)

// maxUserMetadata is S3's limit on x-amz-meta-* (names and values, in bytes).
const maxUserMetadata = 2 << 10

// metadataFrom reads an object's metadata from a write's headers.
func metadataFrom(h http.Header) (objstore.Metadata, error) {
	m := objstore.Metadata{
		ContentType:        h.Get("Content-Type"),
		ContentEncoding:    h.Get("Content-Encoding"),
		ContentDisposition: h.Get("Content-Disposition"),
		ContentLanguage:    h.Get("Content-Language"),
		CacheControl:       h.Get("Cache-Control"),
		Expires:            h.Get("Expires"),
	}
	size := 0
	for name, values := range h {
		k, ok := strings.CutPrefix(strings.ToLower(name), "x-amz-meta-")
		if !ok || len(values) == 0 {
			continue
		}
		if m.User == nil {
			m.User = map[string]string{}
		}
		m.User[k] = strings.Join(values, ",")
		size += len(k) + len(m.User[k])
	}
	if size > maxUserMetadata {
		return m, errMetadataTooLarge
	}
	return m, nil
}

// setObjectHeaders describes an object in a GET or HEAD response.
func setObjectHeaders(h http.Header, info objstore.ObjectInfo) {
	h.Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	h.Set("ETag", `"`+info.ETag+`"`)
	h.Set("Accept-Ranges", "bytes")
	ct := info.Metadata.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	h.Set("Content-Type", ct)
	for name, v := range map[string]string{
		"Content-Encoding": info.Metadata.ContentEncoding, "Content-Disposition": info.Metadata.ContentDisposition,
		"Content-Language": info.Metadata.ContentLanguage, "Cache-Control": info.Metadata.CacheControl,
		"Expires": info.Metadata.Expires,
	} {
		if v != "" {
			h.Set(name, v)
		}
	}
	for k, v := range info.Metadata.User {
		h["X-Amz-Meta-"+k] = []string{v}
	}
}

// writeConditions reads a write's If-None-Match ("*" only, as on S3) and
// If-Match headers into opts.
func writeConditions(h http.Header, opts *objstore.PutOptions) error {
	if v := h.Get("If-None-Match"); v != "" {
		if strings.TrimSpace(v) != "*" {
			return errNotImplemented("If-None-Match on writes with a value other than *")
		}
		opts.IfNoneMatch = true
	}
	opts.IfMatch = h.Get("If-Match")
	return nil
}

func (s *Service) putObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	var cond objstore.PutOptions
	if err := writeConditions(r.Header, &cond); err != nil {
		return err
	}
	meta, err := metadataFrom(r.Header)
	if err != nil {
		return err
	}
	check, err := newBodyCheck(r)
	if err != nil {
		return err
	}
	in, err := s.begin(w, r, bucket, key, s3notify.ObjectCreatedPut)
	if err != nil {
		return err
	}
	info, err := s.cfg.Backend.PutObject(r.Context(), bucket, key, check.wrap(r.Body), objstore.PutOptions{Metadata: meta, Seal: seals(check.seal, in.Seal),
		IfNoneMatch: cond.IfNoneMatch, IfMatch: cond.IfMatch})
	s.settle(r, in, info, err)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", `"`+info.ETag+`"`)
	setChecksumHeaders(w.Header(), info.Checksums)
	w.WriteHeader(http.StatusOK)
	return nil
}

// parseRange reads a Range header ("bytes=a-b", "bytes=a-", "bytes=-n").
// Anything else, including several ranges, means the whole object, as on S3.
func parseRange(v string) *objstore.Range {
	spec, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return nil
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return nil
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return nil
		}
		return &objstore.Range{Start: -n}
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return nil
	}
	end := int64(1<<63 - 1)
	if b != "" {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
			return nil
		}
	}
	return &objstore.Range{Start: start, End: end}
}

// etagMatches reports whether an If-Match style list names etag.
func etagMatches(list, etag string) bool {
	for _, v := range strings.Split(list, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == "*" || strings.Trim(v, `"`) == etag {
			return true
		}
	}
	return false
}

// checkPreconditions evaluates If-Match, If-Unmodified-Since, If-None-Match
// and If-Modified-Since (each name after prefix) in RFC 7232's order. A
// failed If-None-Match or If-Modified-Since is NotModified on reads, and
// PreconditionFailed on copies (prefix "X-Amz-Copy-Source-").
func checkPreconditions(h http.Header, prefix string, info objstore.ObjectInfo) error {
	lm := info.LastModified.Truncate(time.Second)
	notModified := errNotModified
	if prefix != "" {
		notModified = errPreconditionFailed
	}
	if v := h.Get(prefix + "If-Match"); v != "" {
		if !etagMatches(v, info.ETag) {
			return errPreconditionFailed
		}
	} else if v := h.Get(prefix + "If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && lm.After(t) {
			return errPreconditionFailed
		}
	}
	if v := h.Get(prefix + "If-None-Match"); v != "" {
		if etagMatches(v, info.ETag) {
			return notModified
		}
	} else if v := h.Get(prefix + "If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !lm.After(t) {
			return notModified
		}
	}
	return nil
}

// responseOverrides are GetObject's query parameters that replace a header.
var responseOverrides = map[string]string{
	"response-content-type": "Content-Type", "response-content-language": "Content-Language",
	"response-expires": "Expires", "response-cache-control": "Cache-Control",
	"response-content-disposition": "Content-Disposition", "response-content-encoding": "Content-Encoding",
}

// partRange is the byte range of part n of an object (a single-part object
// has one part, itself).
func partRange(info objstore.ObjectInfo, n int) (*objstore.Range, error) {
	sizes := info.PartSizes
	if len(sizes) == 0 {
		sizes = []int64{info.Size}
	}
	if n < 1 || n > len(sizes) {
		return nil, errInvalidPartNumber
	}
	var start int64
	for _, sz := range sizes[:n-1] {
		start += sz
	}
	return &objstore.Range{Start: start, End: start + sizes[n-1] - 1}, nil
}

// openPart opens part n of an object, making sure the part boundaries and
// the bytes come from the same version.
func (s *Service) openPart(r *http.Request, bucket, key string, n int) (*objstore.Object, error) {
	for range 5 {
		info, err := s.cfg.Backend.HeadObject(r.Context(), bucket, key)
		if err != nil {
			return nil, err
		}
		rng, err := partRange(info, n)
		if err != nil {
			return nil, err
		}
		if rng.Length() == 0 {
			return nil, errInvalidPartNumber
		}
		obj, err := s.cfg.Backend.GetObject(r.Context(), bucket, key, rng)
		if err != nil {
			return nil, err
		}
		if obj.Info.ETag == info.ETag && obj.Info.LastModified.Equal(info.LastModified) {
			return obj, nil
		}
		obj.Body.Close() // replaced in between: look again
	}
	return nil, errInternal
}

func (s *Service) getObject(w http.ResponseWriter, r *http.Request, bucket, key string, q url.Values) error {
	var rng *objstore.Range
	if r.Method == http.MethodGet {
		rng = parseRange(r.Header.Get("Range"))
	}
	var obj *objstore.Object
	var err error
	if q.Has("partNumber") {
		if r.Header.Get("Range") != "" {
			return errInvalidRequest("Cannot specify both Range header and partNumber query parameter")
		}
		n, perr := partNumber(q)
		if perr != nil {
			return perr
		}
		obj, err = s.openPart(r, bucket, key, n)
		if err == nil {
			rng = &obj.Range
		}
	} else {
		obj, err = s.cfg.Backend.GetObject(r.Context(), bucket, key, rng)
	}
	if errors.Is(err, objstore.ErrInvalidRange) {
		if info, herr := s.cfg.Backend.HeadObject(r.Context(), bucket, key); herr == nil {
			if perr := checkPreconditions(r.Header, "", info); perr != nil {
				return perr
			}
			w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
		}
		return err
	}
	if err != nil {
		return err
	}
	defer obj.Body.Close()
	h := w.Header()
	setObjectHeaders(h, obj.Info)
	if err := checkPreconditions(r.Header, "", obj.Info); err != nil {
		if err == errNotModified {
			for _, k := range []string{"Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Accept-Ranges"} {
				h.Del(k)
			}
		}
		return err
	}
	for param, header := range responseOverrides {
		if v := q.Get(param); v != "" {
			h.Set(header, v)
		}
	}
	status := http.StatusOK
	if rng != nil {
		status = http.StatusPartialContent
		h.Set("Content-Range", "bytes "+strconv.FormatInt(obj.Range.Start, 10)+"-"+strconv.FormatInt(obj.Range.End, 10)+"/"+strconv.FormatInt(obj.Info.Size, 10))
	}
	if strings.EqualFold(r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
		switch n, _ := strconv.Atoi(q.Get("partNumber")); {
		case n > 0 && n <= len(obj.Info.PartChecksums):
			setChecksumHeaders(h, obj.Info.PartChecksums[n-1]) // that part's bytes
		case n == 1 && obj.Info.Parts == 0 || !q.Has("partNumber") && r.Header.Get("Range") == "":
			setChecksumHeaders(h, obj.Info.Checksums)
		}
	}
	if obj.Info.Parts > 0 && q.Has("partNumber") {
		h.Set("X-Amz-Mp-Parts-Count", strconv.Itoa(obj.Info.Parts))
	}
	h.Set("Content-Length", strconv.FormatInt(obj.Range.Length(), 10))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return nil
	}
	// Once the status is sent an error can only cut the body short, which the
	// client detects by its Content-Length.
	_, _ = io.Copy(w, obj.Body)
	return nil
}

func (s *Service) deleteObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	in, err := s.begin(w, r, bucket, key, s3notify.ObjectRemovedDelete)
	if err != nil {
		return err
	}
	err = s.cfg.Backend.DeleteObject(r.Context(), bucket, key)
	s.settle(r, in, objstore.ObjectInfo{}, err)
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// copySource opens the object X-Amz-Copy-Source names ("bucket/key" or
// "/bucket/key", URL-encoded), checking the copy preconditions.
func (s *Service) copySource(r *http.Request, rng *objstore.Range) (srcBucket, srcKey string, obj *objstore.Object, err error) {
	src := r.Header.Get("X-Amz-Copy-Source")
	if path, query, ok := strings.Cut(src, "?"); ok {
		src = path
		if v, _ := url.ParseQuery(query); v.Get("versionId") != "" && v.Get("versionId") != "null" {
			return "", "", nil, errNotImplemented("object versions (versionId in x-amz-copy-source)")
		}
	}
	src, perr := url.PathUnescape(src)
	if perr != nil {
		return "", "", nil, errInvalidArgument("Invalid copy source encoding")
	}
	srcBucket, srcKey, ok := strings.Cut(strings.TrimPrefix(src, "/"), "/")
	if !ok || srcBucket == "" || srcKey == "" {
		return "", "", nil, errInvalidArgument("Invalid copy source object key")
	}
	obj, err = s.cfg.Backend.GetObject(r.Context(), srcBucket, srcKey, rng)
	if err != nil {
		return "", "", nil, err
	}
	if err := checkPreconditions(r.Header, "X-Amz-Copy-Source-", obj.Info); err != nil {
		obj.Body.Close()
		return "", "", nil, err
	}
	return srcBucket, srcKey, obj, nil
}

func (s *Service) copyObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	directive := strings.ToUpper(r.Header.Get("X-Amz-Metadata-Directive"))
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return errInvalidArgument("Unknown metadata directive.")
	}
	srcBucket, srcKey, src, err := s.copySource(r, nil)
	if err != nil {
		return err
	}
	defer src.Body.Close()
	if srcBucket == bucket && srcKey == key && directive != "REPLACE" {
		return errInvalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	meta := src.Info.Metadata
	if directive == "REPLACE" {
		if meta, err = metadataFrom(r.Header); err != nil {
			return err
		}
	}
	in, err := s.begin(w, r, bucket, key, s3notify.ObjectCreatedCopy)
	if err != nil {
		return err
	}
	info, err := s.cfg.Backend.PutObject(r.Context(), bucket, key, src.Body, objstore.PutOptions{Metadata: meta,
		Seal: seals(func(info *objstore.ObjectInfo) error {
			info.Checksums = src.Info.Checksums // the same bytes
			return nil
		}, in.Seal)})
	s.settle(r, in, info, err)
	if err != nil {
		return err
	}
	writeXML(w, copyObjectResult{NS: xmlNS, LastModified: isoTime(info.LastModified), ETag: `"` + info.ETag + `"`, checksumsXML: checksumsOf(info.Checksums)})
	return nil
}
