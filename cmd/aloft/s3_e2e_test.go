package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestS3WithAWSCLI drives Debian's aws CLI against `aloft up`: a multipart
// `s3 cp` (over the CLI's 8 MB threshold), `s3 ls`, a download, `s3api`
// calls and `s3 rm`, over plain HTTP with AWS_CA_BUNDLE as the machine sets
// it and unset, and over --tls trusting aloft's CA.
func TestS3WithAWSCLI(t *testing.T) {
	aws := debianAWSCLI(t)
	bin := aloftBinary(t)
	env := baseEnv(t)
	big := make([]byte, 9<<20+123)
	rand.Read(big)
	src := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(src, big, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name string
		tls  bool
	}{{"http", false}, {"tls", true}} {
		t.Run(mode.name, func(t *testing.T) {
			args := []string{"testdata/s3/template.yaml", "--endpoint", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "data")}
			if mode.tls {
				args = append(args, "--tls")
			}
			up := startUp(t, bin, env, args...)
			defer up.stop(t)
			if mode.tls && (up.caPath == "" || !strings.HasPrefix(up.endpoint, "https://")) {
				t.Fatalf("--tls: endpoint %q, CA %q:\n%s", up.endpoint, up.caPath, up.output)
			}
			// aloft invoke finds the scheme and the CA in what aloft up recorded.
			hostPort := strings.TrimPrefix(strings.TrimPrefix(up.endpoint, "https://"), "http://")
			if out, err := runCmd(env, bin, "invoke", "Nope", "--endpoint", hostPort); err == nil || !strings.Contains(out, "ResourceNotFoundException") {
				t.Fatalf("aloft invoke of a missing function: %v\n%s", err, out)
			}
			awsEnv := append(env, "AWS_ACCESS_KEY_ID="+up.keyID, "AWS_SECRET_ACCESS_KEY="+up.secret, "AWS_DEFAULT_REGION=us-east-1",
				"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_PAGER=")
			variants := []struct {
				name string
				env  []string
			}{
				{"AWS_CA_BUNDLE as the machine sets it", awsEnv},
				{"AWS_CA_BUNDLE unset", without(awsEnv, "AWS_CA_BUNDLE")},
			}
			if mode.tls {
				variants = []struct {
					name string
					env  []string
				}{{"AWS_CA_BUNDLE is aloft's CA", append(without(awsEnv, "AWS_CA_BUNDLE"), "AWS_CA_BUNDLE="+up.caPath)}}
			}
			for i, v := range variants {
				key := "dir/my file " + string(rune('a'+i)) + ".bin"
				run := func(args ...string) string {
					t.Helper()
					out, err := runCmd(v.env, aws, append([]string{"--endpoint-url", up.endpoint}, args...)...)
					if err != nil {
						t.Fatalf("%s: aws %s: %v\n%s", v.name, strings.Join(args, " "), err, out)
					}
					return out
				}
				run("s3", "cp", src, "s3://photos/"+key)
				if out := run("s3", "ls", "s3://photos/dir/"); !strings.Contains(out, filepath.Base(key)) || !strings.Contains(out, "9437307") {
					t.Fatalf("%s: s3 ls lacks the upload:\n%s", v.name, out)
				}
				var head struct {
					ContentLength int64
					ETag          string
				}
				if err := json.Unmarshal([]byte(run("s3api", "head-object", "--bucket", "photos", "--key", key)), &head); err != nil {
					t.Fatal(err)
				}
				if head.ContentLength != int64(len(big)) || !strings.HasSuffix(head.ETag, `-2"`) {
					t.Fatalf("%s: head-object %+v, want %d bytes and a two-part ETag", v.name, head, len(big))
				}
				dst := filepath.Join(t.TempDir(), "down.bin")
				run("s3", "cp", "s3://photos/"+key, dst)
				if got, _ := os.ReadFile(dst); !bytes.Equal(got, big) {
					t.Fatalf("%s: downloaded %d bytes differ from the upload", v.name, len(got))
				}
				run("s3api", "put-object", "--bucket", "photos", "--key", "small.txt", "--body", src, "--content-type", "text/plain", "--metadata", "k=v")
				var list struct{ Contents []struct{ Key string } }
				if err := json.Unmarshal([]byte(run("s3api", "list-objects-v2", "--bucket", "photos", "--prefix", "dir/")), &list); err != nil {
					t.Fatal(err)
				}
				if len(list.Contents) != 1 || list.Contents[0].Key != key {
					t.Fatalf("%s: list-objects-v2 %+v", v.name, list)
				}
				run("s3", "rm", "s3://photos/"+key)
				run("s3", "rm", "s3://photos/small.txt")
				if out := run("s3", "ls", "s3://photos/"); strings.TrimSpace(out) != "" {
					t.Fatalf("%s: objects left after s3 rm:\n%s", v.name, out)
				}
				run("s3", "mb", "s3://scratch")
				if out := run("s3", "ls"); !strings.Contains(out, "scratch") || !strings.Contains(out, "photos") {
					t.Fatalf("%s: s3 ls of buckets:\n%s", v.name, out)
				}
				run("s3", "rb", "s3://scratch")
				out, err := runCmd(v.env, aws, "--endpoint-url", up.endpoint, "s3api", "get-object", "--bucket", "photos", "--key", "gone", filepath.Join(t.TempDir(), "x"))
				if err == nil || !strings.Contains(out, "NoSuchKey") {
					t.Fatalf("%s: get-object of a missing key: %v\n%s", v.name, err, out)
				}
			}
		})
	}
}
