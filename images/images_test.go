package images

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestDir(t *testing.T) {
	ctx := context.Background()
	d, err := NewDir(filepath.Join(t.TempDir(), "imgs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing: %v", err)
	}
	keys := []string{"session:a", "session:b/../c", "worker:x@123", "session:ünï"}
	for i, k := range keys {
		if err := d.Put(ctx, k, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Put(ctx, "session:a", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, err := d.Get(ctx, "session:a"); err != nil || string(b) != "new" {
		t.Fatalf("Get after replace: %q %v", b, err)
	}
	got, err := d.List(ctx, "session:")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"session:a", "session:b/../c", "session:ünï"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	if err := d.Delete(ctx, "session:a"); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "session:a"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := d.Get(ctx, "session:a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := d.Put(ctx, "", nil); err == nil {
		t.Fatal("empty key accepted")
	}
	// Keys never escape the directory: every file is inside it.
	ents, _ := os.ReadDir(d.path)
	if len(ents) != 3 {
		t.Fatalf("%d files in the directory", len(ents))
	}
}
