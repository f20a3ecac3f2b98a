package server

import (
	"context"
	"errors"
	"fmt"
	"log"
	"path/filepath"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/objstore/fs"
	"github.com/aloft-dev/aloft/internal/s3api"
	"github.com/aloft-dev/aloft/internal/template"
)

// storageRoute opens the object store (DATA/s3), settles the bucket
// notifications a crash left behind and returns the S3 API's route on the
// AWS endpoint. It is listed after the services whose unsigned requests are
// more specific (Lambda's /2015-03-31/…).
func (s *Server) storageRoute(ctx context.Context) (awsapi.Route, error) {
	backend, err := fs.New(fs.Config{Dir: filepath.Join(s.cfg.DataDir, "s3")})
	if err != nil {
		return awsapi.Route{}, fmt.Errorf("server: object store: %w", err)
	}
	s.objects = backend
	if s.notifier, err = s.startNotifications(ctx, backend); err != nil {
		return awsapi.Route{}, err
	}
	svc, err := s3api.New(s3api.Config{Backend: backend, Region: s.cfg.Region, Notifier: s.notifier,
		Notifications: bucketConfigs{s}, ErrorLog: log.New(s.logs.prefixed("s3"), "", 0)})
	if err != nil {
		return awsapi.Route{}, fmt.Errorf("server: S3 API: %w", err)
	}
	return awsapi.Route{SigningName: "s3", Service: svc, Match: svc.Match}, nil
}

// deployBuckets creates the stack's buckets that do not exist yet. Buckets
// and their objects outlive deployments: a redeploy never deletes data.
// Properties aloft does not apply come back as warnings. Their notification
// configurations are applied by deployNotifications, once the functions,
// queues and topics they name are deployed.
func (s *Server) deployBuckets(ctx context.Context, buckets []template.Bucket) ([]string, error) {
	var warnings []string
	for _, b := range buckets {
		if !s3api.ValidBucketName(b.Name) {
			return nil, fmt.Errorf("bucket %s: %q is not a valid S3 bucket name (3-63 characters: a-z, 0-9, '.', '-'); set BucketName", b.LogicalID, b.Name)
		}
		if err := s.objects.CreateBucket(ctx, b.Name); err != nil && !errors.Is(err, objstore.ErrBucketExists) {
			return nil, fmt.Errorf("bucket %s: %w", b.LogicalID, err)
		}
		if len(b.Ignored) > 0 {
			warnings = append(warnings, fmt.Sprintf("bucket %s (%s): %s not applied yet", b.LogicalID, b.Name, strings.Join(b.Ignored, ", ")))
		}
	}
	return warnings, nil
}
