package s3api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/s3notify"
)

// NotificationConfigs keeps buckets' notification configurations, for
// PutBucketNotificationConfiguration and GetBucketNotificationConfiguration.
// A bucket's configuration is a list of rules, one per event of each
// configuration (they share the configuration's ID).
type NotificationConfigs interface {
	// BucketNotifications returns a bucket's rules; none is an empty list.
	BucketNotifications(ctx context.Context, bucket string) ([]s3notify.Rule, error)
	// SetBucketNotifications replaces a bucket's rules (nil removes them).
	// It returns an error wrapping ErrInvalidDestination when a target does
	// not exist.
	SetBucketNotifications(ctx context.Context, bucket string, rules []s3notify.Rule) error
}

// ErrInvalidDestination is what NotificationConfigs.SetBucketNotifications
// returns (wrapped) for a function, queue or topic that does not exist; S3
// answers it with InvalidArgument.
var ErrInvalidDestination = errors.New("unable to validate the following destination configurations")

// notificationEvents are the event types S3 accepts in a configuration.
// aloft produces the ObjectCreated (Put, Copy, CompleteMultipartUpload) and
// ObjectRemoved:Delete events; the others are accepted, as S3 accepts them,
// and never occur.
var notificationEvents = map[string]bool{
	"s3:ObjectCreated:*": true, "s3:ObjectCreated:Put": true, "s3:ObjectCreated:Post": true,
	"s3:ObjectCreated:Copy": true, "s3:ObjectCreated:CompleteMultipartUpload": true,
	"s3:ObjectRemoved:*": true, "s3:ObjectRemoved:Delete": true, "s3:ObjectRemoved:DeleteMarkerCreated": true,
	"s3:ObjectRestore:*": true, "s3:ObjectRestore:Post": true, "s3:ObjectRestore:Completed": true, "s3:ObjectRestore:Delete": true,
	"s3:ReducedRedundancyLostObject": true, "s3:Replication:*": true, "s3:LifecycleExpiration:*": true,
	"s3:LifecycleExpiration:Delete": true, "s3:LifecycleExpiration:DeleteMarkerCreated": true, "s3:LifecycleTransition": true,
	"s3:IntelligentTiering": true, "s3:ObjectTagging:*": true, "s3:ObjectTagging:Put": true, "s3:ObjectTagging:Delete": true,
	"s3:ObjectAcl:Put": true,
}

type filterRuleXML struct {
	Name  string `xml:"Name"`
	Value string `xml:"Value"`
}

type filterXML struct {
	Rules []filterRuleXML `xml:"S3Key>FilterRule"`
}

// targetConfigXML is a Topic, Queue or CloudFunction configuration; Target
// is filled from the element named for its kind.
type targetConfigXML struct {
	ID            string     `xml:"Id,omitempty"`
	Topic         string     `xml:"Topic,omitempty"`
	Queue         string     `xml:"Queue,omitempty"`
	CloudFunction string     `xml:"CloudFunction,omitempty"`
	Events        []string   `xml:"Event"`
	Filter        *filterXML `xml:"Filter,omitempty"`
}

type notificationConfigXML struct {
	XMLName     xml.Name          `xml:"NotificationConfiguration"`
	NS          string            `xml:"xmlns,attr,omitempty"`
	Topics      []targetConfigXML `xml:"TopicConfiguration"`
	Queues      []targetConfigXML `xml:"QueueConfiguration"`
	Functions   []targetConfigXML `xml:"CloudFunctionConfiguration"`
	EventBridge *struct{}         `xml:"EventBridgeConfiguration"`
}

// bucketNotification serves GET and PUT ?notification on a bucket.
func (s *Service) bucketNotification(w http.ResponseWriter, r *http.Request, bucket string) error {
	if _, err := s.cfg.Backend.HeadBucket(r.Context(), bucket); err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet:
		rules, err := s.cfg.Notifications.BucketNotifications(r.Context(), bucket)
		if err != nil {
			return err
		}
		writeXML(w, configOf(rules))
		return nil
	case http.MethodPut:
		var c notificationConfigXML
		if err := readXML(r, &c); err != nil {
			return err
		}
		rules, err := rulesOf(c)
		if err != nil {
			return err
		}
		err = s.cfg.Notifications.SetBucketNotifications(r.Context(), bucket, rules)
		if errors.Is(err, ErrInvalidDestination) {
			return errInvalidArgument("Unable to validate the following destination configurations")
		}
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	return errMethodNotAllowed
}

