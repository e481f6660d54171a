package workspace_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

// ReadRange reads from any offset, across chunk boundaries and short chunks left by
// appends, and its ifMatch refuses a file that changed.
func TestReadRange(t *testing.T) {
	ctx := context.Background()
	s := open(t, workspace.Limits{})
	var want []byte
	for i := 0; i < 2*workspace.ChunkSize+1000; i++ {
		want = append(want, byte(i*7+i>>12))
	}
	info, err := s.Write(ctx, "w", "f", bytes.NewReader(want), workspace.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tail := []byte("short append")
	if info, err = s.Write(ctx, "w", "f", bytes.NewReader(tail), workspace.WriteOptions{Append: true}); err != nil {
		t.Fatal(err)
	}
	more := []byte("and another")
	if info, err = s.Write(ctx, "w", "f", bytes.NewReader(more), workspace.WriteOptions{Append: true}); err != nil {
		t.Fatal(err)
	}
	want = append(append(want, tail...), more...)
	n := int64(len(want))
	for _, off := range []int64{0, 1, workspace.ChunkSize - 1, workspace.ChunkSize, workspace.ChunkSize + 5, 2*workspace.ChunkSize + 1000, n - 3, n, n + 10} {
		rc, _, err := s.ReadRange(ctx, "w", "f", off, info.ETag)
		if err != nil {
			t.Fatalf("offset %d: %v", off, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[min(off, n):]) {
			t.Errorf("offset %d: %d bytes, want %d (or different content)", off, len(got), n-min(off, n))
		}
	}
	_, _, err = s.ReadRange(ctx, "w", "f", -1, "")
	wantCode(t, err, isoerr.InvalidRequest)
	put(t, s, "w", "f", "changed")
	_, _, err = s.ReadRange(ctx, "w", "f", 0, info.ETag)
	wantCode(t, err, isoerr.PreconditionFailed)
	_, _, err = s.ReadRange(ctx, "w", "missing", 0, "")
	wantCode(t, err, isoerr.NotFound)
	if got := cat(t, s, "w", "f"); !strings.EqualFold(got, "changed") {
		t.Fatal(got)
	}
}
