package fs_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/objstore/fs"
	"github.com/aloft-dev/aloft/internal/objstore/objstoretest"
)

func TestContract(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Backend {
		b, err := fs.New(fs.Config{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

// TestCrashLeftovers reopens a store whose process died mid-write: the
// half-written temporary file is gone and the committed object intact.
func TestCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b, err := fs.New(fs.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutObject(ctx, "b", "k", strings.NewReader("committed"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(dir, "buckets", "b", "tmp", "put-123")
	if err := os.WriteFile(stray, []byte("half a new versi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "buckets", ".new-999"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err = fs.New(fs.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Fatalf("stray temporary file survived: %v", err)
	}
	obj, err := b.GetObject(ctx, "b", "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	if obj.Info.Size != int64(len("committed")) {
		t.Fatalf("object after restart: %+v", obj.Info)
	}
	if list, err := b.ListBuckets(ctx); err != nil || len(list) != 1 {
		t.Fatalf("ListBuckets = %+v, %v", list, err)
	}
}
