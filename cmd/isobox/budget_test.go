package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// Past its memory budget, `isobox serve` hibernates the least recently used workers to
// its data directory, and every one of them comes back with its state on its next call.
func TestServeHibernatesEvictedWorkers(t *testing.T) {
	data := t.TempDir()
	bin := buildIsobox(t)
	p := startServe(t, bin, "--data", data, "--memory-budget-mb", "1")
	do := func(method, path, body string) string {
		t.Helper()
		st, b, err := p.do(method, path, body)
		if err != nil || st/100 != 2 {
			t.Fatalf("%s %s: %d %s %v", method, path, st, b, err)
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

	const n = 12 // a 1 MiB budget keeps two or three warm: most of them are hibernated
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
	for deadline := time.Now().Add(hangGuard); ; time.Sleep(10 * time.Millisecond) {
		warm, hibernated = metric(`isobox_sandboxes{state="idle"}`), metric("isobox_loader_hibernations_total")
		if warm+hibernated+metric("isobox_loader_hibernate_errors_total") == n || time.Now().After(deadline) {
			break
		}
	}
	// In process (--sandbox-processes 0) images/*.img; sandbox process i: images/p<i>/*.img.
	files, _ := filepath.Glob(filepath.Join(data, "images", "*.img"))
	inProcs, _ := filepath.Glob(filepath.Join(data, "images", "p*", "*.img"))
	files = append(files, inProcs...)
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
	p.stop(t)
	p = startServe(t, bin, "--data", data, "--memory-budget-mb", "1")
	for i := range n {
		if got := do("GET", fmt.Sprintf("/v1/workers/w%d/http/", i), ""); got != "3" {
			t.Errorf("w%d after a restart: third call answered %q", i, got)
		}
	}
}
