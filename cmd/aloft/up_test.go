package main

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestParameterOverrides(t *testing.T) {
	cases := []struct {
		name       string
		args       []string
		flags      []string
		wantPath   string
		wantParams map[string]string
	}{
		{"defaults", nil, nil, "template.yaml", map[string]string{}},
		{"unquoted list after the flag", []string{"t.yaml", "B=2", "C=x=y"}, []string{"A=1"}, "t.yaml", map[string]string{"A": "1", "B": "2", "C": "x=y"}},
		{"quoted list", []string{"t.yaml"}, []string{"A=1 B=2"}, "t.yaml", map[string]string{"A": "1", "B": "2"}},
		{"SAM long form", nil, []string{"ParameterKey=A,ParameterValue=1 ParameterKey=B,ParameterValue=two"}, "template.yaml", map[string]string{"A": "1", "B": "two"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, extra, err := splitTemplateArg(c.args)
			if err != nil {
				t.Fatal(err)
			}
			params, err := parseParameterOverrides(append(c.flags, extra...))
			if err != nil {
				t.Fatal(err)
			}
			if path != c.wantPath || !reflect.DeepEqual(params, c.wantParams) {
				t.Fatalf("got %s %v, want %s %v", path, params, c.wantPath, c.wantParams)
			}
		})
	}
	if _, _, err := splitTemplateArg([]string{"a.yaml", "b.yaml"}); err == nil {
		t.Fatal("two templates accepted")
	}
	if _, err := parseParameterOverrides([]string{"ParameterKey=A"}); err == nil {
		t.Fatal("ParameterKey without ParameterValue accepted")
	}
}

func TestCredentialsFromEnv(t *testing.T) {
	t.Setenv("ALOFT_ACCESS_KEY", "")
	t.Setenv("ALOFT_SECRET_KEY", "")
	if c, err := credentialsFromEnv(); c != nil || err != nil {
		t.Fatalf("neither set: %v %v", c, err)
	}
	t.Setenv("ALOFT_ACCESS_KEY", "AKIAX")
	if _, err := credentialsFromEnv(); err == nil {
		t.Fatal("only ALOFT_ACCESS_KEY set: accepted")
	}
	t.Setenv("ALOFT_SECRET_KEY", "s")
	c, err := credentialsFromEnv()
	if err != nil || c.AccessKeyID != "AKIAX" || c.SecretAccessKey != "s" {
		t.Fatalf("both set: %v %v", c, err)
	}
}

// TestSyncAlwaysWithNATSIsRefused: --sync always configures the embedded
// server only, so with --nats it would be a silent no-op.
func TestSyncAlwaysWithNATSIsRefused(t *testing.T) {
	var out strings.Builder
	err := runUp(context.Background(), &out, "testdata/s3/template.yaml", upFlags{data: t.TempDir(), endpoint: "127.0.0.1:0",
		nats: "nats://127.0.0.1:4222", sync: "always"})
	if err == nil || !strings.Contains(err.Error(), "--sync always configures the embedded NATS server") {
		t.Errorf("aloft up --sync always --nats: %v", err)
	}
}
