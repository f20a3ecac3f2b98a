package awsapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	sigV4Algorithm = "AWS4-HMAC-SHA256"
	amzDateFormat  = "20060102T150405Z"
	// maxClockSkew is how far a request's signing time may be from aloft's clock, as
	// on AWS.
	maxClockSkew = 15 * time.Minute
	// UnsignedPayload is the X-Amz-Content-Sha256 value of a request whose body is
	// not part of the signature.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// EmptySHA256 is the hex SHA-256 of an empty body.
	EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// Signature is what a SigV4-signed request claims: who signed it, for which scope,
// over which headers. It comes from the Authorization header or, for presigned URLs,
// from the query string.
type Signature struct {
	AccessKeyID   string
	Date          string // yyyymmdd of the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
	Time          time.Time // X-Amz-Date (or Date)
	Presigned     bool
	Expires       time.Duration // presigned only
}

// Scope is the credential scope string, "20260101/us-east-1/lambda/aws4_request".
func (s *Signature) Scope() string {
	return s.Date + "/" + s.Region + "/" + s.Service + "/aws4_request"
}

// parseSignature extracts the claimed signature from r, or returns (nil, nil) when
// the request carries none.
func parseSignature(r *http.Request) (*Signature, error) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		return parseAuthorization(r, auth)
	}
	if r.URL.Query().Get("X-Amz-Algorithm") != "" {
		return parsePresigned(r)
	}
	return nil, nil
}

func parseAuthorization(r *http.Request, auth string) (*Signature, error) {
	rest, ok := strings.CutPrefix(auth, sigV4Algorithm+" ")
	if !ok {
		return nil, fmt.Errorf("unsupported authorization scheme %q; only %s is accepted", strings.SplitN(auth, " ", 2)[0], sigV4Algorithm)
	}
	sig := &Signature{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("malformed authorization component %q", part)
		}
		switch k {
		case "Credential":
			if err := sig.setCredential(v); err != nil {
				return nil, err
			}
		case "SignedHeaders":
			sig.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			sig.Signature = v
		}
	}
	if sig.AccessKeyID == "" || sig.SignedHeaders == nil || sig.Signature == "" {
		return nil, fmt.Errorf("authorization header requires Credential, SignedHeaders and Signature")
	}
	t, err := requestTime(r.Header.Get("X-Amz-Date"), r.Header.Get("Date"))
	if err != nil {
		return nil, err
	}
	sig.Time = t
	return sig, nil
}

func parsePresigned(r *http.Request) (*Signature, error) {
	q := r.URL.Query()
	if alg := q.Get("X-Amz-Algorithm"); alg != sigV4Algorithm {
		return nil, fmt.Errorf("unsupported X-Amz-Algorithm %q", alg)
	}
	sig := &Signature{Presigned: true, Signature: q.Get("X-Amz-Signature")}
	if err := sig.setCredential(q.Get("X-Amz-Credential")); err != nil {
		return nil, err
	}
	sig.SignedHeaders = strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	t, err := requestTime(q.Get("X-Amz-Date"), "")
	if err != nil {
		return nil, err
	}
	sig.Time = t
	secs, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || secs < 1 || secs > 604800 {
		return nil, fmt.Errorf("X-Amz-Expires must be between 1 and 604800 seconds")
	}
	sig.Expires = time.Duration(secs) * time.Second
	return sig, nil
}

func (s *Signature) setCredential(v string) error {
	parts := strings.Split(v, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return fmt.Errorf("malformed credential %q: want AKID/date/region/service/aws4_request", v)
	}
	s.AccessKeyID, s.Date, s.Region, s.Service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func requestTime(amzDate, date string) (time.Time, error) {
	if amzDate != "" {
		t, err := time.Parse(amzDateFormat, amzDate)
		if err != nil {
			return time.Time{}, fmt.Errorf("malformed X-Amz-Date %q", amzDate)
		}
		return t, nil
	}
	if date != "" {
		t, err := http.ParseTime(date)
		if err != nil {
			return time.Time{}, fmt.Errorf("malformed Date %q", date)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("the request has neither X-Amz-Date nor Date")
}

// expectedSignature computes the signature r should carry for sig's scope and
// signed headers, given the secret key and the payload hash (hex SHA-256, or one
// of the literal values such as UNSIGNED-PAYLOAD).
func expectedSignature(r *http.Request, sig *Signature, secret, payloadHash string) string {
	creq := canonicalRequest(r, sig, payloadHash)
	sum := sha256.Sum256([]byte(creq))
	sts := sigV4Algorithm + "\n" + sig.Time.UTC().Format(amzDateFormat) + "\n" + sig.Scope() + "\n" + hex.EncodeToString(sum[:])
	return hex.EncodeToString(hmacSHA256(signingKey(secret, sig), sts))
}

// signingKey derives the SigV4 key for sig's scope.
func signingKey(secret string, sig *Signature) []byte {
	key := hmacSHA256([]byte("AWS4"+secret), sig.Date)
	key = hmacSHA256(key, sig.Region)
	key = hmacSHA256(key, sig.Service)
	return hmacSHA256(key, "aws4_request")
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func canonicalRequest(r *http.Request, sig *Signature, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r, sig.Service))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery, sig.Presigned))
	b.WriteByte('\n')
	for _, h := range sig.SignedHeaders {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(sig.SignedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// canonicalURI is the path exactly as the client sent it, which is what clients
// sign; every service but S3 encodes it once more.
func canonicalURI(r *http.Request, service string) string {
	path := r.RequestURI
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if u, err := url.Parse(path); err == nil && u.IsAbs() {
		path = u.EscapedPath() // absolute-form request target (proxies)
	}
	if path == "" {
		path = "/"
	}
	if service == "s3" {
		return path
	}
	return uriEncode(path, false)
}

func canonicalQuery(raw string, presigned bool) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var pairs []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			dk = k
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			dv = v
		}
		if presigned && dk == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, kv{uriEncode(dk, true), uriEncode(dv, true)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

func canonicalHeaderValue(r *http.Request, name string) string {
	var values []string
	switch name {
	case "host":
		values = []string{r.Host}
	case "content-length":
		if r.ContentLength >= 0 && r.Header.Get("Content-Length") == "" {
			values = []string{strconv.FormatInt(r.ContentLength, 10)}
		} else {
			values = r.Header.Values("Content-Length")
		}
	case "transfer-encoding":
		values = r.TransferEncoding
	default:
		values = r.Header.Values(name)
	}
	trimmed := make([]string, len(values))
	for i, v := range values {
		trimmed[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(trimmed, ",")
}

// uriEncode percent-encodes every byte except the unreserved characters
// (A-Z a-z 0-9 - _ . ~), and '/' unless encodeSlash, as SigV4 specifies.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}
