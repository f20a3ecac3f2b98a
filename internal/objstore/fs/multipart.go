package fs

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/objstore"
)

func (f *FS) uploadDir(bucket, id string) string { return filepath.Join(f.uploadsDir(bucket), id) }

// CreateUpload implements objstore.Backend. The upload directory is built in
// tmp and renamed into uploads/, so it exists complete or not at all.
func (f *FS) CreateUpload(ctx context.Context, bucket, key string, meta objstore.Metadata) (string, error) {
	if _, err := f.HeadBucket(ctx, bucket); err != nil {
		return "", err
	}
	if _, err := keyPath(key); err != nil {
		return "", err
	}
	id, err := randomID()
	if err != nil {
		return "", fmt.Errorf("create upload %s/%s: %w", bucket, key, err)
	}
	staging, err := os.MkdirTemp(f.tmpDir(bucket), "upload-")
	if err != nil {
		return "", fmt.Errorf("create upload %s/%s: %w", bucket, key, err)
	}
	defer os.RemoveAll(staging)
	b, err := json.Marshal(objstore.Upload{ID: id, Key: key, Initiated: time.Now().UTC(), Metadata: meta})
	if err != nil {
		return "", fmt.Errorf("create upload %s/%s: %w", bucket, key, err)
	}
	if err := writeFileSync(filepath.Join(staging, "upload.json"), b); err != nil {
		return "", fmt.Errorf("create upload %s/%s: %w", bucket, key, err)
	}
	if err := os.Rename(staging, f.uploadDir(bucket, id)); err != nil {
		return "", fmt.Errorf("create upload %s/%s: %w", bucket, key, err)
	}
	return id, syncDir(f.uploadsDir(bucket))
}

// upload reads an upload's record, checking that it belongs to key.
func (f *FS) upload(ctx context.Context, bucket, key, id string) (objstore.Upload, error) {
	var u objstore.Upload
	if _, err := f.HeadBucket(ctx, bucket); err != nil {
		return u, err
	}
	if _, err := hex.DecodeString(id); err != nil || len(id) != 32 {
		return u, fmt.Errorf("upload %q: %w", id, objstore.ErrNoSuchUpload)
	}
	b, err := os.ReadFile(filepath.Join(f.uploadDir(bucket, id), "upload.json"))
	if errors.Is(err, os.ErrNotExist) {
		return u, fmt.Errorf("upload %s: %w", id, objstore.ErrNoSuchUpload)
	}
	if err != nil {
		return u, fmt.Errorf("upload %s: %w", id, err)
	}
	if err := json.Unmarshal(b, &u); err != nil {
		return u, fmt.Errorf("upload %s: %w", id, err)
	}
	if u.Key != key {
		return u, fmt.Errorf("upload %s is for another key: %w", id, objstore.ErrNoSuchUpload)
	}
	return u, nil
}

func partName(n int) string { return fmt.Sprintf("%05d", n) }

// UploadPart implements objstore.Backend.
func (f *FS) UploadPart(ctx context.Context, bucket, key, uploadID string, n int, body io.Reader, opts objstore.PutOptions) (objstore.PartInfo, error) {
	if n < 1 || n > 10000 {
		return objstore.PartInfo{}, fmt.Errorf("part number %d: %w", n, objstore.ErrInvalidPart)
	}
	if _, err := f.upload(ctx, bucket, key, uploadID); err != nil {
		return objstore.PartInfo{}, err
	}
	tmp, err := os.CreateTemp(f.tmpDir(bucket), "part-")
	if err != nil {
		return objstore.PartInfo{}, fmt.Errorf("upload part %d: %w", n, err)
	}
	defer os.Remove(tmp.Name())
	h := md5.New()
	info := objstore.ObjectInfo{Key: key}
	info.Size, err = io.CopyBuffer(io.MultiWriter(tmp, h), body, make([]byte, copyBufferSize))
	if err != nil {
		tmp.Close()
		return objstore.PartInfo{}, fmt.Errorf("upload part %d: %w", n, err)
	}
	info.ETag = hex.EncodeToString(h.Sum(nil))
	info.LastModified = time.Now().UTC()
	dst := filepath.Join(f.uploadDir(bucket, uploadID), partName(n))
	if err := f.commit(tmp, &info, objstore.PutOptions{Seal: opts.Seal}, dst); err != nil {
		return objstore.PartInfo{}, fmt.Errorf("upload part %d: %w", n, err)
	}
	if _, err := os.Stat(filepath.Join(f.uploadDir(bucket, uploadID), "upload.json")); err != nil {
		os.Remove(dst) // completed or aborted while the part streamed
		return objstore.PartInfo{}, fmt.Errorf("upload part %d: %w", n, objstore.ErrNoSuchUpload)
	}
	return partInfo(n, info), nil
}

func partInfo(n int, info objstore.ObjectInfo) objstore.PartInfo {
	return objstore.PartInfo{Number: n, Size: info.Size, ETag: info.ETag, LastModified: info.LastModified, Checksums: info.Checksums}
}

