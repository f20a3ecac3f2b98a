package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/objstore"
)

// S3's error catalogue: every error this API answers comes from here, with
// S3's code, status and message
// (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
var (
	errAccessDenied          = s3Error(http.StatusForbidden, "AccessDenied", "Access Denied")
	errRequestExpired        = s3Error(http.StatusForbidden, "AccessDenied", "Request has expired")
	errSignatureDoesNotMatch = s3Error(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	errInvalidAccessKeyID    = s3Error(http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
	errRequestTimeTooSkewed  = s3Error(http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
	errBucketAlreadyOwned    = s3Error(http.StatusConflict, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.")
	errBucketNotEmpty        = s3Error(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty")
	errNoSuchBucket          = s3Error(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
	errNoSuchKey             = s3Error(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	errNoSuchUpload          = s3Error(http.StatusNotFound, "NoSuchUpload", "The specified multipart upload does not exist. The upload ID might not be valid, or the multipart upload might have been aborted or completed.")
	errInvalidPart           = s3Error(http.StatusBadRequest, "InvalidPart", "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.")
	errInvalidPartOrder      = s3Error(http.StatusBadRequest, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
	errEntityTooSmall        = s3Error(http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.")
	errInvalidPartNumber     = s3Error(http.StatusRequestedRangeNotSatisfiable, "InvalidPartNumber", "The requested partnumber is not satisfiable")
	errInvalidRange          = s3Error(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
	errKeyTooLong            = s3Error(http.StatusBadRequest, "KeyTooLongError", "Your key is too long")
	errInvalidBucketName     = s3Error(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.")
	errPreconditionFailed    = s3Error(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	errNotModified           = s3Error(http.StatusNotModified, "NotModified", "Not Modified")
	errBadDigest             = s3Error(http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.")
	errInvalidDigest         = s3Error(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified is not valid.")
	errMalformedXML          = s3Error(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
	errMethodNotAllowed      = s3Error(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	errMetadataTooLarge      = s3Error(http.StatusBadRequest, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.")
	errMissingContentLength  = s3Error(http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.")
	errCORSNotEnabled        = s3Error(http.StatusForbidden, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.")
	errInternal              = s3Error(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
)

func s3Error(status int, code, msg string) *awsapi.Error {
	return &awsapi.Error{Status: status, Code: code, Message: msg}
}

func withMessage(e *awsapi.Error, msg string) *awsapi.Error {
	c := *e
	c.Message = msg
	return &c
}

func errInvalidArgument(msg string) *awsapi.Error {
	return s3Error(http.StatusBadRequest, "InvalidArgument", msg)
}

func errInvalidRequest(msg string) *awsapi.Error {
	return s3Error(http.StatusBadRequest, "InvalidRequest", msg)
}

func errNotImplemented(what string) *awsapi.Error {
	return s3Error(http.StatusNotImplemented, "NotImplemented", "aloft does not implement "+what)
}

// routerCodes maps the codes awsapi's router and decoders produce (named as
// the JSON services name them) to S3's.
var routerCodes = map[string]*awsapi.Error{
	awsapi.CodeMissingAuthenticationToken: errAccessDenied,
	awsapi.CodeIncompleteSignature:        s3Error(http.StatusBadRequest, "AuthorizationHeaderMalformed", ""),
	awsapi.CodeInvalidSignature:           errSignatureDoesNotMatch,
	awsapi.CodeUnrecognizedClient:         errInvalidAccessKeyID,
	awsapi.CodeInvalidContentSHA256:       s3Error(http.StatusBadRequest, "InvalidArgument", ""),
	awsapi.CodeContentSHA256Mismatch:      s3Error(http.StatusBadRequest, "XAmzContentSHA256Mismatch", ""),
	awsapi.CodeIncompleteBody:             s3Error(http.StatusBadRequest, "IncompleteBody", ""),
	awsapi.CodeRequestTooLarge:            s3Error(http.StatusBadRequest, "EntityTooLarge", ""),
	awsapi.CodeNotImplemented:             s3Error(http.StatusNotImplemented, "NotImplemented", ""),
	awsapi.CodeServiceException:           errInternal,
}

// toS3 turns any error into one of S3's: router errors by code, backend
// sentinels by identity, anything else InternalError.
func toS3(err error) *awsapi.Error {
	var e *awsapi.Error
	if errors.As(err, &e) {
		switch {
		case e.Reason == awsapi.ReasonExpired:
			return errRequestExpired
		case e.Reason == awsapi.ReasonClockSkew:
			return withMessage(errRequestTimeTooSkewed, e.Message)
		}
		if m, ok := routerCodes[e.Code]; ok {
			if m.Message == "" || e.Code == awsapi.CodeServiceException {
				msg := e.Message
				if e.Code == awsapi.CodeServiceException {
					msg = errInternal.Message
				}
				return withMessage(m, msg)
			}
			return m
		}
		return e
	}
	for _, s := range []struct {
		sentinel error
		e        *awsapi.Error
	}{
		{objstore.ErrNoSuchBucket, errNoSuchBucket},
		{objstore.ErrBucketExists, errBucketAlreadyOwned},
		{objstore.ErrBucketNotEmpty, errBucketNotEmpty},
		{objstore.ErrNoSuchKey, errNoSuchKey},
		{objstore.ErrNoSuchUpload, errNoSuchUpload},
		{objstore.ErrInvalidPartList, errInvalidPartOrder},
		{objstore.ErrInvalidPart, errInvalidPart},
		{objstore.ErrEntityTooSmall, errEntityTooSmall},
		{objstore.ErrInvalidRange, errInvalidRange},
		{objstore.ErrKeyTooLong, errKeyTooLong},
		{objstore.ErrPreconditionFailed, errPreconditionFailed},
	} {
		if errors.Is(err, s.sentinel) {
			return s.e
		}
	}
	return errInternal
}

// errorBody is S3's XML error document.
type errorBody struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	BucketName string   `xml:"BucketName,omitempty"`
	Key        string   `xml:"Key,omitempty"`
	Resource   string   `xml:"Resource,omitempty"`
	RequestID  string   `xml:"RequestId"`
	HostID     string   `xml:"HostId"`
}
