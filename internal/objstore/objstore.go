// Package objstore is aloft's object storage contract: buckets of objects
// addressed by key, written whole or in parts, read whole or by range. The S3
// API (internal/s3api) is its front end; implementations are named for what
// they store into (objstore/fs today; a JetStream object store or an external
// S3 for cluster mode later). objstoretest holds the contract suite every
// implementation runs.
package objstore

import (
	"context"
	"errors"
	"io"
	"time"
)

// Backend stores buckets and objects. Implementations are safe for concurrent
// use. Writes are atomic: a reader sees the old object or the new one, never
// a mix, and a crash at any moment leaves one of the two. Bodies stream: no
// method holds a whole object in memory.
//
// Errors are, or wrap, the sentinels below; anything else is an internal
// failure. A body's read error (for example a failed signature check) aborts
// the write and is returned wrapped, so callers can recognise their own.
type Backend interface {
	CreateBucket(ctx context.Context, bucket string) error
	// DeleteBucket removes an empty bucket and its unfinished uploads.
	DeleteBucket(ctx context.Context, bucket string) error
	HeadBucket(ctx context.Context, bucket string) (BucketInfo, error)
	// ListBuckets returns every bucket, sorted by name.
	ListBuckets(ctx context.Context) ([]BucketInfo, error)

	// PutObject stores body under key, replacing any object there.
	PutObject(ctx context.Context, bucket, key string, body io.Reader, opts PutOptions) (ObjectInfo, error)
	// GetObject opens an object for reading; rng nil means the whole object.
	// The caller closes the returned Object.
	GetObject(ctx context.Context, bucket, key string, rng *Range) (*Object, error)
	HeadObject(ctx context.Context, bucket, key string) (ObjectInfo, error)
	// DeleteObject removes key; deleting a missing key is not an error.
	DeleteObject(ctx context.Context, bucket, key string) error
	// ListObjects lists keys in byte order after opts.After, starting with
	// opts.Prefix, rolling keys up to opts.Delimiter into common prefixes.
	ListObjects(ctx context.Context, bucket string, opts ListOptions) (ListResult, error)

	// CreateUpload starts a multipart upload of key and returns its ID.
	CreateUpload(ctx context.Context, bucket, key string, meta Metadata) (string, error)
	// UploadPart stores part number n (1..10000) of an upload, replacing any
	// earlier part n.
	UploadPart(ctx context.Context, bucket, key, uploadID string, n int, body io.Reader, opts PutOptions) (PartInfo, error)
	// CompleteUpload assembles the listed parts, in order, into the object and
	// ends the upload. Each listed part's ETag must match the stored part.
	// opts.Seal runs before the object commits; opts.Metadata is unused (the
	// upload's metadata applies).
	CompleteUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletedPart, opts PutOptions) (ObjectInfo, error)
	AbortUpload(ctx context.Context, bucket, key, uploadID string) error
	// ListParts returns the upload's metadata and its stored parts by number.
	ListParts(ctx context.Context, bucket, key, uploadID string) (Upload, []PartInfo, error)
	// ListUploads returns the bucket's unfinished uploads by key, then
	// initiation time.
	ListUploads(ctx context.Context, bucket string) ([]Upload, error)
}

// Sentinel errors of Backend.
var (
	ErrNoSuchBucket       = errors.New("no such bucket")
	ErrBucketExists       = errors.New("bucket already exists")
	ErrBucketNotEmpty     = errors.New("bucket not empty")
	ErrNoSuchKey          = errors.New("no such key")
	ErrNoSuchUpload       = errors.New("no such upload")
	ErrInvalidPart        = errors.New("invalid part")
	ErrInvalidRange       = errors.New("invalid range")
	ErrKeyTooLong         = errors.New("key too long")
	ErrInvalidPartList    = errors.New("parts not in ascending order")
	ErrEntityTooSmall     = errors.New("part smaller than the minimum allowed size")
	ErrPreconditionFailed = errors.New("precondition failed")
)

