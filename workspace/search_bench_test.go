package workspace_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/isobox/isobox/workspace"
)

// searchCorpus writes 10,000 files of 5 KiB (50 MiB in all; 100 files hold "needle")
// to a workspace and the same files to a directory on disk.
func searchCorpus(b *testing.B) (*workspace.SQLite, string) {
	b.Helper()
	s, err := workspace.Open(filepath.Join(b.TempDir(), "ws.db"), workspace.Limits{MaxBytes: 1 << 30, MaxFiles: 20_000})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	disk := b.TempDir()
	r := rand.New(rand.NewPCG(1, 1))
	words := []string{"alpha", "beta", "gamma", "delta", "func", "return", "value", "error", "context", "string"}
	for i := range 10_000 {
		var f bytes.Buffer
		for f.Len() < 5<<10-64 {
			for range 8 {
				f.WriteString(words[r.IntN(len(words))])
				f.WriteByte(' ')
			}
			f.WriteByte('\n')
		}
		if i%100 == 0 {
			f.WriteString("here is the needle\n")
		}
		p := fmt.Sprintf("d%02d/f%05d.txt", i/200, i)
		if _, err := s.Write(context.Background(), "w", p, bytes.NewReader(f.Bytes()), workspace.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
		os.MkdirAll(filepath.Join(disk, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(disk, p), f.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return s, disk
}

// ws_search_10k_ms: searchText over 10,000 files (50 MiB), beside grep -rn over the same
// files on disk (page cache warm), in the same run.
//
//	go test ./workspace -run '^$' -bench SearchText10k -benchtime 10x
func BenchmarkSearchText10k(b *testing.B) {
	s, disk := searchCorpus(b)
	ctx := context.Background()
	grep := func() time.Duration {
		start := time.Now()
		out, err := exec.Command("grep", "-rn", "needle", disk).Output()
		if err != nil || bytes.Count(out, []byte("\n")) != 100 {
			b.Fatalf("grep: %v (%d lines)", err, bytes.Count(out, []byte("\n")))
		}
		return time.Since(start)
	}
	grep() // warm the page cache
	var grepTotal time.Duration
	b.ResetTimer()
	for range b.N {
		res, err := s.SearchText(ctx, "w", "needle", workspace.SearchOptions{MaxResults: 1000})
		if err != nil || len(res.Matches) != 100 || res.Files != 10_000 {
			b.Fatalf("%d matches in %d files, %v", len(res.Matches), res.Files, err)
		}
		b.StopTimer()
		grepTotal += grep()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ws_search_10k_ms")
	b.ReportMetric(float64(grepTotal.Milliseconds())/float64(b.N), "grep_r_ms")
}
