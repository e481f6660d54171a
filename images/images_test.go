package images

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
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

// Keys too long for a hex file name (a session named with the longest name the API allows)
// are kept too, and listed back; a key no file name can hold is refused, not lost silently.
func TestDirLongKeys(t *testing.T) {
	ctx := context.Background()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{
		"session:" + strings.Repeat("n", 128),
		strings.Repeat("h", MaxHexKey),
		strings.Repeat("b", MaxHexKey+1),
		strings.Repeat("é", MaxKey/2),
	}
	for i, k := range keys {
		if err := d.Put(ctx, k, []byte{byte(i)}); err != nil {
			t.Fatalf("Put of a %d-byte key: %v", len(k), err)
		}
	}
	for i, k := range keys {
		if b, err := d.Get(ctx, k); err != nil || !bytes.Equal(b, []byte{byte(i)}) {
			t.Fatalf("Get of a %d-byte key: %v %v", len(k), b, err)
		}
	}
	got, err := d.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string(nil), keys...)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	tooLong := strings.Repeat("x", MaxKey+1)
	if err := d.Put(ctx, tooLong, []byte("x")); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("Put of a %d-byte key: %v", len(tooLong), err)
	}
	if err := d.Delete(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(ctx, keys[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

// A temporary file left by a process killed in the middle of a Put is never read as an
// image, and the next NewDir removes it once it is old enough not to be another process's
// write in progress.
func TestDirLeftoverTemporaryFiles(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir()
	d, err := NewDir(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "session:a", []byte("image")); err != nil {
		t.Fatal(err)
	}
	stale, fresh := filepath.Join(path, tempPrefix+"1"), filepath.Join(path, tempPrefix+"2")
	for _, f := range []string{stale, fresh} {
		if err := os.WriteFile(f, []byte("half an ima"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTemp)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if keys, err := d.List(ctx, ""); err != nil || !reflect.DeepEqual(keys, []string{"session:a"}) {
		t.Fatalf("List = %q %v", keys, err)
	}
	if _, err := NewDir(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the stale temporary file is still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("a recent temporary file (another process's Put) was removed: %v", err)
	}
	if b, err := d.Get(ctx, "session:a"); err != nil || string(b) != "image" {
		t.Fatalf("Get = %q %v", b, err)
	}
}

// BenchmarkPut is the cost of one durable Put of a session-sized image (written, fsynced,
// renamed, directory fsynced) on the file system of the test's temporary directory.
func BenchmarkPut(b *testing.B) {
	d, err := NewDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	img := make([]byte, 10<<10)
	ctx := context.Background()
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		if err := d.Put(ctx, "session:bench", img); err != nil {
			b.Fatal(err)
		}
	}
}
