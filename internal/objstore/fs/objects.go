package fs

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// copyBufferSize is the buffer each streaming copy uses.
const copyBufferSize = 256 << 10

// PutObject implements objstore.Backend.
func (f *FS) PutObject(ctx context.Context, bucket, key string, body io.Reader, opts objstore.PutOptions) (objstore.ObjectInfo, error) {
	if _, err := f.HeadBucket(ctx, bucket); err != nil {
		return objstore.ObjectInfo{}, err
	}
	rel, err := keyPath(key)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	tmp, err := os.CreateTemp(f.tmpDir(bucket), "put-")
	if err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	info := objstore.ObjectInfo{Key: key, Metadata: opts.Metadata}
	h := md5.New()
	info.Size, err = io.CopyBuffer(io.MultiWriter(tmp, h), body, make([]byte, copyBufferSize))
	if err != nil {
		tmp.Close()
		return info, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	info.ETag = hex.EncodeToString(h.Sum(nil))
	info.LastModified = time.Now().UTC()
	if err := f.commit(tmp, &info, opts, filepath.Join(f.objectsDir(bucket), rel)); err != nil {
		return info, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	return info, nil
}

// lockKey locks the stripe of an object path; the caller unlocks it.
func (f *FS) lockKey(path string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(path))
	m := &f.keyLocks[h.Sum32()%uint32(len(f.keyLocks))]
	m.Lock()
	return m
}

// checkConditions applies opts' IfMatch and IfNoneMatch to the object at dst;
// the caller holds dst's lock.
func checkConditions(opts objstore.PutOptions, dst string) error {
	if !opts.IfNoneMatch && opts.IfMatch == "" {
		return nil
	}
	file, err := os.Open(dst)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		if opts.IfMatch != "" {
			return objstore.ErrNoSuchKey
		}
		return nil
	}
	if err != nil {
		return err
	}
	defer file.Close()
	if opts.IfNoneMatch {
		return objstore.ErrPreconditionFailed
	}
	var cur objstore.ObjectInfo
	if _, err := readTrailer(file, &cur); err != nil {
		return err
	}
	if cur.ETag != strings.Trim(opts.IfMatch, `"`) {
		return objstore.ErrPreconditionFailed
	}
	return nil
}

// commit seals, describes, syncs and renames a written temporary file to dst,
// if opts' conditions hold.
func (f *FS) commit(tmp *os.File, info *objstore.ObjectInfo, opts objstore.PutOptions, dst string) error {
	if opts.Seal != nil {
		if err := opts.Seal(info); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := writeTrailer(tmp, info); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	defer f.lockKey(dst).Unlock()
	if err := checkConditions(opts, dst); err != nil {
		return err
	}
	return renameInto(tmp.Name(), dst)
}

// renameInto renames src to dst, creating dst's directories; a concurrent
// delete may remove an emptied directory between the two, so it retries.
func renameInto(src, dst string) error {
	var err error
	for range 5 {
		if err = os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			if errors.Is(err, syscall.ENOTDIR) {
				return err
			}
			continue
		}
		if err = os.Rename(src, dst); err == nil {
			return syncDir(filepath.Dir(dst))
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return err
}

// GetObject implements objstore.Backend.
func (f *FS) GetObject(ctx context.Context, bucket, key string, rng *objstore.Range) (*objstore.Object, error) {
	file, info, size, err := f.open(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	r := objstore.Range{Start: 0, End: size - 1}
	if rng != nil && rng.Start < 0 {
		rng = &objstore.Range{Start: max(0, size+rng.Start), End: size - 1}
		if size == 0 {
			rng.Start = 0 // nothing to serve: invalid below
		}
	}
	if rng != nil {
		if rng.Start >= size || rng.Start < 0 || rng.End < rng.Start {
			file.Close()
			return nil, fmt.Errorf("get %s/%s bytes %d-%d of %d: %w", bucket, key, rng.Start, rng.End, size, objstore.ErrInvalidRange)
		}
		r = objstore.Range{Start: rng.Start, End: min(rng.End, size-1)}
	}
	return &objstore.Object{Info: info, Range: r, Body: &sectionFile{
		Reader: io.NewSectionReader(file, r.Start, r.Length()), f: file,
	}}, nil
}

type sectionFile struct {
	io.Reader
	f *os.File
}

func (s *sectionFile) Close() error { return s.f.Close() }

// open opens an object file and reads its description.
func (f *FS) open(ctx context.Context, bucket, key string) (*os.File, objstore.ObjectInfo, int64, error) {
	var info objstore.ObjectInfo
	if _, err := f.HeadBucket(ctx, bucket); err != nil {
		return nil, info, 0, err
	}
	rel, err := keyPath(key)
	if err != nil {
		if errors.Is(err, objstore.ErrKeyTooLong) {
			return nil, info, 0, fmt.Errorf("%s/%s: %w", bucket, key, objstore.ErrNoSuchKey)
		}
		return nil, info, 0, err
	}
	file, err := os.Open(filepath.Join(f.objectsDir(bucket), rel))
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, info, 0, fmt.Errorf("%s/%s: %w", bucket, key, objstore.ErrNoSuchKey)
	}
	if err != nil {
		return nil, info, 0, fmt.Errorf("%s/%s: %w", bucket, key, err)
	}
	size, err := readTrailer(file, &info)
	if err != nil {
		file.Close()
		return nil, info, 0, fmt.Errorf("%s/%s: %w", bucket, key, err)
	}
	return file, info, size, nil
}

// HeadObject implements objstore.Backend.
func (f *FS) HeadObject(ctx context.Context, bucket, key string) (objstore.ObjectInfo, error) {
	file, info, _, err := f.open(ctx, bucket, key)
	if err != nil {
		return info, err
	}
	return info, file.Close()
}

// DeleteObject implements objstore.Backend, removing directories it empties.
func (f *FS) DeleteObject(ctx context.Context, bucket, key string) error {
	if _, err := f.HeadBucket(ctx, bucket); err != nil {
		return err
	}
	rel, err := keyPath(key)
	if err != nil {
		return nil // no such key can exist
	}
	root := f.objectsDir(bucket)
	path := filepath.Join(root, rel)
	unlock := f.lockKey(path).Unlock
	err = os.Remove(path)
	unlock()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return fmt.Errorf("delete %s/%s: %w", bucket, key, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return err
	}
	for dir := filepath.Dir(path); dir != root && strings.HasPrefix(dir, root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty, or a concurrent write recreated it
		}
	}
	return nil
}
