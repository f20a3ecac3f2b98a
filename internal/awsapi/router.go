// Package awsapi is aloft's AWS-compatible endpoint: it authenticates requests with
// Signature Version 4 and routes each to the service (lambda, and later s3, sqs, sns,
// events) its signature names. Services render their own errors, in the wire shape
// their clients expect, from the Error values this package and they produce.
package awsapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"time"
)

// Service is one AWS service behind the endpoint. ServeHTTP receives only
// authenticated requests; WriteError renders an error in the service's protocol
// (REST-JSON for Lambda, XML for S3, …), including the router's authentication
// errors.
type Service interface {
	http.Handler
	WriteError(w http.ResponseWriter, r *http.Request, err *Error)
}

// Route binds a service to the signing name clients use for it (the third part of
// the credential scope, e.g. "lambda"). Match recognises the service's requests
// when they carry no signature at all, so that even the authentication error comes
// back in the shape the client understands; nil never matches.
type Route struct {
	SigningName string
	Service     Service
	Match       func(*http.Request) bool
}

// CredentialStore finds the secret key of an access key ID.
type CredentialStore interface {
	SecretKey(accessKeyID string) (secret string, ok bool)
}

// Config configures a Router. The zero value of each field is documented.
type Config struct {
	// Credentials holds the key pairs that may sign requests. Required.
	Credentials CredentialStore
	// Routes are the services served. The first route is the fallback for
	// requests nothing else recognises.
	Routes []Route
	// MaxBufferedBody is the largest body the router reads into memory to check a
	// signature that covers it (requests without X-Amz-Content-Sha256). Larger
	// requests get ErrRequestTooLarge. 0 means 6 MiB, Lambda's invoke limit.
	MaxBufferedBody int64
}

// Router authenticates and routes requests to services. It is an http.Handler,
// safe for concurrent use, and holds no state beyond its Config.
type Router struct {
	cfg    Config
	routes map[string]Route
}

// NewRouter returns a Router serving cfg.Routes.
func NewRouter(cfg Config) (*Router, error) {
	if cfg.Credentials == nil {
		return nil, errors.New("awsapi: Config.Credentials is required")
	}
	if len(cfg.Routes) == 0 {
		return nil, errors.New("awsapi: at least one route is required")
	}
	if cfg.MaxBufferedBody == 0 {
		cfg.MaxBufferedBody = 6 << 20
	}
	rt := &Router{cfg: cfg, routes: make(map[string]Route, len(cfg.Routes))}
	for _, r := range cfg.Routes {
		rt.routes[r.SigningName] = r
	}
	return rt, nil
}

type ctxKey struct{}

// AccessKeyFrom returns the access key ID that signed the request whose context
// this is, or "" when called outside the router.
func AccessKeyFrom(ctx context.Context) string {
	s, _ := ctx.Value(ctxKey{}).(string)
	return s
}

// ServeHTTP verifies r's signature and hands it to the service it names.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sig, err := parseSignature(r)
	if err != nil {
		rt.guess(r).Service.WriteError(w, r, &Error{Status: http.StatusBadRequest, Code: CodeIncompleteSignature, Message: err.Error()})
		return
	}
	if sig == nil {
		rt.guess(r).Service.WriteError(w, r, ErrMissingAuthenticationToken)
		return
	}
	route, ok := rt.routes[sig.Service]
	if !ok {
		rt.guess(r).Service.WriteError(w, r, &Error{Status: http.StatusBadRequest, Code: CodeNotImplemented,
			Message: fmt.Sprintf("aloft does not implement the AWS service %q", sig.Service)})
		return
	}
	if e := rt.verify(r, sig); e != nil {
		route.Service.WriteError(w, r, e)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, sig.AccessKeyID))
	route.Service.ServeHTTP(w, r)
}

func (rt *Router) guess(r *http.Request) Route {
	for _, route := range rt.cfg.Routes {
		if route.Match != nil && route.Match(r) {
			return route
		}
	}
	return rt.cfg.Routes[0]
}

// verify checks sig against r, replacing r.Body with one that can be read again
// (buffered) or that fails at EOF when the body does not match its declared hash.
func (rt *Router) verify(r *http.Request, sig *Signature) *Error {
	secret, ok := rt.cfg.Credentials.SecretKey(sig.AccessKeyID)
	if !ok {
		return ErrUnrecognizedClient
	}
	if e := checkTime(sig, time.Now()); e != nil {
		return e
	}
	payloadHash, e := rt.payloadHash(r, sig)
	if e != nil {
		return e
	}
	return checkSignature(r, sig, secret, payloadHash)
}