// rulesOf validates a configuration and turns it into rules.
func rulesOf(c notificationConfigXML) ([]s3notify.Rule, error) {
	if c.EventBridge != nil {
		return nil, errNotImplemented("EventBridgeConfiguration in bucket notifications")
	}
	var rules []s3notify.Rule
	ids := map[string]bool{}
	for _, k := range []struct {
		kind    string
		configs []targetConfigXML
		arn     func(targetConfigXML) string
	}{
		{"lambda", c.Functions, func(t targetConfigXML) string { return t.CloudFunction }},
		{"sqs", c.Queues, func(t targetConfigXML) string { return t.Queue }},
		{"sns", c.Topics, func(t targetConfigXML) string { return t.Topic }},
	} {
		for _, tc := range k.configs {
			arn := k.arn(tc)
			if arn == "" || len(tc.Events) == 0 {
				return nil, errMalformedXML
			}
			var prefix, suffix string
			seen := map[string]bool{}
			if tc.Filter != nil {
				for _, fr := range tc.Filter.Rules {
					name := strings.ToLower(fr.Name)
					if (name != "prefix" && name != "suffix") || seen[name] {
						return nil, errInvalidArgument("filter rule name must be either prefix or suffix, once each")
					}
					seen[name] = true
					if name == "prefix" {
						prefix = fr.Value
					} else {
						suffix = fr.Value
					}
				}
			}
			id := tc.ID
			if id == "" {
				sum := sha256.Sum256([]byte(k.kind + "\x00" + arn + "\x00" + strings.Join(tc.Events, ",") + "\x00" + prefix + "\x00" + suffix))
				id = "aloft-" + hex.EncodeToString(sum[:8])
			}
			if ids[id] {
				return nil, errInvalidArgument("Configurations must have unique IDs")
			}
			ids[id] = true
			for _, ev := range tc.Events {
				if !notificationEvents[ev] {
					return nil, errInvalidArgument("The event is not supported for notifications: " + ev)
				}
				rules = append(rules, s3notify.Rule{ID: id, Event: ev, Prefix: prefix, Suffix: suffix,
					Target: s3notify.Target{Kind: k.kind, ARN: arn}})
			}
		}
	}
	return rules, nil
}

// configOf groups rules back into configurations: rules sharing an ID,
// target and filter are one configuration with several events.
func configOf(rules []s3notify.Rule) notificationConfigXML {
	c := notificationConfigXML{NS: xmlNS}
	index := map[string]*targetConfigXML{}
	type slot struct {
		kind string
		tc   *targetConfigXML
	}
	var order []slot
	for _, r := range rules {
		id := r.ConfigurationID()
		k := id + "\x00" + r.Target.Kind + "\x00" + r.Target.ARN + "\x00" + r.Prefix + "\x00" + r.Suffix
		if tc, ok := index[k]; ok {
			tc.Events = append(tc.Events, r.Event)
			continue
		}
		tc := &targetConfigXML{ID: id, Events: []string{r.Event}}
		switch r.Target.Kind {
		case "lambda":
			tc.CloudFunction = r.Target.ARN
		case "sqs":
			tc.Queue = r.Target.ARN
		case "sns":
			tc.Topic = r.Target.ARN
		}
		var f filterXML
		if r.Prefix != "" {
			f.Rules = append(f.Rules, filterRuleXML{"Prefix", r.Prefix})
		}
		if r.Suffix != "" {
			f.Rules = append(f.Rules, filterRuleXML{"Suffix", r.Suffix})
		}
		if len(f.Rules) > 0 {
			tc.Filter = &f
		}
		index[k] = tc
		order = append(order, slot{r.Target.Kind, tc})
	}
	for _, sl := range order {
		switch sl.kind {
		case "lambda":
			c.Functions = append(c.Functions, *sl.tc)
		case "sqs":
			c.Queues = append(c.Queues, *sl.tc)
		case "sns":
			c.Topics = append(c.Topics, *sl.tc)
		}
	}
	return c
}
