package workspace_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/isobox/isobox/workspace"
)

// crashContent is the content of file n of the crash test: sizes from a few bytes to
// several chunks, and one file in eight larger than a staging batch, so that multi-chunk
// and staged writes are in flight when the process dies.
func crashContent(n int) []byte {
	size := (n * 7919) % (3 * workspace.ChunkSize)
	if n%8 == 3 { // larger than one staging batch: staged in several transactions
		size = 17*workspace.ChunkSize + n
	}
	seed := sha256.Sum256([]byte(strconv.Itoa(n)))
	return bytes.Repeat(seed[:], size/32+1)[:size]
}

// TestCrashChild is the child of TestKillDuringWrites: it writes files from several
// goroutines and prints "ok N" once each write has returned.
func TestCrashChild(t *testing.T) {
	db := os.Getenv("WORKSPACE_CRASH_DB")
	if db == "" {
		t.Skip("the child of TestKillDuringWrites")
	}
	s, err := workspace.Open(db, workspace.Limits{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := g; ; n += 4 {
				if _, err := s.Write(context.Background(), "w", fmt.Sprintf("d%d/f%d", n%5, n), bytes.NewReader(crashContent(n)), workspace.WriteOptions{}); err != nil {
					fmt.Println("write:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Printf("ok %d\n", n)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// A process killed with SIGKILL during concurrent writes loses no acknowledged write, and
// no file is visible with partial content.
func TestKillDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	db := filepath.Join(t.TempDir(), "ws.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "WORKSPACE_CRASH_DB="+db)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[int]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 60 {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "ok "); ok {
			k, _ := strconv.Atoi(n)
			acked[k] = true
		} else if strings.Contains(line, ":") {
			t.Fatalf("child: %s", line)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out)
	cmd.Wait()
	if len(acked) < 60 {
		t.Fatalf("the child acknowledged only %d writes", len(acked))
	}

	s, err := workspace.Open(db, workspace.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	files, err := s.Glob(ctx, "w", "**/f*")
	if err != nil {
		t.Fatal(err)
	}
	present := map[int]bool{}
	var total int64
	for _, f := range files {
		n, _ := strconv.Atoi(strings.TrimPrefix(f.Name, "f"))
		present[n] = true
		rc, _, err := s.Read(ctx, "w", f.Path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, crashContent(n)) {
			t.Errorf("%s: %d bytes, not the %d written: a partial file is visible", f.Path, len(got), len(crashContent(n)))
		}
		total += int64(len(got))
	}
	for n := range acked {
		if !present[n] {
			t.Errorf("acknowledged write %d is lost", n)
		}
	}
	u, _ := s.Usage(ctx, "w")
	if u.Bytes != total || u.Files != int64(len(files)+len(dirsOf(files))) {
		t.Errorf("usage %+v does not match the %d files of %d bytes found", u, len(files), total)
	}
	// The chunks of the writes the kill cut short were collected when the store reopened.
	raw, err := sql.Open("sqlite", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var orphans int
	if err := raw.QueryRow(`SELECT COUNT(*) FROM chunks WHERE blob NOT IN (SELECT blob FROM nodes WHERE blob IS NOT NULL)`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Errorf("%d chunks of unfinished writes are left after reopening", orphans)
	}
	t.Logf("%d writes acknowledged before SIGKILL, %d files found intact after reopening", len(acked), len(files))
}

func dirsOf(files []workspace.Info) map[string]bool {
	d := map[string]bool{}
	for _, f := range files {
		d[filepath.Dir(f.Path)] = true
	}
	return d
}
