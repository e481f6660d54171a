package workspace_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

// A GrowCheck sees every growing write with the bytes its tenant's workspaces hold (only
// its tenant's: a named tenant's range, or the unscoped names of the default tenant), and
// its refusal leaves nothing written; writes that do not grow are not asked.
func TestGrowCheck(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	for ws, n := range map[string]int{"a~one": 100, "a~two": 200, "ab~x": 400, "plain": 800, "b~y": 1600} {
		if _, err := s.Write(ctx, ws, "f", strings.NewReader(strings.Repeat("z", n)), workspace.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []int64
	s.SetGrowCheck(func(_ context.Context, ws string, d int64, held func() (int64, error)) error {
		n, err := held()
		if err != nil {
			return err
		}
		seen = append(seen, n, d)
		if n+d > 1000 {
			return isoerr.New(isoerr.QuotaExceeded, "%s: over", ws)
		}
		return nil
	})
	if _, err := s.Write(ctx, "a~one", "g", strings.NewReader("12345"), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, "plain", "g", strings.NewReader(strings.Repeat("z", 300)), workspace.WriteOptions{}); isoerr.CodeOf(err) != isoerr.QuotaExceeded {
		t.Fatalf("past the check: %v", err)
	}
	if _, err := s.Stat(ctx, "plain", "g"); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Fatalf("the refused write is there: %v", err)
	}
	if err := s.Remove(ctx, "b~y", "f", false); err != nil { // shrinks: not asked
		t.Fatal(err)
	}
	want := []int64{300, 5, 800, 300}
	if len(seen) != len(want) || seen[0] != want[0] || seen[1] != want[1] || seen[2] != want[2] || seen[3] != want[3] {
		t.Fatalf("the check saw %v, want %v", seen, want)
	}
}

// BenchmarkGrowCheck is a durable 4 KiB write with no GrowCheck, with one that only looks
// at the name (a tenant without a storage quota), and with one that sums the tenant's 100
// workspaces in the write's transaction (a tenant with one).
//
//	go test ./workspace -run '^$' -bench GrowCheck -benchtime 300x
func BenchmarkGrowCheck(b *testing.B) {
	data := strings.Repeat("z", 4096)
	for _, bm := range []struct {
		name string
		f    workspace.GrowCheck
	}{
		{"none", nil},
		{"name-only", func(context.Context, string, int64, func() (int64, error)) error { return nil }},
		{"tenant-sum", func(_ context.Context, _ string, _ int64, held func() (int64, error)) error {
			_, err := held()
			return err
		}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			s, err := workspace.Open(b.TempDir()+"/ws.db", workspace.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			for i := range 100 {
				if _, err := s.Write(ctx, "acme~w"+strconv.Itoa(i), "f", strings.NewReader("x"), workspace.WriteOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			s.SetGrowCheck(bm.f)
			b.ResetTimer()
			for i := range b.N {
				if _, err := s.Write(ctx, "acme~w7", "f"+strconv.Itoa(i), strings.NewReader(data), workspace.WriteOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
