package fs_test

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/objstore/fs"
)

// versionBody is version v of the object the crash test overwrites: sizes
// differ so that a torn file cannot pass for a whole one.
func versionBody(v int) string {
	return strings.Repeat(fmt.Sprintf("version %d;", v), 20_000+v*1_000)
}

// TestCrashWriter is the child process of TestKillDuringWrites: it overwrites
// one object forever, printing the version after each commit.
func TestCrashWriter(t *testing.T) {
	dir := os.Getenv("ALOFT_FS_CRASH_DIR")
	if dir == "" {
		t.Skip("child process of TestKillDuringWrites")
	}
	b, err := fs.New(fs.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for v := 1; ; v++ {
		if _, err := b.PutObject(context.Background(), "b", "k", strings.NewReader(versionBody(v%50)), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		fmt.Println(v % 50)
	}
}

// TestKillDuringWrites kills (SIGKILL) a process in the middle of
// overwriting an object, at a random point, and reopens the store: the object
// is always one whole version whose bytes match its ETag.
func TestKillDuringWrites(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b, err := fs.New(fs.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestCrashWriter$")
		cmd.Env = append(os.Environ(), "ALOFT_FS_CRASH_DIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		commits := 1 + rand.IntN(20)
		for i := 0; i < commits && sc.Scan(); i++ {
		}
		cmd.Process.Kill()
		go io.Copy(io.Discard, out)
		cmd.Wait()

		b, err := fs.New(fs.Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		obj, err := b.GetObject(ctx, "b", "k", nil)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		data, err := io.ReadAll(obj.Body)
		obj.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum(data)
		if hex.EncodeToString(sum[:]) != obj.Info.ETag || int64(len(data)) != obj.Info.Size {
			t.Fatalf("round %d: torn object: %d bytes, description says %d and %s", round, len(data), obj.Info.Size, obj.Info.ETag)
		}
		var v int
		if _, err := fmt.Sscanf(string(data), "version %d;", &v); err != nil || string(data) != versionBody(v) {
			t.Fatalf("round %d: the object is no version written", round)
		}
		entries, _ := os.ReadDir(dir + "/buckets/b/tmp")
		if len(entries) != 0 {
			t.Fatalf("round %d: reopening left %d temporary files", round, len(entries))
		}
	}
}
