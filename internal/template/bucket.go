package template

import "sort"

// Bucket is an AWS::S3::Bucket of the stack.
type Bucket struct {
	LogicalID string
	// Name is BucketName, or the name generated for the stack
	// ("{stack}-{logicalid}", lower case) when the template sets none.
	Name string
	// Ignored lists the bucket's properties aloft does not apply yet.
	Ignored []string
}

// Buckets returns the stack's buckets, sorted by logical ID.
func (s *Stack) Buckets() []Bucket {
	var out []Bucket
	for id, r := range s.Resources {
		if r.Type != "AWS::S3::Bucket" {
			continue
		}
		b := Bucket{LogicalID: id, Name: r.PhysicalID}
		for prop := range r.Properties {
			if prop != "BucketName" {
				b.Ignored = append(b.Ignored, prop)
			}
		}
		sort.Strings(b.Ignored)
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LogicalID < out[j].LogicalID })
	return out
}
