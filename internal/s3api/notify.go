package s3api

import (
	"context"
	"net"
	"net/http"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/s3notify"
)

// begin records, before a write or delete commits, that its bucket
// notifications are due (nil when there is no notifier or no rule matches).
// A failure refuses the request: a write must never commit unannounced.
func (s *Service) begin(w http.ResponseWriter, r *http.Request, bucket, key, event string) (*s3notify.Intent, error) {
	if s.cfg.Notifier == nil {
		return nil, nil
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return s.cfg.Notifier.Begin(r.Context(), s3notify.Write{
		Bucket: bucket, Key: key, Event: event, RequestID: requestID(w),
		Principal: awsapi.AccessKeyFrom(r.Context()), SourceIP: ip,
	})
}

// settle commits or aborts an intent once the write's outcome is known. The
// notification goes out even if the client has gone; when it cannot, the
// intent stays on the backbone for s3notify's Reconcile.
func (s *Service) settle(r *http.Request, in *s3notify.Intent, info objstore.ObjectInfo, writeErr error) {
	ctx := context.WithoutCancel(r.Context())
	var err error
	if writeErr != nil {
		err = in.Abort(ctx)
	} else {
		err = in.Commit(ctx, info)
	}
	if err != nil && s.cfg.ErrorLog != nil {
		s.cfg.ErrorLog.Printf("s3: %s %s: notification: %v", r.Method, r.URL.Path, err)
	}
}

// seals runs several Seal hooks in order.
func seals(fns ...func(*objstore.ObjectInfo) error) func(*objstore.ObjectInfo) error {
	return func(info *objstore.ObjectInfo) error {
		for _, f := range fns {
			if err := f(info); err != nil {
				return err
			}
		}
		return nil
	}
}
