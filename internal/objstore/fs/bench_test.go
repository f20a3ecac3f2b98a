package fs_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/objstore/fs"
)

// BenchmarkPutObject64MB writes 64 MiB objects straight into the backend
// (no HTTP): streaming copy, MD5, fsync and rename.
func BenchmarkPutObject64MB(b *testing.B) {
	store, err := fs.New(fs.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	if err := store.CreateBucket(context.Background(), "b"); err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	b.SetBytes(int64(len(body)))
	for i := 0; b.Loop(); i++ {
		if _, err := store.PutObject(context.Background(), "b", fmt.Sprint(i%4), bytes.NewReader(body), objstore.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
