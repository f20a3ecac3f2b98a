package s3api

import (
	"encoding/xml"
	"net/http"
	"net/url"
)

// Buckets in aloft have none of S3's optional configurations (tags, CORS,
// lifecycle, policies, …) and cannot be given any yet. Reading one answers
// what S3 answers for a bucket where it was never set, which is true here and
// lets tools that read every configuration (infrastructure-as-code
// refreshes, `aws s3api get-bucket-*`) work; setting one stays NotImplemented.

// notConfigured are the bucket configurations whose absence S3 reports as an
// error, by subresource.
var notConfigured = map[string]struct{ code, msg string }{
	"tagging":           {"NoSuchTagSet", "The TagSet does not exist"},
	"cors":              {"NoSuchCORSConfiguration", "The CORS configuration does not exist"},
	"website":           {"NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration"},
	"lifecycle":         {"NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"},
	"policy":            {"NoSuchBucketPolicy", "The bucket policy does not exist"},
	"encryption":        {"ServerSideEncryptionConfigurationNotFoundError", "The server side encryption configuration was not found"},
	"replication":       {"ReplicationConfigurationNotFoundError", "The replication configuration was not found"},
	"object-lock":       {"ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket"},
	"ownershipControls": {"OwnershipControlsNotFoundError", "The bucket ownership controls were not found"},
	"publicAccessBlock": {"NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found"},
}

type emptyConfig struct {
	XMLName xml.Name
	NS      string `xml:"xmlns,attr"`
	Payer   string `xml:"Payer,omitempty"`
}

type grant struct {
	Grantee struct {
		XMLNS       string `xml:"xmlns:xsi,attr"`
		Type        string `xml:"xsi:type,attr"`
		ID          string `xml:"ID"`
		DisplayName string `xml:"DisplayName"`
	} `xml:"Grantee"`
	Permission string `xml:"Permission"`
}

type accessControlPolicy struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	NS      string   `xml:"xmlns,attr"`
	Owner   owner    `xml:"Owner"`
	Grants  []grant  `xml:"AccessControlList>Grant"`
}

type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	NS      string   `xml:"xmlns,attr"`
	TagSet  struct{} `xml:"TagSet"`
}

// readConfiguration answers a GET of a configuration subresource that aloft
// never holds, and reports whether it did.
func (s *Service) readConfiguration(w http.ResponseWriter, r *http.Request, bucket, key string, q url.Values) (bool, error) {
	if r.Method != http.MethodGet || bucket == "" {
		return false, nil
	}
	sub := ""
	for _, name := range []string{"versioning", "accelerate", "requestPayment", "logging", "acl", "tagging", "versions"} {
		if q.Has(name) {
			sub = name
		}
	}
	if key == "" {
		for name := range notConfigured {
			if q.Has(name) {
				sub = name
			}
		}
	}
	if sub == "" || key != "" && sub != "acl" && sub != "tagging" {
		return false, nil
	}
	if key != "" {
		if _, err := s.cfg.Backend.HeadObject(r.Context(), bucket, key); err != nil {
			return true, err
		}
	} else if _, err := s.cfg.Backend.HeadBucket(r.Context(), bucket); err != nil {
		return true, err
	}
	if key == "" {
		if nc, ok := notConfigured[sub]; ok {
			return true, s3Error(http.StatusNotFound, nc.code, nc.msg)
		}
	}
	switch sub {
	case "versions":
		return true, s.listObjectVersions(w, r, bucket, q)
	case "acl":
		o := ownerOf(r)
		g := grant{Permission: "FULL_CONTROL"}
		g.Grantee.XMLNS, g.Grantee.Type = "http://www.w3.org/2001/XMLSchema-instance", "CanonicalUser"
		g.Grantee.ID, g.Grantee.DisplayName = o.ID, o.DisplayName
		writeXML(w, accessControlPolicy{NS: xmlNS, Owner: o, Grants: []grant{g}})
	case "tagging":
		writeXML(w, tagging{NS: xmlNS})
	case "versioning":
		writeXML(w, emptyConfig{XMLName: xml.Name{Local: "VersioningConfiguration"}, NS: xmlNS})
	case "accelerate":
		writeXML(w, emptyConfig{XMLName: xml.Name{Local: "AccelerateConfiguration"}, NS: xmlNS})
	case "requestPayment":
		writeXML(w, emptyConfig{XMLName: xml.Name{Local: "RequestPaymentConfiguration"}, NS: xmlNS, Payer: "BucketOwner"})
	case "logging":
		writeXML(w, emptyConfig{XMLName: xml.Name{Local: "BucketLoggingStatus"}, NS: xmlNS})
	}
	return true, nil
}

type versionXML struct {
	Key          string `xml:"Key"`
	VersionID    string `xml:"VersionId"`
	IsLatest     bool   `xml:"IsLatest"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
	Owner        owner  `xml:"Owner"`
}

type listVersionsResult struct {
	XMLName             xml.Name     `xml:"ListVersionsResult"`
	NS                  string       `xml:"xmlns,attr"`
	Name                string       `xml:"Name"`
	Prefix              string       `xml:"Prefix"`
	KeyMarker           string       `xml:"KeyMarker"`
	VersionIDMarker     string       `xml:"VersionIdMarker"`
	NextKeyMarker       string       `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string       `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int          `xml:"MaxKeys"`
	Delimiter           string       `xml:"Delimiter,omitempty"`
	EncodingType        string       `xml:"EncodingType,omitempty"`
	IsTruncated         bool         `xml:"IsTruncated"`
	Versions            []versionXML `xml:"Version"`
	CommonPrefixes      []prefixXML  `xml:"CommonPrefixes"`
}

// listObjectVersions lists a bucket that never had versioning: one version,
// "null", of each object, as S3 lists such a bucket.
func (s *Service) listObjectVersions(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) error {
	l, err := parseListing(q)
	if err != nil {
		return err
	}
	page, next, err := s.list(r, bucket, l, q.Get("key-marker"), true)
	if err != nil {
		return err
	}
	res := listVersionsResult{NS: xmlNS, Name: bucket, Prefix: page.Prefix, KeyMarker: l.enc(q.Get("key-marker")),
		VersionIDMarker: q.Get("version-id-marker"), MaxKeys: page.MaxKeys, Delimiter: page.Delimiter,
		EncodingType: page.EncodingType, IsTruncated: page.IsTruncated, CommonPrefixes: page.CommonPrefixes}
	for _, o := range page.Contents {
		res.Versions = append(res.Versions, versionXML{Key: o.Key, VersionID: "null", IsLatest: true, LastModified: o.LastModified,
			ETag: o.ETag, Size: o.Size, StorageClass: o.StorageClass, Owner: *o.Owner})
	}
	if res.IsTruncated {
		res.NextKeyMarker, res.NextVersionIDMarker = l.enc(next), "null"
	}
	writeXML(w, res)
	return nil
}
