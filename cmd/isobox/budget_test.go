package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serveBinary starts `isobox serve` (binary bin) with args on a free loopback port and
// returns its URL and a function that stops it with SIGTERM and checks it exits cleanly
// (also run at the end of the test).
func serveBinary(t *testing.T, bin string, env []string, args ...string) (string, func()) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--cache-dir", cacheDir}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("isobox serve: %v\n%s", err, stderr)
				}
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
				t.Errorf("isobox serve did not stop on SIGTERM: %s", stderr)
			}
		})
	}
	t.Cleanup(stop)
	re := regexp.MustCompile(`serving the HTTP API on (http://\S+)`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stop
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("isobox serve exited: %v\n%s", err, stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("isobox serve did not start: %s", stderr)
		}
	}
}

// Past its memory budget, `isobox serve` hibernates the least recently used workers to
// its data directory, and every one of them comes back with its state on its next call.
func TestServeHibernatesEvictedWorkers(t *testing.T) {
	const key = "budget-test-admin-key"
	data := t.TempDir()
	bin := buildIsobox(t)
	env := []string{"ISOBOX_API_KEY=" + key}
	url, stop := serveBinary(t, bin, env, "--data", data, "--memory-budget-mb", "1")
	do := func(method, path, body string) string {
		t.Helper()
		req, err := http.NewRequest(method, url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return string(b)
	}
	metric := func(name string) int {
		t.Helper()
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(do("GET", "/metrics", ""))
		if m == nil {
			t.Fatalf("no metric %s", name)
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return int(v)
	}

	const n = 30
	for i := range n {
		src := fmt.Sprintf("let n = 0; // worker %d\nexport default { fetch() { return new Response(String(++n)) } }", i)
		body := fmt.Sprintf(`{"mainModule":"main.js","modules":{"main.js":%q}}`, src)
		do("PUT", fmt.Sprintf("/v1/workers/w%d", i), body)
		if got := do("GET", fmt.Sprintf("/v1/workers/w%d/http/", i), ""); got != "1" {
			t.Fatalf("w%d first call: %q", i, got)
		}
	}
	// A 1 MiB budget keeps a few; the others are written to the data directory (in the
	// background: the call that evicts does not wait).
	var warm, hibernated int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		warm, hibernated = metric(`isobox_sandboxes{state="idle"}`), metric("isobox_loader_hibernations_total")
		if warm+hibernated+metric("isobox_loader_hibernate_errors_total") == n || time.Now().After(deadline) {
			break
		}
	}
	files, _ := filepath.Glob(filepath.Join(data, "images", "*.img"))
	if warm+len(files) != n || len(files) < n/2 || hibernated != len(files) {
		t.Fatalf("%d warm, %d image files (%d hibernations) of %d workers", warm, len(files), hibernated, n)
	}
	for i := range n {
		if got := do("GET", fmt.Sprintf("/v1/workers/w%d/http/", i), ""); got != "2" {
			t.Errorf("w%d lost its state: second call answered %q", i, got)
		}
	}
	if e := metric("isobox_loader_hibernate_errors_total"); e != 0 {
		t.Fatalf("%d hibernations failed", e)
	}

	// A graceful stop hibernates the warm ones too: after a restart, all carry on.
	stop()
	url, _ = serveBinary(t, bin, env, "--data", data, "--memory-budget-mb", "1")
	for i := range n {
		if got := do("GET", fmt.Sprintf("/v1/workers/w%d/http/", i), ""); got != "3" {
			t.Errorf("w%d after a restart: third call answered %q", i, got)
		}
	}
}
