package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
)

// content is the deterministic content of version v of path p: n bytes, so that any file
// read back can be checked whole, whatever write it came from.
func content(p string, v, n int) []byte {
	seed := sha256.Sum256([]byte(fmt.Sprintf("%s@%d", p, v)))
	unit := []byte(hex.EncodeToString(seed[:]) + "\n")
	return bytes.Repeat(unit, n/len(unit)+1)[:n]
}

// sizeOf spreads the writes over small files (one transaction), files of several chunks,
// and files larger than one staging batch (staged in transactions of their own before
// the one that commits them: the case a kill in the middle must not expose).
func sizeOf(writer, i int) int {
	switch {
	case writer == 0:
		return 5<<20 + i // > 4 MiB: staged first
	case i%5 == 0:
		return 300<<10 + i // two chunks
	}
	return 1<<10 + (i*97)%4096
}

// Nothing lost: `isobox serve` (with its sandbox processes) is killed with SIGKILL while
// HTTP clients and sandboxes bound to the same workspace write to it concurrently. After
// a restart on the same data directory, every write that was acknowledged is there and
// intact, a file overwritten again and again holds a whole version no older than its last
// acknowledged one, and no file anywhere holds a partial content.
func TestWorkspaceWritesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a server")
	}
	bin := buildIsobox(t)
	data := t.TempDir()
	p := startServe(t, bin, "--data", data)
	c, _ := client.New(p.url, processKey)
	ctx := context.Background()
	code := api.WorkerCode{MainModule: "main.js", Modules: map[string]api.Module{"main.js": api.JS(`import { env } from "cloudflare:workers";
export default { async write(path, text) { await env.FS.writeFile(path, text); return "ok"; } };`)}}
	code.Bindings = map[string]api.Binding{"FS": {Workspace: "d"}}
	for _, id := range []string{"wa", "wb", "wc"} {
		if _, err := c.PutWorker(ctx, id, code); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	acked := map[string][]byte{}    // unique paths: their content
	lastAcked := map[string]int{}   // overwritten paths: the last acknowledged version
	attempted := map[string][]int{} // overwritten paths: every version sent
	var nAcked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	writers := 8
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var path string
				var body []byte
				var err error
				switch {
				case w == 7: // one file, overwritten: each version whole, never an older one
					path = "/over/file.txt"
					body = content(path, i, sizeOf(w, i))
					mu.Lock()
					attempted[path] = append(attempted[path], i)
					mu.Unlock()
					_, err = c.PutFile(ctx, "d", path, bytes.NewReader(body), int64(len(body)), client.FileOptions{})
				case w >= 4: // sandboxes, in the sandbox processes, through env.FS
					path = fmt.Sprintf("/sb/%d/%d.txt", w, i)
					body = content(path, 0, sizeOf(w, i)%8192+1)
					_, err = c.Call(ctx, []string{"wa", "wb", "wc"}[w%3], "write", path, string(body))
				default: // HTTP, streamed
					path = fmt.Sprintf("/http/%d/%d.bin", w, i)
					body = content(path, 0, sizeOf(w, i))
					_, err = c.PutFile(ctx, "d", path, io.MultiReader(bytes.NewReader(body)), -1, client.FileOptions{})
				}
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				if w == 7 {
					lastAcked[path] = i
				} else {
					acked[path] = body
				}
				mu.Unlock()
				nAcked.Add(1)
			}
		}()
	}
	// 100 acknowledged writes leave every writer mid-stream (writer 0's 5 MiB files a few
	// times over); each more is only more to write and read back on one core.
	const minAcked = 100
	deadline := time.Now().Add(hangGuard)
	for nAcked.Load() < minAcked && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.kill(t) // mid-write: every writer has a request in flight
	close(stop)
	wg.Wait()
	if nAcked.Load() < minAcked {
		t.Fatalf("only %d writes were acknowledged before the deadline", nAcked.Load())
	}

	p = startServe(t, bin, "--data", data)
	c, _ = client.New(p.url, processKey)
	read := func(path string) []byte {
		b, err := c.ReadFile(ctx, "d", path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return b
	}
	for path, want := range acked {
		if got := read(path); !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes after the restart, not the %d acknowledged", path, len(got), len(want))
		}
	}
	// Every file there, acknowledged or caught in flight, is whole.
	tree, err := c.Tree(ctx, "d", "")
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	lastSeen := map[string]bool{}
	for p := range lastAcked {
		lastSeen[p] = true
	}
	for _, e := range tree {
		if e.Type != "file" {
			continue
		}
		files++
		got := read(e.Path)
		switch {
		case strings.HasPrefix(e.Path, "/over/"):
			delete(lastSeen, e.Path)
			v := -1
			for _, a := range attempted[e.Path] {
				if bytes.Equal(got, content(e.Path, a, sizeOf(7, a))) {
					v = a
				}
			}
			if v < lastAcked[e.Path] {
				t.Errorf("%s holds version %d (-1: none whole); %d was acknowledged", e.Path, v, lastAcked[e.Path])
			}
		case strings.HasPrefix(e.Path, "/sb/"):
			var w, i int
			fmt.Sscanf(e.Path, "/sb/%d/%d.txt", &w, &i)
			if want := content(e.Path, 0, sizeOf(w, i)%8192+1); !bytes.Equal(got, want) {
				t.Errorf("%s: a partial or foreign content (%d bytes)", e.Path, len(got))
			}
		default:
			var w, i int
			fmt.Sscanf(e.Path, "/http/%d/%d.bin", &w, &i)
			if want := content(e.Path, 0, sizeOf(w, i)); !bytes.Equal(got, want) {
				t.Errorf("%s: a partial or foreign content (%d of %d bytes)", e.Path, len(got), len(want))
			}
		}
	}
	if len(lastSeen) > 0 {
		t.Errorf("acknowledged, then missing after the restart: %v", lastSeen)
	}
	if files < len(acked) {
		t.Fatalf("%d files after the restart, %d acknowledged", files, len(acked))
	}
	t.Logf("%d writes acknowledged before SIGKILL; %d files after the restart, all whole", nAcked.Load(), files)
	p.stop(t)
}
