// Package fs is the objstore.Backend that keeps buckets in a local directory.
//
// Layout under Config.Dir:
//
//	buckets/NAME/bucket.json        the bucket's creation record
//	buckets/NAME/objects/…/KEY~o    one file per object (see keys.go)
//	buckets/NAME/uploads/ID/        a multipart upload: upload.json, parts 00001…
//	buckets/NAME/tmp/               writes in progress
//
// An object file is its bytes followed by its description (JSON), the
// description's length and a magic number, so one rename publishes bytes and
// metadata together: every write goes to a temporary file in the bucket's tmp
// directory, is fsynced, renamed over the object's path and the directory
// fsynced. A crash leaves either the old file or the new one, and at worst a
// stray temporary file, which New removes.
package fs

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// Config configures an FS.
type Config struct {
	// Dir is the root directory; created if missing. Required.
	Dir string
}

// FS is an objstore.Backend on a local file system. It is safe for
// concurrent use; one FS (one process) should own Dir at a time.
type FS struct {
	dir string
	// keyLocks serialise the commits (and deletes) of keys hashing to the
	// same stripe, so that a conditional write's check and rename are atomic.
	keyLocks [64]sync.Mutex
}

var _ objstore.Backend = (*FS)(nil)

// New opens (creating if needed) the store in cfg.Dir and removes writes a
// crash left unfinished.
func New(cfg Config) (*FS, error) {
	if cfg.Dir == "" {
		return nil, errors.New("objstore/fs: Config.Dir is required")
	}
	f := &FS{dir: cfg.Dir}
	if err := os.MkdirAll(f.bucketsDir(), 0o755); err != nil {
		return nil, fmt.Errorf("objstore/fs: %w", err)
	}
	entries, err := os.ReadDir(f.bucketsDir())
	if err != nil {
		return nil, fmt.Errorf("objstore/fs: %w", err)
	}
	for _, e := range entries {
		tmp := filepath.Join(f.bucketsDir(), e.Name(), "tmp")
		if strings.HasPrefix(e.Name(), ".") {
			tmp = filepath.Join(f.bucketsDir(), e.Name()) // a bucket being created or deleted
		}
		if err := os.RemoveAll(tmp); err != nil {
			return nil, fmt.Errorf("objstore/fs: clean %s: %w", tmp, err)
		}
		if !strings.HasPrefix(e.Name(), ".") {
			if err := os.MkdirAll(tmp, 0o755); err != nil {
				return nil, fmt.Errorf("objstore/fs: %w", err)
			}
		}
	}
	return f, nil
}

func (f *FS) bucketsDir() string             { return filepath.Join(f.dir, "buckets") }
func (f *FS) bucketDir(bucket string) string { return filepath.Join(f.bucketsDir(), bucket) }
func (f *FS) objectsDir(bucket string) string {
	return filepath.Join(f.bucketDir(bucket), "objects")
}
func (f *FS) tmpDir(bucket string) string { return filepath.Join(f.bucketDir(bucket), "tmp") }
func (f *FS) uploadsDir(bucket string) string {
	return filepath.Join(f.bucketDir(bucket), "uploads")
}

func validBucket(bucket string) error {
	if bucket == "" || strings.ContainsAny(bucket, "/\\\x00") || strings.HasPrefix(bucket, ".") {
		return fmt.Errorf("bucket name %q: %w", bucket, objstore.ErrNoSuchBucket)
	}
	return nil
}

