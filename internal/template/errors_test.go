package template

import (
	"errors"
	"strings"
	"testing"
)

// fnProps is a valid function body for templates that only need one.
const fnProps = `
      Code: .
      Handler: h
      Runtime: python3.12
`

func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		template string
		params   map[string]string
		want     string
	}{
		{
			name: "unknown Ref",
			template: `Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:` + fnProps + `      Role: !Ref Missing
`,
			want: `template.yaml:8:13: resource Fn: Ref: unknown resource or parameter "Missing"`,
		},
		{
			name: "unknown GetAtt target",
			template: `Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:` + fnProps + `      Role: !GetAtt Helo.Arn
`,
			want: `template.yaml:8:13: resource Fn: Fn::GetAtt: unknown resource "Helo"`,
		},
		{
			name: "unknown GetAtt target in long form",
			template: `Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:` + fnProps + `      Role:
        Fn::GetAtt: [Helo, Arn]
`,
			want: `template.yaml:9:9: resource Fn: Fn::GetAtt: unknown resource "Helo"`,
		},
		{
			name: "unknown name in Sub",
			template: `Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:` + fnProps + `      Role: !Sub "arn:${AWS::Partition}:iam::${Acount}:role/x"
`,
			want: `template.yaml:8:13: resource Fn: Fn::Sub: unknown resource or parameter "Acount"`,
		},
		{
			name: "unknown tag",
			template: `Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Role: !Reff Missing
`,
			want: `template.yaml:5:13: unknown tag !Reff`,
		},
		{
			name: "bad YAML",
			template: `Resources:
  Fn:
    Type: AWS::Lambda::Function
   Properties: {}
`,
			want: `template.yaml:4: invalid YAML: did not find expected key`,
		},
		{
			name:     "bad JSON",
			template: "{\n  \"Resources\": {\n    \"Fn\": {\"Type\": \"AWS::SQS::Queue\" \"Properties\": {}}\n  }\n}\n",
			want:     `template.yaml:3:38: invalid JSON: invalid character '"' after object key:value pair`,
		},
		{
			name:     "Resources not a mapping",
			template: "Resources:\n  - Fn\n",
			want:     `template.yaml:2:3: Resources must be a mapping, found a list`,
		},
		{
			name: "missing Type",
			template: `Resources:
  Fn:
    Properties:
      Code: .
`,
			want: `template.yaml:2:3: resource Fn: missing Type`,
		},
		{
			name: "duplicate key",
			template: `Resources:
  Fn:
    Type: AWS::SQS::Queue
  Fn:
    Type: AWS::SQS::Queue
`,
			want: `template.yaml:4:3: duplicate key "Fn"`,
		},
		{
			name: "missing parameter value",
			template: `Parameters:
  Env:
    Type: String
Resources:
  Q:
    Type: AWS::SQS::Queue
`,
			want: `template.yaml:2:3: parameter Env has no Default and no value was given (--parameter-overrides Env=...)`,
		},
		{
			name: "unknown parameter override",
			template: `Resources:
  Q:
    Type: AWS::SQS::Queue
`,
			params: map[string]string{"Stage": "prod"},
			want:   `template.yaml: parameter override Stage: the template has no parameter "Stage"`,
		},
		{
			name: "AllowedValues violation by an override",
			template: `Parameters:
  Env:
    Type: String
    AllowedValues: [dev, prod]
Resources:
  Q:
    Type: AWS::SQS::Queue
`,
			params: map[string]string{"Env": "qa"},
			want:   `template.yaml:2:3: parameter Env: override "qa" is not one of the AllowedValues [dev, prod]`,
		},
		{
			name: "AllowedValues violation by the default",
			template: `Parameters:
  Env:
    Type: String
    Default: qa
    AllowedValues: [dev, prod]
Resources:
  Q:
    Type: AWS::SQS::Queue
`,
			want: `template.yaml:4:5: parameter Env: Default "qa" is not one of the AllowedValues [dev, prod]`,
		},
		{
			name: "Number parameter that is not a number",
			template: `Parameters:
  Size:
    Type: Number
Resources:
  Q:
    Type: AWS::SQS::Queue
`,
			params: map[string]string{"Size": "big"},
			want:   `template.yaml:2:3: parameter Size: override "big" is not a number`,
		},
		{
			name: "circular reference",
			template: `Resources:
  A:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub "fn-${B.QueueName}"` + fnProps + `  B:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "q-${A}"
`,
			want: `template.yaml:12:18: resource B: circular reference: A -> B -> A`,
		},
		{
			name: "circular DependsOn",
			template: `Resources:
  A:
    Type: AWS::SQS::Queue
    DependsOn: B
  B:
    Type: AWS::SQS::Queue
    DependsOn: [A]
`,
			want: `template.yaml:4:5: resource A: circular dependency: A -> B -> A`,
		},
		{
			name: "unknown DependsOn",
			template: `Resources:
  A:
    Type: AWS::SQS::Queue
    DependsOn: Nope
`,
			want: `template.yaml:4:5: resource A: DependsOn: unknown resource "Nope"`,
		},
		{
			name: "unknown condition",
			template: `Resources:
  A:
    Type: AWS::SQS::Queue
    Condition: IsProd
`,
			want: `template.yaml:4:16: resource A: unknown condition "IsProd"`,
		},
		{
			name: "Ref to a resource whose condition is false",
			template: `Conditions:
  Never: !Equals [a, b]
Resources:
  Q:
    Type: AWS::SQS::Queue
    Condition: Never
  Fn:
    Type: AWS::Lambda::Function
    Properties:` + fnProps + `      Role: !Ref Q
`,
			want: `template.yaml:13:13: resource Fn: Ref: resource "Q" is not created because its condition "Never" is false`,
		},
		{
			name: "condition referring to a resource",
			template: `Conditions:
  HasQueue: !Equals [!Ref Q, x]
Resources:
  Q:
    Type: AWS::SQS::Queue
`,
			want: `template.yaml:2:22: condition HasQueue: Ref: "Q" is a resource; only parameters, mappings and pseudo parameters can be used here`,
		},
		{
			name: "Select out of range",
			template: `Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Select [3, [a, b]]
`,
			want: `template.yaml:5:18: resource Q: Fn::Select: index 3 is out of range for a list of 2`,
		},
		{
			name: "unknown AWS::Serverless type",
			template: `Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Funktion
`,
			want: `template.yaml:3:3: resource Fn: unknown SAM resource type AWS::Serverless::Funktion`,
		},
		{
			name: "SAM type without the transform",
			template: `Resources:
  Fn:
    Type: AWS::Serverless::Function
`,
			want: `template.yaml:2:3: resource Fn: type AWS::Serverless::Function needs Transform: AWS::Serverless-2016-10-31`,
		},
		{
			name: "unknown event type",
			template: `Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:` + fnProps + `      Events:
        Tick:
          Type: Clock
`,
			want: `template.yaml:10:9: resource Fn: Events.Tick: unknown event type "Clock"`,
		},
		{
			name: "S3 event on a bucket outside the template",
			template: `Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:` + fnProps + `      Events:
        Upload:
          Type: S3
          Properties:
            Bucket: existing-bucket
            Events: s3:ObjectCreated:*
`,
			want: `template.yaml:10:9: resource Fn: Events.Upload: S3 events must reference an S3 bucket in the same template (Bucket: !Ref MyBucket)`,
		},
		{
			name: "unknown intrinsic function",
			template: `Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      QueueName:
        Fn::Concat: [a, b]
`,
			want: `template.yaml:6:9: resource Q: unknown intrinsic function Fn::Concat`,
		},
		{
			name: "unknown output reference",
			template: `Resources:
  Q:
    Type: AWS::SQS::Queue
Outputs:
  Url:
    Value: !GetAtt Queue.Arn
`,
			want: `template.yaml:6:12: output Url: Fn::GetAtt: unknown resource "Queue"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("template.yaml", []byte(tt.template), "/app", Options{Parameters: tt.params})
			if err == nil {
				t.Fatalf("Parse succeeded, want error %s", tt.want)
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// TestFunctionErrors covers values that only the typed view rejects.
func TestFunctionErrors(t *testing.T) {
	tests := []struct {
		name     string
		template string
		want     string
	}{
		{
			name: "bad Timeout",
			template: `Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:` + fnProps + `      Timeout: abc
`,
			want: `template.yaml:8:7: resource Fn: Timeout: must be a whole number, found "abc"`,
		},
		{
			name: "bad Timeout from Globals",
			template: `Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 2.5
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:` + fnProps,
			want: `template.yaml:4:5: resource Fn: Timeout: must be a whole number, found 2.5`,
		},
		{
			name: "environment variable that is a list",
			template: `Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:` + fnProps + `      Environment:
        Variables:
          HOSTS: [a, b]
`,
			want: `template.yaml:10:11: resource Fn: Environment.Variables.HOSTS: must be a string, found a list`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Parse("template.yaml", []byte(tt.template), "/app", Options{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			_, err = st.Functions()
			if err == nil {
				t.Fatalf("Functions succeeded, want error %s", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tt.want)
			}
			if _, ok := st.Function("Fn"); ok {
				t.Errorf("Function(Fn) found an invalid function")
			}
		})
	}
}

func TestErrorRendering(t *testing.T) {
	e := &Error{Pos: Pos{File: "t.yaml", Line: 3}, Msg: "boom"}
	if got := e.Error(); got != "t.yaml:3: boom" {
		t.Errorf("got %q", got)
	}
	e = &Error{Pos: Pos{File: "t.yaml", Line: 3, Column: 9}, Resource: "Fn", Msg: "boom"}
	if got := e.Error(); !strings.HasPrefix(got, "t.yaml:3:9: resource Fn: ") {
		t.Errorf("got %q", got)
	}
}
