package s3api

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// checksumAlgorithms are S3's flexible checksums, by the name in
// x-amz-checksum-ALGORITHM (upper case).
var checksumAlgorithms = map[string]func() hash.Hash{
	"CRC32":     func() hash.Hash { return crc32.NewIEEE() },
	"CRC32C":    func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"CRC64NVME": func() hash.Hash { return crc64.New(crc64.MakeTable(0x9a6c9329ac4bc9b5)) },
	"SHA1":      sha1.New,
	"SHA256":    sha256.New,
}

// checksumOrder is the order checksums appear in responses.
var checksumOrder = []string{"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"}

func checksumHeader(alg string) string { return "X-Amz-Checksum-" + alg }

// bodyCheck verifies what a write's headers or trailers claim about its
// body (Content-MD5, one x-amz-checksum-*) and records the checksum with the
// object.
type bodyCheck struct {
	r       *http.Request
	md5     []byte
	alg     string
	h       hash.Hash
	claimed string // from the header; "" when it comes in a trailer (or not at all)
}

func newBodyCheck(r *http.Request) (*bodyCheck, error) {
	c := &bodyCheck{r: r}
	if v := r.Header.Get("Content-Md5"); v != "" {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(b) != md5.Size {
			return nil, errInvalidDigest
		}
		c.md5 = b
	}
	trailer := strings.ToUpper(strings.TrimSpace(r.Header.Get("X-Amz-Trailer")))
	for _, alg := range checksumOrder {
		hv := r.Header.Get(checksumHeader(alg))
		inTrailer := trailer == strings.ToUpper(checksumHeader(alg))
		if hv == "" && !inTrailer {
			continue
		}
		if c.alg != "" {
			return nil, errInvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		c.alg, c.claimed = alg, hv
	}
	if trailer != "" && c.alg == "" {
		return nil, errInvalidRequest("The value specified in the x-amz-trailer header is not supported")
	}
	if c.alg == "" {
		sdk := strings.ToUpper(r.Header.Get("X-Amz-Sdk-Checksum-Algorithm"))
		if sdk == "" {
			sdk = strings.ToUpper(r.Header.Get("X-Amz-Checksum-Algorithm"))
		}
		if sdk != "" {
			if _, ok := checksumAlgorithms[sdk]; !ok {
				return nil, errInvalidRequest("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
			}
			c.alg = sdk
		}
	}
	if c.alg != "" {
		c.h = checksumAlgorithms[c.alg]()
	}
	return c, nil
}

// wrap returns body with the checksum computed on the way through.
func (c *bodyCheck) wrap(body io.Reader) io.Reader {
	if c.h == nil {
		return body
	}
	return io.TeeReader(body, c.h)
}

// seal is the objstore Seal hook: it refuses a body that does not match its
// claims and stores the checksum.
func (c *bodyCheck) seal(info *objstore.ObjectInfo) error {
	if c.md5 != nil && hex.EncodeToString(c.md5) != info.ETag {
		return errBadDigest
	}
	if c.h == nil {
		return nil
	}
	got := base64.StdEncoding.EncodeToString(c.h.Sum(nil))
	claimed := c.claimed
	if claimed == "" && c.r.Trailer != nil {
		claimed = c.r.Trailer.Get(checksumHeader(c.alg))
	}
	if claimed != "" && claimed != got {
		return withMessage(errBadDigest, "The "+c.alg+" you specified did not match the calculated checksum.")
	}
	info.Checksums = map[string]string{c.alg: got}
	return nil
}

// setChecksumHeaders adds an object's checksums to a response.
func setChecksumHeaders(h http.Header, sums map[string]string) {
	for _, alg := range checksumOrder {
		if v, ok := sums[alg]; ok {
			h.Set(checksumHeader(alg), v)
			if strings.Contains(v, "-") {
				h.Set("X-Amz-Checksum-Type", "COMPOSITE")
			} else {
				h.Set("X-Amz-Checksum-Type", "FULL_OBJECT")
			}
		}
	}
}

// compositeChecksums are a multipart object's checksums as S3 computes
// them: for each algorithm every part was stored with, the checksum of the
// parts' binary checksums, then "-N".
func compositeChecksums(parts []map[string]string) map[string]string {
	if len(parts) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, alg := range checksumOrder {
		h := checksumAlgorithms[alg]()
		complete := true
		for _, p := range parts {
			b, err := base64.StdEncoding.DecodeString(p[alg])
			if p[alg] == "" || err != nil {
				complete = false
				break
			}
			h.Write(b)
		}
		if complete {
			out[alg] = base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts))
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func checksumsOf(sums map[string]string) checksumsXML {
	return checksumsXML{ChecksumCRC32: sums["CRC32"], ChecksumCRC32C: sums["CRC32C"], ChecksumCRC64NVME: sums["CRC64NVME"],
		ChecksumSHA1: sums["SHA1"], ChecksumSHA256: sums["SHA256"]}
}

// byAlgorithm is the inverse of checksumsOf.
func (c checksumsXML) byAlgorithm() map[string]string {
	m := map[string]string{}
	for alg, v := range map[string]string{"CRC32": c.ChecksumCRC32, "CRC32C": c.ChecksumCRC32C, "CRC64NVME": c.ChecksumCRC64NVME,
		"SHA1": c.ChecksumSHA1, "SHA256": c.ChecksumSHA256} {
		if v != "" {
			m[alg] = v
		}
	}
	return m
}
