package s3api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/s3notify"
)

func (s *Service) createUpload(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	meta, err := metadataFrom(r.Header)
	if err != nil {
		return err
	}
	id, err := s.cfg.Backend.CreateUpload(r.Context(), bucket, key, meta)
	if err != nil {
		return err
	}
	if alg := r.Header.Get("X-Amz-Checksum-Algorithm"); alg != "" {
		w.Header().Set("X-Amz-Checksum-Algorithm", alg)
	}
	writeXML(w, initiateMultipartUploadResult{NS: xmlNS, Bucket: bucket, Key: key, UploadID: id})
	return nil
}

func partNumber(q url.Values) (int, error) {
	n, err := strconv.Atoi(q.Get("partNumber"))
	if err != nil || n < 1 || n > 10000 {
		return 0, errInvalidArgument("Part number must be an integer between 1 and 10000, inclusive")
	}
	return n, nil
}

func (s *Service) uploadPart(w http.ResponseWriter, r *http.Request, bucket, key string, q url.Values) error {
	n, err := partNumber(q)
	if err != nil {
		return err
	}
	check, err := newBodyCheck(r)
	if err != nil {
		return err
	}
	part, err := s.cfg.Backend.UploadPart(r.Context(), bucket, key, q.Get("uploadId"), n, check.wrap(r.Body), objstore.PutOptions{Seal: check.seal})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", `"`+part.ETag+`"`)
	setChecksumHeaders(w.Header(), part.Checksums)
	w.Header().Del("X-Amz-Checksum-Type")
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) uploadPartCopy(w http.ResponseWriter, r *http.Request, bucket, key string, q url.Values) error {
	n, err := partNumber(q)
	if err != nil {
		return err
	}
	var rng *objstore.Range
	if v := r.Header.Get("X-Amz-Copy-Source-Range"); v != "" {
		if rng = parseRange(v); rng == nil || rng.Start < 0 || rng.End == 1<<63-1 {
			return errInvalidArgument("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
		}
	}
	_, _, src, err := s.copySource(r, rng)
	if err != nil {
		return err
	}
	defer src.Body.Close()
	if rng != nil && src.Range.End != rng.End {
		return errInvalidArgument("Range specified is not valid for source object of size: " + strconv.FormatInt(src.Info.Size, 10))
	}
	part, err := s.cfg.Backend.UploadPart(r.Context(), bucket, key, q.Get("uploadId"), n, src.Body, objstore.PutOptions{})
	if err != nil {
		return err
	}
	writeXML(w, copyPartResult{NS: xmlNS, LastModified: isoTime(part.LastModified), ETag: `"` + part.ETag + `"`})
	return nil
}

func (s *Service) completeUpload(w http.ResponseWriter, r *http.Request, bucket, key string, q url.Values) error {
	opts := objstore.PutOptions{}
	if err := writeConditions(r.Header, &opts); err != nil {
		return err
	}
	var req completeMultipartUpload
	if err := readXML(r, &req); err != nil {
		return err
	}
	if len(req.Parts) == 0 {
		return errMalformedXML
	}
	parts := make([]objstore.CompletedPart, len(req.Parts))
	for i, p := range req.Parts {
		parts[i] = objstore.CompletedPart{Number: p.PartNumber, ETag: p.ETag}
	}
	in, err := s.begin(w, r, bucket, key, s3notify.ObjectCreatedMultipart)
	if err != nil {
		return err
	}
	info, err := s.cfg.Backend.CompleteUpload(r.Context(), bucket, key, q.Get("uploadId"), parts, objstore.PutOptions{
		Seal: seals(func(info *objstore.ObjectInfo) error {
			// The checksums a client lists must be those its parts were stored with.
			for i, p := range req.Parts {
				for alg, v := range p.checksumsXML.byAlgorithm() {
					if i >= len(info.PartChecksums) || info.PartChecksums[i][alg] != v {
						return withMessage(errInvalidPart, fmt.Sprintf("The %s you specified for part %d did not match what was uploaded.", alg, p.PartNumber))
					}
				}
			}
			info.Checksums = compositeChecksums(info.PartChecksums)
			return nil
		}, in.Seal),
		IfNoneMatch: opts.IfNoneMatch, IfMatch: opts.IfMatch})
	s.settle(r, in, info, err)
	if err != nil {
		return err
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	loc := scheme + "://" + r.Host + "/" + bucket + "/" + (&url.URL{Path: key}).EscapedPath()
	res := completeMultipartUploadResult{NS: xmlNS, Location: loc, Bucket: bucket, Key: key, ETag: `"` + info.ETag + `"`,
		checksumsXML: checksumsOf(info.Checksums)}
	if len(info.Checksums) > 0 {
		res.ChecksumType = "COMPOSITE"
	}
	writeXML(w, res)
	return nil
}

func (s *Service) abortUpload(w http.ResponseWriter, r *http.Request, bucket, key string, q url.Values) error {
	if err := s.cfg.Backend.AbortUpload(r.Context(), bucket, key, q.Get("uploadId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) listParts(w http.ResponseWriter, r *http.Request, bucket, key string, q url.Values) error {
	maxParts, marker := 1000, 0
	if v := q.Get("max-parts"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("max-parts must be a non-negative integer")
		}
		maxParts = min(n, 1000)
	}
	if v := q.Get("part-number-marker"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("part-number-marker must be a non-negative integer")
		}
		marker = n
	}
	_, parts, err := s.cfg.Backend.ListParts(r.Context(), bucket, key, q.Get("uploadId"))
	if err != nil {
		return err
	}
	o := ownerOf(r)
	res := listPartsResult{NS: xmlNS, Bucket: bucket, Key: key, UploadID: q.Get("uploadId"), Initiator: o, Owner: o,
		StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: maxParts}
	for _, p := range parts {
		if p.Number <= marker {
			continue
		}
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			break
		}
		res.Parts = append(res.Parts, partXML{PartNumber: p.Number, LastModified: isoTime(p.LastModified),
			ETag: `"` + p.ETag + `"`, Size: p.Size, checksumsXML: checksumsOf(p.Checksums)})
		res.NextPartNumberMarker = p.Number
	}
	writeXML(w, res)
	return nil
}
