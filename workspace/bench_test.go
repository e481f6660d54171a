package workspace_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/isobox/isobox/workspace"
)

// go test ./workspace -run '^$' -bench . -benchtime 2s
func BenchmarkWriteSmall(b *testing.B) {
	s, err := workspace.Open(filepath.Join(b.TempDir(), "ws.db"), workspace.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := bytes.Repeat([]byte("x"), 4096)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Write(context.Background(), "w", fmt.Sprintf("d%d/f%d", i%100, i), bytes.NewReader(data), workspace.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadSmall(b *testing.B) {
	s, err := workspace.Open(filepath.Join(b.TempDir(), "ws.db"), workspace.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := bytes.Repeat([]byte("x"), 4096)
	for i := 0; i < 100; i++ {
		s.Write(context.Background(), "w", fmt.Sprintf("f%d", i), bytes.NewReader(data), workspace.WriteOptions{})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rc, _, err := s.Read(context.Background(), "w", fmt.Sprintf("f%d", i%100))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, rc)
		rc.Close()
	}
}

func BenchmarkWrite64MiB(b *testing.B) {
	s, err := workspace.Open(filepath.Join(b.TempDir(), "ws.db"), workspace.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Write(context.Background(), "w", "big", bytes.NewReader(data), workspace.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawInsert is SQLite's own rate for one 4 KiB row per transaction, at both
// synchronous settings, on the same machine: what the store's small writes compare with.
func BenchmarkRawInsert(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run(sync, func(b *testing.B) {
			db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "raw.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous("+sync+")")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			if _, err := db.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)`); err != nil {
				b.Fatal(err)
			}
			data := bytes.Repeat([]byte("x"), 4096)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := db.Exec(`INSERT INTO t (k, v) VALUES (?, ?)`, i, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