// Metadata is what a client sets on an object besides its bytes.
type Metadata struct {
	ContentType        string            `json:"contentType,omitempty"`
	ContentEncoding    string            `json:"contentEncoding,omitempty"`
	ContentDisposition string            `json:"contentDisposition,omitempty"`
	ContentLanguage    string            `json:"contentLanguage,omitempty"`
	CacheControl       string            `json:"cacheControl,omitempty"`
	Expires            string            `json:"expires,omitempty"`
	User               map[string]string `json:"user,omitempty"` // x-amz-meta-*, keys lower case
}

// PutOptions are the inputs of a write besides its body.
type PutOptions struct {
	Metadata Metadata
	// Seal, when set, is called once the body has been read to its end and
	// before the write commits, with what the backend computed (size, ETag).
	// It may set info.Checksums to have them stored; an error refuses the write
	// and is returned wrapped.
	Seal func(info *ObjectInfo) error
	// IfNoneMatch makes the write fail with ErrPreconditionFailed when the
	// key already holds an object; IfMatch, when set, unless it holds one
	// with that ETag (quoted or not; ErrNoSuchKey when it holds none). The
	// check and the commit are atomic. Both are ignored for parts.
	IfNoneMatch bool
	IfMatch     string
}

// ObjectInfo describes a stored object (or part).
type ObjectInfo struct {
	Key          string    `json:"key"`
	Size         int64     `json:"size"`
	ETag         string    `json:"etag"` // unquoted: hex MD5, or hex-N for multipart
	LastModified time.Time `json:"lastModified"`
	Metadata     Metadata  `json:"metadata"`
	// Checksums maps an algorithm (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) to
	// its base64 value, as Seal set them.
	Checksums map[string]string `json:"checksums,omitempty"`
	// Parts is the number of parts of a multipart object, 0 otherwise.
	Parts int `json:"parts,omitempty"`
	// PartSizes are the sizes of a multipart object's parts, in order, and
	// PartChecksums the checksums each part was stored with (Seal's).
	PartSizes     []int64             `json:"partSizes,omitempty"`
	PartChecksums []map[string]string `json:"partChecksums,omitempty"`
	// WriteID is whatever Seal set it to, stored with the object, so that a
	// journal kept outside the backend (bucket notifications) can tell after
	// a crash whether its write committed.
	WriteID string `json:"writeId,omitempty"`
}

// Object is an open object: its description and a reader of the requested
// bytes. Close releases it.
type Object struct {
	Info ObjectInfo
	// Range is the byte range Body returns (the whole object when rng was nil).
	Range Range
	Body  io.ReadCloser
}

// Range is an inclusive byte range [Start, End] of an object; End past the
// object's end means up to its end. A negative Start asks for the last
// -Start bytes (End is then ignored).
type Range struct{ Start, End int64 }

// Length is the number of bytes in the range.
func (r Range) Length() int64 { return r.End - r.Start + 1 }

// BucketInfo describes a bucket.
type BucketInfo struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// ListOptions selects keys for ListObjects. MaxKeys 0 means 1000.
type ListOptions struct {
	Prefix    string
	Delimiter string
	After     string // exclusive start key (marker, start-after or continuation)
	MaxKeys   int
}

// ListResult is one page of keys and common prefixes, each sorted. When
// Truncated, Next is the last key or prefix returned, to pass as the next
// page's After.
type ListResult struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	Truncated      bool
	Next           string
}

// Upload is an unfinished multipart upload.
type Upload struct {
	ID        string    `json:"id"`
	Key       string    `json:"key"`
	Initiated time.Time `json:"initiated"`
	Metadata  Metadata  `json:"metadata"`
}

// PartInfo describes a stored part.
type PartInfo struct {
	Number       int               `json:"number"`
	Size         int64             `json:"size"`
	ETag         string            `json:"etag"` // unquoted hex MD5
	LastModified time.Time         `json:"lastModified"`
	Checksums    map[string]string `json:"checksums,omitempty"`
}

// CompletedPart names a part to assemble: its number and the ETag the client
// got when uploading it (quoted or not).
type CompletedPart struct {
	Number int
	ETag   string
}

// MinPartSize is the smallest size of every part but the last, as on S3.
const MinPartSize = 5 << 20
