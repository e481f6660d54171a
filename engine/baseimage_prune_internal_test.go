package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// A cache directory keeps the keptBaseImages most recently written base images and
// nothing else of theirs is touched: other files, and files being written aside.
func TestPruneBaseImages(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	var want []string
	for i := range 12 {
		name := fmt.Sprintf("base-build-%02d.img", i)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		when := now.Add(-time.Duration(12-i) * time.Hour) // the higher i, the newer
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
		if i >= 12-keptBaseImages {
			want = append(want, name)
		}
	}
	others := []string{"runtime-build.qbc", "base-build-00.img.tmp42", "wazero"}
	for _, name := range others {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("y"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pruneBaseImages(dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var images, rest []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".img") {
			images = append(images, e.Name())
		} else {
			rest = append(rest, e.Name())
		}
	}
	slices.Sort(want)
	slices.Sort(others)
	if !slices.Equal(images, want) {
		t.Fatalf("base images kept: %v, want the %d newest %v", images, keptBaseImages, want)
	}
	if !slices.Equal(rest, others) {
		t.Fatalf("other files: %v, want %v untouched", rest, others)
	}
	// Under the bound, nothing goes.
	pruneBaseImages(dir)
	if again, _ := filepath.Glob(filepath.Join(dir, "base-*.img")); len(again) != keptBaseImages {
		t.Fatalf("%d base images after a second prune, want %d", len(again), keptBaseImages)
	}
}

// A Go binary is named by its build ID, so every copy, link and `go run` of one build
// shares one base image.
func TestExecutableIDIsTheBuildID(t *testing.T) {
	id := executableID()
	if runtime.GOOS == "linux" && !strings.HasPrefix(id, "go-build-id\x00") {
		t.Fatalf("executableID = %q, want the Go build ID", id)
	}
	if id == "" || id != executableID() {
		t.Fatalf("executableID is not stable: %q", id)
	}
}
