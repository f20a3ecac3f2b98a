package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// Listing walks the key tree depth first with each directory's entries in
// key order, so keys come out in S3's byte order and a page stops as soon as
// it is full: its cost is the page, not the bucket. Ordering holds because a
// directory's keys all start with its name plus "/" and no other entry's name
// contains "/", so sorting a directory as name+"/" among its siblings places
// its whole subtree exactly where its keys belong. Subtrees wholly before
// After, outside Prefix, or rolled up into one common prefix are not walked.

// ListObjects implements objstore.Backend.
func (f *FS) ListObjects(ctx context.Context, bucket string, opts objstore.ListOptions) (objstore.ListResult, error) {
	var res objstore.ListResult
	if _, err := f.HeadBucket(ctx, bucket); err != nil {
		return res, err
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 1000
	}
	l := &lister{f: f, ctx: ctx, bucket: bucket, opts: opts, res: &res}
	base := ""
	if i := strings.LastIndexByte(opts.Prefix, '/'); i >= 0 {
		base = opts.Prefix[:i+1]
	}
	if _, err := l.walk(filepath.Join(f.objectsDir(bucket), prefixDir(opts.Prefix)), base); err != nil {
		return res, fmt.Errorf("list %s: %w", bucket, err)
	}
	if !res.Truncated {
		res.Next = ""
	}
	return res, nil
}

type lister struct {
	f      *FS
	ctx    context.Context
	bucket string
	opts   objstore.ListOptions
	res    *objstore.ListResult
	count  int
}

type entry struct {
	key  string // the key, or for a directory the prefix of its keys (ending in "/")
	name string
	dir  bool
}

// walk lists dir, whose keys all start with base; false means the page is
// full.
func (l *lister) walk(dir, base string) (bool, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil // no such prefix, or emptied meanwhile
	}
	if err != nil {
		return false, err
	}
	entries := make([]entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if de.IsDir() {
			if seg, ok := unescapeSegment(name); ok {
				entries = append(entries, entry{key: base + seg + "/", name: name, dir: true})
			}
			continue
		}
		if stem, ok := strings.CutSuffix(name, objectSuffix); ok {
			if seg, ok := unescapeSegment(stem); ok {
				entries = append(entries, entry{key: base + seg, name: name})
			}
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	prefix, after := l.opts.Prefix, l.opts.After
	for _, e := range entries {
		path := filepath.Join(dir, e.name)
		if !e.dir {
			if !strings.HasPrefix(e.key, prefix) || e.key <= after {
				continue
			}
			if more, err := l.visit(e.key, true); !more || err != nil {
				return more, err
			}
			continue
		}
		if !strings.HasPrefix(e.key, prefix) && !strings.HasPrefix(prefix, e.key) {
			continue // no key here starts with the prefix
		}
		if after >= e.key && !strings.HasPrefix(after, e.key) {
			continue // every key here is before After
		}
		if cp, ok := l.rollup(e.key); ok {
			// The whole subtree is one common prefix, if it holds an object.
			if cp <= after {
				continue
			}
			has, err := hasObject(path)
			if err != nil {
				return false, err
			}
			if has {
				if more, err := l.visit(e.key, false); !more || err != nil {
					return more, err
				}
			}
			continue
		}
		if more, err := l.walk(path, e.key); !more || err != nil {
			return more, err
		}
	}
	return true, nil
}

// rollup reports whether every key starting with dirKey rolls up into one
// common prefix, and which.
func (l *lister) rollup(dirKey string) (string, bool) {
	d := l.opts.Delimiter
	if d == "" || !strings.HasPrefix(dirKey, l.opts.Prefix) {
		return "", false
	}
	i := strings.Index(dirKey[len(l.opts.Prefix):], d)
	if i < 0 || len(l.opts.Prefix)+i+len(d) > len(dirKey) {
		return "", false
	}
	return dirKey[:len(l.opts.Prefix)+i+len(d)], true
}

// visit adds key (an object when isObject, else a directory key standing for
// its common prefix) to the page; false means the page is full.
func (l *lister) visit(key string, isObject bool) (bool, error) {
	res := l.res
	if cp, ok := l.commonPrefix(key); ok {
		if cp <= l.opts.After || (len(res.CommonPrefixes) > 0 && res.CommonPrefixes[len(res.CommonPrefixes)-1] == cp) {
			return true, nil
		}
		if l.count == l.opts.MaxKeys {
			res.Truncated = true
			return false, nil
		}
		res.CommonPrefixes = append(res.CommonPrefixes, cp)
		res.Next = cp
		l.count++
		return true, nil
	}
	if !isObject {
		return true, nil
	}
	if l.count == l.opts.MaxKeys {
		res.Truncated = true
		return false, nil
	}
	info, err := l.f.HeadObject(l.ctx, l.bucket, key)
	if errors.Is(err, objstore.ErrNoSuchKey) {
		return true, nil // deleted since the directory was read
	}
	if err != nil {
		return false, err
	}
	res.Objects = append(res.Objects, info)
	res.Next = key
	l.count++
	return true, nil
}

func (l *lister) commonPrefix(key string) (string, bool) {
	d := l.opts.Delimiter
	if d == "" {
		return "", false
	}
	i := strings.Index(key[len(l.opts.Prefix):], d)
	if i < 0 {
		return "", false
	}
	return key[:len(l.opts.Prefix)+i+len(d)], true
}

// hasObject reports whether a directory holds an object at any depth.
func hasObject(dir string) (bool, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, de := range des {
		if !de.IsDir() && strings.HasSuffix(de.Name(), objectSuffix) {
			return true, nil
		}
	}
	for _, de := range des {
		if de.IsDir() {
			if has, err := hasObject(filepath.Join(dir, de.Name())); has || err != nil {
				return has, err
			}
		}
	}
	return false, nil
}