// Verify checks r's SigV4 signature (header or presigned) against creds
// for a request whose body has already been read into body. It is the
// check the Router makes, for handlers outside it (function URLs with
// AuthType AWS_IAM). It returns the verified signature.
func Verify(r *http.Request, creds CredentialStore, body []byte) (*Signature, *Error) {
	sig, err := parseSignature(r)
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeIncompleteSignature, Message: err.Error()}
	}
	if sig == nil {
		return nil, ErrMissingAuthenticationToken
	}
	secret, ok := creds.SecretKey(sig.AccessKeyID)
	if !ok {
		return nil, ErrUnrecognizedClient
	}
	if e := checkTime(sig, time.Now()); e != nil {
		return nil, e
	}
	sum := sha256.Sum256(body)
	actual := hex.EncodeToString(sum[:])
	payloadHash := actual
	switch declared := r.Header.Get("X-Amz-Content-Sha256"); {
	case declared == UnsignedPayload || (sig.Presigned && declared == ""):
		payloadHash = UnsignedPayload
	case declared != "" && declared != actual:
		return nil, ErrContentSHA256Mismatch
	}
	if e := checkSignature(r, sig, secret, payloadHash); e != nil {
		return nil, e
	}
	return sig, nil
}

// checkTime refuses an expired presigned URL or a signing time too far from
// now.
func checkTime(sig *Signature, now time.Time) *Error {
	if sig.Presigned {
		if now.After(sig.Time.Add(sig.Expires)) {
			return &Error{Status: http.StatusForbidden, Code: CodeInvalidSignature, Reason: ReasonExpired, Message: "Signature expired: the presigned URL has expired"}
		}
	} else if d := now.Sub(sig.Time); d > maxClockSkew || d < -maxClockSkew {
		return &Error{Status: http.StatusForbidden, Code: CodeInvalidSignature, Reason: ReasonClockSkew, Message: fmt.Sprintf(
			"Signature expired: %s is now earlier than %s (%s - 15 min.)",
			sig.Time.UTC().Format(amzDateFormat), now.Add(-maxClockSkew).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat))}
	}
	return nil
}

// checkSignature compares the signature r carries with the one computed
// from the secret.
func checkSignature(r *http.Request, sig *Signature, secret, payloadHash string) *Error {
	want := expectedSignature(r, sig, secret, payloadHash)
	if !hmac.Equal([]byte(want), []byte(sig.Signature)) {
		return &Error{Status: http.StatusForbidden, Code: CodeInvalidSignature, Message: "The request signature we calculated does not match the signature you provided. " +
			"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	}
	if strings.HasPrefix(payloadHash, "STREAMING-") {
		return decodeStreaming(r, payloadHash, sig, secret)
	}
	return nil
}

func (rt *Router) payloadHash(r *http.Request, sig *Signature) (string, *Error) {
	declared := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case sig.Presigned && declared == "":
		return UnsignedPayload, nil
	case declared == UnsignedPayload || strings.HasPrefix(declared, "STREAMING-"):
		return declared, nil
	case declared != "":
		if _, err := hex.DecodeString(declared); err != nil || len(declared) != 64 {
			return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidContentSHA256, Message: "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-… or a hex SHA-256"}
		}
		r.Body = &hashCheckingBody{r: r.Body, h: sha256.New(), want: declared}
		return declared, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, rt.cfg.MaxBufferedBody+1))
	if err != nil {
		return "", &Error{Status: http.StatusBadRequest, Code: CodeIncompleteBody, Message: "reading the request body: " + err.Error()}
	}
	if int64(len(body)) > rt.cfg.MaxBufferedBody {
		return "", &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeRequestTooLarge, Limit: rt.cfg.MaxBufferedBody,
			Message: fmt.Sprintf("Request must be smaller than %d bytes", rt.cfg.MaxBufferedBody)}
	}
	if err := r.Body.Close(); err != nil {
		return "", &Error{Status: http.StatusBadRequest, Code: CodeIncompleteBody, Message: "reading the request body: " + err.Error()}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:]), nil
}

// hashCheckingBody passes a body through and, at its end, fails with
// ErrContentSHA256Mismatch when it does not hash to the value the client signed.
type hashCheckingBody struct {
	r    io.ReadCloser
	h    hash.Hash
	want string
}

func (b *hashCheckingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	if err == io.EOF && hex.EncodeToString(b.h.Sum(nil)) != b.want {
		return n, ErrContentSHA256Mismatch
	}
	return n, err
}

func (b *hashCheckingBody) Close() error { return b.r.Close() }
