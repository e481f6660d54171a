package workspace_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

func TestReadTree(t *testing.T) {
	ctx := context.Background()
	s, err := workspace.Open(filepath.Join(t.TempDir(), "ws.db"), workspace.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big := strings.Repeat("b", workspace.ChunkSize+10) // two chunks
	for p, c := range map[string]string{"/d/a.txt": "alpha", "/d/sub/big": big, "/d/empty": "", "/other": "x"} {
		if _, err := s.Write(ctx, "w", p, strings.NewReader(c), workspace.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Symlink(ctx, "w", "/d", "/link"); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	collect := func(max int64) error {
		clear(got)
		return s.ReadTree(ctx, "w", "/link", max, func(in workspace.Info, content []byte, whole bool) error {
			v := string(in.Type) + ":" + string(content)
			if !whole {
				v = string(in.Type) + ":<not read>"
			}
			got[in.Path] = v
			return nil
		})
	}
	if err := collect(1 << 20); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/d/a.txt": "file:alpha", "/d/empty": "file:", "/d/sub": "directory:", "/d/sub/big": "file:" + big}
	if len(got) != len(want) {
		t.Fatalf("got %d entries %v, want %d", len(got), got, len(want))
	}
	for p, v := range want {
		if got[p] != v {
			t.Errorf("%s: got %.40q, want %.40q", p, got[p], v)
		}
	}
	if err := collect(100); err != nil || got["/d/sub/big"] != "file:<not read>" || got["/d/a.txt"] != "file:alpha" {
		t.Errorf("with a small maxSize: %v %.60v", err, got)
	}
	if err := s.ReadTree(ctx, "w", "/nope", 10, nil); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Errorf("missing dir: %v", err)
	}
	if err := s.ReadTree(ctx, "w", "/other", 10, nil); isoerr.CodeOf(err) != isoerr.Conflict {
		t.Errorf("a file: %v", err)
	}
}