// CreateBucket implements objstore.Backend: the bucket directory is built
// under a hidden name and renamed into place, so it appears complete or not
// at all.
func (f *FS) CreateBucket(ctx context.Context, bucket string) error {
	if err := validBucket(bucket); err != nil {
		return err
	}
	staging, err := os.MkdirTemp(f.bucketsDir(), ".new-")
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	defer os.RemoveAll(staging)
	for _, d := range []string{"objects", "uploads", "tmp"} {
		if err := os.Mkdir(filepath.Join(staging, d), 0o755); err != nil {
			return fmt.Errorf("create bucket %s: %w", bucket, err)
		}
	}
	b, err := json.Marshal(objstore.BucketInfo{Name: bucket, Created: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	if err := writeFileSync(filepath.Join(staging, "bucket.json"), b); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	if err := os.Rename(staging, f.bucketDir(bucket)); err != nil {
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("create bucket %s: %w", bucket, objstore.ErrBucketExists)
		}
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return syncDir(f.bucketsDir())
}

// DeleteBucket implements objstore.Backend.
func (f *FS) DeleteBucket(ctx context.Context, bucket string) error {
	if _, err := f.HeadBucket(ctx, bucket); err != nil {
		return err
	}
	res, err := f.ListObjects(ctx, bucket, objstore.ListOptions{MaxKeys: 1})
	if err != nil {
		return err
	}
	if len(res.Objects) > 0 {
		return fmt.Errorf("delete bucket %s: %w", bucket, objstore.ErrBucketNotEmpty)
	}
	grave, err := os.MkdirTemp(f.bucketsDir(), ".gone-")
	if err != nil {
		return fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	if err := os.Rename(f.bucketDir(bucket), filepath.Join(grave, "b")); err != nil {
		os.Remove(grave)
		return fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	if err := syncDir(f.bucketsDir()); err != nil {
		return err
	}
	if err := os.RemoveAll(grave); err != nil {
		return fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	return nil
}

// HeadBucket implements objstore.Backend.
func (f *FS) HeadBucket(ctx context.Context, bucket string) (objstore.BucketInfo, error) {
	var info objstore.BucketInfo
	if err := validBucket(bucket); err != nil {
		return info, err
	}
	b, err := os.ReadFile(filepath.Join(f.bucketDir(bucket), "bucket.json"))
	if errors.Is(err, os.ErrNotExist) {
		return info, fmt.Errorf("bucket %s: %w", bucket, objstore.ErrNoSuchBucket)
	}
	if err != nil {
		return info, fmt.Errorf("bucket %s: %w", bucket, err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("bucket %s: %w", bucket, err)
	}
	return info, nil
}

// ListBuckets implements objstore.Backend.
func (f *FS) ListBuckets(ctx context.Context) ([]objstore.BucketInfo, error) {
	entries, err := os.ReadDir(f.bucketsDir())
	if err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	var out []objstore.BucketInfo
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := f.HeadBucket(ctx, e.Name())
		if errors.Is(err, objstore.ErrNoSuchBucket) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// The trailer that ends every object and part file: the JSON description,
// its length (8 bytes, big endian) and trailerMagic.
const trailerMagic = "ALOFTOB1"

const trailerFixed = 8 + len(trailerMagic)

// writeTrailer appends v's description to w.
func writeTrailer(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = binary.BigEndian.AppendUint64(b, uint64(len(b)))
	b = append(b, trailerMagic...)
	_, err = w.Write(b)
	return err
}

// readTrailer decodes the description at the end of f into v and returns the
// length of the data before it.
func readTrailer(f *os.File, v any) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Size() < int64(trailerFixed) {
		return 0, fmt.Errorf("%s: too short for an object file", f.Name())
	}
	fixed := make([]byte, trailerFixed)
	if _, err := f.ReadAt(fixed, st.Size()-int64(trailerFixed)); err != nil {
		return 0, err
	}
	if string(fixed[8:]) != trailerMagic {
		return 0, fmt.Errorf("%s: not an object file", f.Name())
	}
	n := int64(binary.BigEndian.Uint64(fixed[:8]))
	dataLen := st.Size() - int64(trailerFixed) - n
	if n <= 0 || dataLen < 0 {
		return 0, fmt.Errorf("%s: corrupt trailer", f.Name())
	}
	desc := make([]byte, n)
	if _, err := f.ReadAt(desc, dataLen); err != nil {
		return 0, err
	}
	if err := json.Unmarshal(desc, v); err != nil {
		return 0, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return dataLen, nil
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return d.Close()
}

func randomID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