// CompleteUpload implements objstore.Backend: the parts are copied, in order,
// into one new object file committed like any put; then the upload goes.
func (f *FS) CompleteUpload(ctx context.Context, bucket, key, uploadID string, parts []objstore.CompletedPart, opts objstore.PutOptions) (objstore.ObjectInfo, error) {
	u, err := f.upload(ctx, bucket, key, uploadID)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	if len(parts) == 0 {
		return objstore.ObjectInfo{}, fmt.Errorf("complete upload: no parts: %w", objstore.ErrInvalidPart)
	}
	rel, err := keyPath(key)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	tmp, err := os.CreateTemp(f.tmpDir(bucket), "complete-")
	if err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("complete upload: %w", err)
	}
	defer os.Remove(tmp.Name())
	fail := func(err error) (objstore.ObjectInfo, error) {
		tmp.Close()
		return objstore.ObjectInfo{}, fmt.Errorf("complete upload %s: %w", uploadID, err)
	}
	etags := md5.New()
	info := objstore.ObjectInfo{Key: key, Metadata: u.Metadata, Parts: len(parts)}
	buf := make([]byte, copyBufferSize)
	for i := 1; i < len(parts); i++ {
		if parts[i].Number <= parts[i-1].Number {
			return fail(objstore.ErrInvalidPartList)
		}
	}
	for i, p := range parts {
		file, err := os.Open(filepath.Join(f.uploadDir(bucket, uploadID), partName(p.Number)))
		if errors.Is(err, os.ErrNotExist) {
			return fail(fmt.Errorf("part %d was not uploaded: %w", p.Number, objstore.ErrInvalidPart))
		}
		if err != nil {
			return fail(err)
		}
		var pi objstore.ObjectInfo
		size, err := readTrailer(file, &pi)
		if err == nil && pi.ETag != strings.Trim(p.ETag, `"`) {
			err = fmt.Errorf("part %d's ETag is %q, not %q: %w", p.Number, pi.ETag, p.ETag, objstore.ErrInvalidPart)
		}
		if err == nil && i < len(parts)-1 && size < objstore.MinPartSize {
			err = fmt.Errorf("part %d has %d bytes: %w", p.Number, size, objstore.ErrEntityTooSmall)
		}
		if err == nil {
			_, err = io.CopyBuffer(tmp, io.NewSectionReader(file, 0, size), buf)
		}
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fail(err)
		}
		sum, _ := hex.DecodeString(pi.ETag)
		etags.Write(sum)
		info.Size += size
		info.PartSizes = append(info.PartSizes, size)
		info.PartChecksums = append(info.PartChecksums, pi.Checksums)
	}
	info.ETag = hex.EncodeToString(etags.Sum(nil)) + "-" + strconv.Itoa(len(parts))
	info.LastModified = time.Now().UTC()
	if err := f.commit(tmp, &info, objstore.PutOptions{Seal: opts.Seal, IfMatch: opts.IfMatch, IfNoneMatch: opts.IfNoneMatch}, filepath.Join(f.objectsDir(bucket), rel)); err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("complete upload %s: %w", uploadID, err)
	}
	if err := os.RemoveAll(f.uploadDir(bucket, uploadID)); err != nil {
		return info, fmt.Errorf("complete upload %s: remove parts: %w", uploadID, err)
	}
	return info, nil
}

// AbortUpload implements objstore.Backend.
func (f *FS) AbortUpload(ctx context.Context, bucket, key, uploadID string) error {
	if _, err := f.upload(ctx, bucket, key, uploadID); err != nil {
		return err
	}
	if err := os.RemoveAll(f.uploadDir(bucket, uploadID)); err != nil {
		return fmt.Errorf("abort upload %s: %w", uploadID, err)
	}
	return nil
}

// ListParts implements objstore.Backend.
func (f *FS) ListParts(ctx context.Context, bucket, key, uploadID string) (objstore.Upload, []objstore.PartInfo, error) {
	u, err := f.upload(ctx, bucket, key, uploadID)
	if err != nil {
		return u, nil, err
	}
	entries, err := os.ReadDir(f.uploadDir(bucket, uploadID))
	if err != nil {
		return u, nil, fmt.Errorf("list parts %s: %w", uploadID, err)
	}
	var parts []objstore.PartInfo
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		file, err := os.Open(filepath.Join(f.uploadDir(bucket, uploadID), e.Name()))
		if err != nil {
			continue // replaced or removed meanwhile
		}
		var info objstore.ObjectInfo
		_, err = readTrailer(file, &info)
		file.Close()
		if err != nil {
			return u, nil, fmt.Errorf("list parts %s: %w", uploadID, err)
		}
		parts = append(parts, partInfo(n, info))
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return u, parts, nil
}

// ListUploads implements objstore.Backend.
func (f *FS) ListUploads(ctx context.Context, bucket string) ([]objstore.Upload, error) {
	if _, err := f.HeadBucket(ctx, bucket); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(f.uploadsDir(bucket))
	if err != nil {
		return nil, fmt.Errorf("list uploads %s: %w", bucket, err)
	}
	var out []objstore.Upload
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(f.uploadsDir(bucket), e.Name(), "upload.json"))
		if err != nil {
			continue // completed or aborted meanwhile
		}
		var u objstore.Upload
		if err := json.Unmarshal(b, &u); err != nil {
			return nil, fmt.Errorf("list uploads %s: %s: %w", bucket, e.Name(), err)
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Initiated.Before(out[j].Initiated)
	})
	return out, nil
}
