package template

import (
	"reflect"
	"testing"
)

func TestBucketNotifications(t *testing.T) {
	stack, err := Parse("template.yaml", []byte(`
Transform: AWS::Serverless-2016-10-31
Resources:
  Uploads:
    Type: AWS::S3::Bucket
    Properties:
      VersioningConfiguration: {Status: Enabled}
      NotificationConfiguration:
        QueueConfigurations:
          - Event: s3:ObjectRemoved:*
            Queue: arn:aws:sqs:us-east-1:000000000000:removed
        EventBridgeConfiguration: {EventBridgeEnabled: true}
  Thumb:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: bootstrap
      Runtime: provided.al2023
      Events:
        Up:
          Type: S3
          Properties:
            Bucket: !Ref Uploads
            Events: s3:ObjectCreated:*
            Filter: {S3Key: {Rules: [{Name: prefix, Value: in/}, {Name: suffix, Value: .jpg}]}}
`), t.TempDir(), Options{StackName: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	buckets, err := stack.Buckets()
	if err != nil {
		t.Fatal(err)
	}
	want := []Bucket{{
		LogicalID: "Uploads", Name: "demo-uploads",
		Notifications: []Notification{
			{Event: "s3:ObjectCreated:*", Prefix: "in/", Suffix: ".jpg", Kind: "lambda", Target: "arn:aws:lambda:us-east-1:000000000000:function:Thumb"},
			{Event: "s3:ObjectRemoved:*", Kind: "sqs", Target: "arn:aws:sqs:us-east-1:000000000000:removed"},
		},
		Ignored: []string{"NotificationConfiguration.EventBridgeConfiguration", "VersioningConfiguration"},
	}}
	if !reflect.DeepEqual(buckets, want) {
		t.Fatalf("Buckets() =\n%+v\nwant\n%+v", buckets, want)
	}
}
