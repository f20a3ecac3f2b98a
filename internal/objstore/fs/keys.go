package fs

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// Keys map to paths segment by segment ("photos/cat.jpg" → photos/cat.jpg~o),
// so a listing under a prefix walks only that prefix's directory. Each segment
// is escaped so that it is a valid, unambiguous file name: bytes other than
// A-Z a-z 0-9 - _ . and non-ASCII become %XX, segments made only of dots are
// escaped whole, and the empty segment (from "a//b" or a trailing "/") is "%".
// Escaped names never contain '~', so an object file (suffix objectSuffix)
// never collides with a directory holding longer keys.

const (
	objectSuffix = "~o"
	maxKeyBytes  = 1024 // S3's limit
	maxNameBytes = 255  // Linux NAME_MAX
)

func escapeSegment(s string) string {
	if s == "" {
		return "%"
	}
	allDots := strings.Trim(s, ".") == ""
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case !allDots && ('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c >= 0x80):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func unescapeSegment(s string) (string, bool) {
	if s == "%" {
		return "", true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		c, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(c))
		i += 2
	}
	return b.String(), true
}

// keyPath is the object file's path relative to a bucket's objects directory.
func keyPath(key string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("empty key: %w", objstore.ErrNoSuchKey)
	}
	if len(key) > maxKeyBytes {
		return "", fmt.Errorf("key of %d bytes: %w", len(key), objstore.ErrKeyTooLong)
	}
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = escapeSegment(s)
		if len(segs[i])+len(objectSuffix) > maxNameBytes {
			return "", fmt.Errorf("key segment of %d bytes once escaped (at most %d on this file system): %w",
				len(segs[i]), maxNameBytes-len(objectSuffix), objstore.ErrKeyTooLong)
		}
	}
	segs[len(segs)-1] += objectSuffix
	return filepath.Join(segs...), nil
}

// prefixDir is the directory, relative to the objects directory, holding
// every key that starts with prefix.
func prefixDir(prefix string) string {
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return "."
	}
	segs := strings.Split(prefix[:i], "/")
	for j, s := range segs {
		segs[j] = escapeSegment(s)
	}
	return filepath.Join(segs...)
}
