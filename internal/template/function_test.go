package template

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

const functionsTemplate = `Transform: AWS::Serverless-2016-10-31
Resources:
  Deps:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/deps
  Defaults:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/defaults
      Handler: app.handler
      Runtime: python3.12
  Tuned:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: go1.x
      BuildProperties:
        TrimGoPath: true
    Properties:
      FunctionName: tuned-fn
      CodeUri: ../shared/tuned.zip
      Handler: bootstrap
      Runtime: provided.al2023
      Description: tuned
      MemorySize: "1024"
      Timeout: "30"
      ReservedConcurrentExecutions: 0
      Architectures: [arm64]
      Layers:
        - !Ref Deps
        - arn:aws:lambda:us-east-1:123456789012:layer:other:2
      Environment:
        Variables:
          COUNT: 3
          DEBUG: true
          NAME: tuned
  Inline:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def handler(e, c): return 1"
      Handler: index.handler
      Runtime: python3.12
  Image:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      ImageUri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest
  Queue:
    Type: AWS::SQS::Queue
`

func TestFunctions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(path, []byte(functionsTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fns, err := st.Functions()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range fns {
		ids = append(ids, f.LogicalID)
	}
	if want := []string{"Defaults", "Image", "Inline", "Tuned"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("functions %v, want %v (sorted, Lambda functions only)", ids, want)
	}

	byID := map[string]Function{}
	for _, f := range fns {
		f.Pos = Pos{}
		byID[f.LogicalID] = f
	}
	x86 := []string{"x86_64"}
	zero := 0
	want := map[string]Function{
		"Defaults": {
			LogicalID: "Defaults", Name: "Defaults", ARN: "arn:aws:lambda:us-east-1:000000000000:function:Defaults",
			Runtime: "python3.12", Handler: "app.handler", CodePath: filepath.Join(dir, "src", "defaults"),
			PackageType: "Zip", MemorySize: 128, Timeout: 3, Architectures: x86,
		},
		"Tuned": {
			LogicalID: "Tuned", Name: "tuned-fn", ARN: "arn:aws:lambda:us-east-1:000000000000:function:tuned-fn",
			Runtime: "provided.al2023", Handler: "bootstrap", CodePath: filepath.Join(filepath.Dir(dir), "shared", "tuned.zip"),
			PackageType: "Zip", MemorySize: 1024, Timeout: 30, ReservedConcurrency: &zero,
			Environment:   map[string]string{"COUNT": "3", "DEBUG": "true", "NAME": "tuned"},
			Architectures: []string{"arm64"},
			Layers:        []string{"Deps", "arn:aws:lambda:us-east-1:123456789012:layer:other:2"},
			BuildMethod:   "go1.x", BuildProperties: map[string]any{"TrimGoPath": true},
			Description: "tuned",
		},
		"Inline": {
			LogicalID: "Inline", Name: "Inline", ARN: "arn:aws:lambda:us-east-1:000000000000:function:Inline",
			Runtime: "python3.12", Handler: "index.handler", InlineCode: "def handler(e, c): return 1",
			PackageType: "Zip", MemorySize: 128, Timeout: 3, Architectures: x86,
		},
		"Image": {
			LogicalID: "Image", Name: "Image", ARN: "arn:aws:lambda:us-east-1:000000000000:function:Image",
			PackageType: "Image", ImageURI: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest",
			MemorySize: 128, Timeout: 3, Architectures: x86,
		},
	}
	for id, w := range want {
		if got := byID[id]; !reflect.DeepEqual(got, w) {
			t.Errorf("%s:\n got %+v\nwant %+v", id, got, w)
		}
	}
	if !filepath.IsAbs(byID["Defaults"].CodePath) {
		t.Errorf("CodePath %q is not absolute", byID["Defaults"].CodePath)
	}

	f, ok := st.Function("tuned-fn")
	if !ok || f.LogicalID != "Tuned" {
		t.Errorf("Function(tuned-fn) = %q, %v; want Tuned", f.LogicalID, ok)
	}
	if f.Pos != (Pos{File: path, Line: 13, Column: 3}) {
		t.Errorf("Tuned at %v, want %s:13:3", f.Pos, path)
	}
	if _, ok := st.Function("Queue"); ok {
		t.Errorf("Function(Queue) found a queue")
	}
	if _, ok := st.Function("Nope"); ok {
		t.Errorf("Function(Nope) found something")
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), Options{}); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
}

func TestStackIdentity(t *testing.T) {
	st, err := Parse("t.yaml", []byte("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n"), "", Options{StackName: "s", Region: "cn-north-1", AccountID: "111111111111"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "s" || st.Region != "cn-north-1" || st.AccountID != "111111111111" || st.Partition != "aws-cn" {
		t.Errorf("stack identity %+v", st)
	}
	if got, want := st.Resources["Q"].Attrs["Arn"], "arn:aws-cn:sqs:cn-north-1:111111111111:Q"; got != want {
		t.Errorf("queue ARN %q, want %q", got, want)
	}
}
