package template

import (
	"fmt"
	"sort"
	"strings"
)

// Bucket is an AWS::S3::Bucket of the stack.
type Bucket struct {
	LogicalID string
	// Name is BucketName, or the name generated for the stack
	// ("{stack}-{logicalid}", lower case) when the template sets none.
	Name string
	// Notifications are the bucket's NotificationConfiguration entries
	// (Lambda, Queue and Topic configurations, in that order), including
	// those the SAM transform adds for S3 events on functions.
	Notifications []Notification
	// Ignored lists the bucket's properties aloft does not apply yet
	// ("VersioningConfiguration", "NotificationConfiguration.EventBridgeConfiguration", …).
	Ignored []string
}

// Notification sends events of one kind, for keys matching Prefix and
// Suffix, to one target.
type Notification struct {
	// Event is an S3 event type pattern, e.g. "s3:ObjectCreated:*".
	Event string
	// Prefix and Suffix filter keys (Filter.S3Key.Rules); "" matches all.
	Prefix, Suffix string
	// Kind is "lambda", "sqs" or "sns"; Target the function, queue or topic
	// ARN.
	Kind, Target string
}

// notificationKinds maps a NotificationConfiguration list to its kind and
// the property naming its target.
var notificationKinds = []struct{ list, kind, target string }{
	{"LambdaConfigurations", "lambda", "Function"},
	{"QueueConfigurations", "sqs", "Queue"},
	{"TopicConfigurations", "sns", "Topic"},
}

// Buckets returns the stack's buckets, sorted by logical ID. Malformed
// notification entries are an error naming the bucket.
func (s *Stack) Buckets() ([]Bucket, error) {
	var out []Bucket
	for id, r := range s.Resources {
		if r.Type != "AWS::S3::Bucket" {
			continue
		}
		b := Bucket{LogicalID: id, Name: r.PhysicalID}
		for prop, v := range r.Properties {
			switch prop {
			case "BucketName":
			case "NotificationConfiguration":
				if err := b.notifications(v); err != nil {
					return nil, fmt.Errorf("bucket %s: NotificationConfiguration: %w", id, err)
				}
			default:
				b.Ignored = append(b.Ignored, prop)
			}
		}
		sort.Strings(b.Ignored)
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LogicalID < out[j].LogicalID })
	return out, nil
}

func (b *Bucket) notifications(v any) error {
	nc, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("want a map, found %T", v)
	}
	known := map[string]bool{}
	for _, k := range notificationKinds {
		known[k.list] = true
		list, ok := nc[k.list]
		if !ok {
			continue
		}
		items, ok := list.([]any)
		if !ok {
			return fmt.Errorf("%s: want a list, found %T", k.list, list)
		}
		for i, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				return fmt.Errorf("%s[%d]: want a map, found %T", k.list, i, it)
			}
			n := Notification{Kind: k.kind}
			n.Event, _ = m["Event"].(string)
			n.Target, _ = m[k.target].(string)
			if n.Event == "" || n.Target == "" {
				return fmt.Errorf("%s[%d]: Event and %s are required", k.list, i, k.target)
			}
			if err := n.filter(m["Filter"]); err != nil {
				return fmt.Errorf("%s[%d]: %w", k.list, i, err)
			}
			b.Notifications = append(b.Notifications, n)
		}
	}
	for k := range nc {
		if !known[k] {
			b.Ignored = append(b.Ignored, "NotificationConfiguration."+k)
		}
	}
	return nil
}

func (n *Notification) filter(v any) error {
	if v == nil {
		return nil
	}
	f, _ := v.(map[string]any)
	s3key, _ := f["S3Key"].(map[string]any)
	rules, ok := s3key["Rules"].([]any)
	if !ok {
		return fmt.Errorf("Filter: want S3Key.Rules, a list")
	}
	for _, r := range rules {
		m, _ := r.(map[string]any)
		name, _ := m["Name"].(string)
		value, _ := m["Value"].(string)
		switch strings.ToLower(name) {
		case "prefix":
			n.Prefix = value
		case "suffix":
			n.Suffix = value
		default:
			return fmt.Errorf("Filter rule Name %q: want prefix or suffix", name)
		}
	}
	return nil
}
