package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/isoerr"
)

const loggerJS = `export default {
  log(n) { console.log("line " + n); console.warn("warn " + n); return n },
  fetch(req) { console.info("fetch " + new URL(req.url).pathname); return new Response("ok") },
}`

func TestLogs(t *testing.T) {
	ts := start(t, Config{LogLines: 5})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts.c.PutWorker(ctx, "logger", js(loggerJS))
	ts.c.PutWorker(ctx, "other", js(loggerJS))

	stream, err := ts.c.FollowLogs(ctx, "logger", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	ts.c.Call(ctx, "other", "log", 99) // another worker's lines never show up here
	ts.c.Call(ctx, "logger", "log", 1)
	ts.c.Forward(ctx, "logger", "GET", "/path", nil, nil)
	ts.c.Call(ctx, "logger", "log", 2)
	var got []string
	var seqs []uint64
	invs := map[string]bool{}
	for len(got) < 5 {
		e, err := stream.Next()
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, e.Level+" "+e.Message)
		seqs = append(seqs, e.Seq)
		invs[e.Invocation] = true
		if e.Time.IsZero() || !strings.HasPrefix(e.Invocation, "inv_") {
			t.Fatalf("entry %+v", e)
		}
	}
	if want := "log line 1|warn warn 1|info fetch /path|log line 2|warn warn 2"; strings.Join(got, "|") != want {
		t.Fatalf("followed %q, want %q", got, want)
	}
	if len(invs) != 3 || seqs[0] != 1 || seqs[4] != 5 {
		t.Fatalf("seqs %v, invocations %v", seqs, invs)
	}

	// Without follow: the ring, bounded to LogLines.
	ts.c.Call(ctx, "logger", "log", 3)
	recent, err := ts.c.Logs(ctx, "logger", 0)
	if err != nil || len(recent) != 5 || recent[0].Seq != 3 || recent[4].Message != "warn 3" {
		t.Fatalf("recent: %+v %v", recent, err)
	}
	recent, _ = ts.c.Logs(ctx, "logger", 6)
	if len(recent) != 1 || recent[0].Seq != 7 {
		t.Fatalf("since 6: %+v", recent)
	}
	// Resuming with Last-Event-ID replays what was missed, then follows.
	resumed, err := ts.c.FollowLogs(ctx, "logger", 5)
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	for _, want := range []uint64{6, 7} {
		if e, err := resumed.Next(); err != nil || e.Seq != want {
			t.Fatalf("resumed: %+v %v, want seq %d", e, err, want)
		}
	}
	_, err = ts.c.Logs(ctx, "nobody", 0)
	wantCode(t, err, isoerr.NotFound)
	_, err = ts.c.FollowLogs(ctx, "nobody", 0)
	wantCode(t, err, isoerr.NotFound)

	// Raw SSE framing.
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.url+"/v1/workers/logger/logs?follow=1", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Last-Event-ID", "6")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	buf := make([]byte, 4096)
	var sb strings.Builder
	for !strings.Contains(sb.String(), "\n\n"+"id: 7\n") {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			t.Fatalf("%v after %q", err, sb.String())
		}
	}
	resp.Body.Close()
	if !regexp.MustCompile(`id: 7\nevent: log\ndata: \{"seq":7,"invocation":"inv_[0-9a-f]+","level":"warn","message":"warn 3","time":"[^"]+"\}\n\n`).MatchString(sb.String()) {
		t.Fatalf("SSE framing: %q", sb.String())
	}

	// A deleted worker's ring goes away.
	ts.c.DeleteWorker(ctx, "other")
	ts.c.PutWorker(ctx, "other", js(loggerJS))
	if l, _ := ts.c.Logs(ctx, "other", 0); len(l) != 0 {
		t.Fatalf("a new worker under a deleted id sees the old logs: %+v", l)
	}
}

func TestLogRingBounds(t *testing.T) {
	h := newLogHub(3, 2)
	for _, id := range []string{"a", "b", "c"} {
		h.publish(id, "inv", nil)
	}
	if _, ok := h.rings["a"]; ok || len(h.rings) != 2 {
		t.Fatalf("rings: %v", h.rings)
	}
	// A followed ring is never dropped, and a slow follower is cut off, not waited for.
	_, sub := h.subscribe("b", 0)
	h.publish("d", "inv", nil)
	h.publish("e", "inv", nil)
	if _, ok := h.rings["b"]; !ok {
		t.Fatal("followed ring dropped")
	}
	for range subBuffer + 1 {
		h.publish("b", "inv", logLines(1))
	}
	n := 0
	for range sub.ch {
		n++
	}
	if n != subBuffer {
		t.Fatalf("slow follower got %d lines before being cut off, want %d", n, subBuffer)
	}
	if got := h.recent("b", 0); len(got) != 3 || got[2].Seq != subBuffer+1 {
		t.Fatalf("ring: %+v", got)
	}
}

func TestMetrics(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	ts.c.PutWorker(ctx, "hello", js(helloJS))
	ts.c.Fetch(ctx, "hello", client.FetchRequest{})
	ts.c.Fetch(ctx, "hello", client.FetchRequest{})
	ts.c.Call(ctx, "hello", "nope")
	ts.c.Eval(ctx, "while(true){}", nil)
	m, err := ts.c.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`isobox_invocations_total{outcome="ok",route="fetch"} 2`,
		`isobox_invocations_total{outcome="error",route="call"} 1`,
		`isobox_invocations_total{outcome="error",route="eval"} 1`,
		`isobox_invocation_errors_total{code="method_not_found"} 1`,
		`isobox_invocation_errors_total{code="cpu_limit_exceeded"} 1`,
		`isobox_invocation_starts_total{start="cold"} 2`, // hello's first fetch, the eval
		`isobox_invocation_starts_total{start="warm"} 1`,
		`isobox_invocation_cpu_ms_bucket{le="0.1"}`,
		`isobox_invocation_cpu_ms_count 4`,
		`isobox_invocation_wall_ms_count 4`,
		`isobox_sandboxes{state="idle"} 1`,
		`isobox_sandboxes{state="busy"} 0`,
		`isobox_loader_workers 1`,
		`isobox_sandbox_idle_memory_bytes `,
		`isobox_http_requests_total{route="POST /v1/workers/{id}/fetch",status="200"} 2`,
		`isobox_http_requests_total{route="POST /v1/workers/{id}/call/{method}",status="404"} 1`,
		`process_resident_memory_bytes `,
		`go_goroutines `,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Log(m)
	}
}

// The OpenAPI document lists exactly the routes the server registers.
func TestOpenAPICoversRoutes(t *testing.T) {
	ts := start(t, Config{})
	served, err := ts.c.OpenAPI(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(served, openAPI) {
		t.Fatal("GET /v1/openapi.json differs from server/openapi.json")
	}
	onDisk, err := os.ReadFile("openapi.json")
	if err != nil || !bytes.Equal(onDisk, openAPI) {
		t.Fatalf("embedded document differs from openapi.json (%v)", err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	anyMethod := []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}
	registered := map[string]bool{}
	for _, rt := range ts.Routes() {
		method, path, ok := strings.Cut(rt, " ")
		methods := []string{method}
		if !ok {
			path, methods = method, anyMethod
		}
		path = strings.ReplaceAll(path, "...}", "}")
		for _, m := range methods {
			registered[m+" "+path] = true
		}
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" || m == "description" || m == "summary" {
				continue
			}
			documented[strings.ToUpper(m)+" "+path] = true
		}
	}
	var missing, extra []string
	for r := range registered {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		if !registered[r] {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("registered but not in openapi.json: %q\nin openapi.json but not registered: %q", missing, extra)
	}
	if len(registered) < 20 {
		t.Fatalf("only %d routes registered", len(registered))
	}
}

// A restart with the same data directory keeps the workers and the admin key's hash; the
// key is printed once and never stored.
// TestDataDirNamedWithURIBytes runs a server whose data folder's name holds the bytes a
// SQLite URI gives a meaning to (`#`, `?`, `%`): its databases are its own three files in
// that folder, and what it stored is there after a restart. Before, `data#1` put the
// store, the workspaces and the meter into one file `data` beside the folder.
func TestDataDirNamedWithURIBytes(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "data#1?x=%41")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ts := start(t, Config{DataDir: dir})
	if _, err := ts.c.PutWorker(ctx, "kept", js(helloJS)); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.c.PutFile(ctx, "proj", "a.txt", strings.NewReader("kept"), 4, client.FileOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.c.Fetch(ctx, "kept", client.FetchRequest{URL: "http://x/?name=first"}); err != nil {
		t.Fatal(err)
	}
	ts.stop(t)
	if entries, _ := os.ReadDir(parent); len(entries) != 1 || entries[0].Name() != filepath.Base(dir) {
		t.Fatalf("beside the data folder: %v", entries)
	}
	for _, name := range []string{"isobox.db", "workspaces.db", "usage.db"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			t.Fatalf("%s: %v (a database that stayed empty was written elsewhere)", name, err)
		}
	}
	ts = start(t, Config{DataDir: dir, AdminKey: testKey})
	out, err := ts.c.Fetch(ctx, "kept", client.FetchRequest{URL: "http://x/?name=again"})
	if err != nil || !strings.Contains(*out.Body, `"hello":"again"`) {
		t.Fatalf("after restart: %+v %v", out, err)
	}
	if b, err := ts.c.ReadFile(ctx, "proj", "a.txt"); err != nil || string(b) != "kept" {
		t.Fatalf("the workspace file after restart: %q %v", b, err)
	}
}

func TestRestartKeepsWorkersAndKey(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s1, err := New(Config{DataDir: dir, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	key := s1.NewAdminKey()
	if !regexp.MustCompile(`^isobox_[A-Za-z0-9_-]{43}$`).MatchString(key) {
		t.Fatalf("admin key %q", key)
	}
	c1 := httptestClient(t, s1, key)
	if _, err := c1.PutWorker(ctx, "kept", js(helloJS)); err != nil {
		t.Fatal(err)
	}
	if err := s1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"isobox.db", "isobox.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if bytes.Contains(b, []byte(key)) || bytes.Contains(b, []byte(key[7:])) {
			t.Fatalf("%s holds the key in clear", name)
		}
	}

	ts := start(t, Config{DataDir: dir, AdminKey: "-"})
	if ts.NewAdminKey() != "" {
		t.Fatal("a second start made a new admin key")
	}
	c := ts.c.WithAPIKey(key)
	out, err := c.Fetch(ctx, "kept", client.FetchRequest{URL: "http://x/?name=again"})
	if err != nil || !strings.Contains(*out.Body, `"hello":"again"`) {
		t.Fatalf("after restart: %+v %v", out, err)
	}
	ts.stop(t)

	// ISOBOX_API_KEY replaces the stored admin key.
	ts = start(t, Config{DataDir: dir, AdminKey: "another-key-0123456789"})
	if _, err := ts.c.WithAPIKey(key).ListWorkers(ctx, client.ListOptions{}); err == nil {
		t.Fatal("the replaced key still works")
	}
	if l, err := ts.c.WithAPIKey("another-key-0123456789").ListWorkers(ctx, client.ListOptions{}); err != nil || len(l.Workers) != 1 {
		t.Fatalf("with the new key: %+v %v", l, err)
	}
	if _, err := New(Config{DataDir: dir, AdminKey: "short"}); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Fatalf("a short admin key: %v", err)
	}
}

// httptestClient serves s's handler on a loopback httptest server.
func httptestClient(t *testing.T, s *Server, key string) *client.Client {
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	c, err := client.New(hs.URL, key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Shutdown lets in-flight invocations finish, refuses new ones with shutting_down, ends
// log streams, and then stops.
func TestGracefulShutdown(t *testing.T) {
	ts := start(t, Config{})
	ctx := context.Background()
	ts.c.PutWorker(ctx, "slow", js(`export default { async fetch() {
  console.log("started"); await new Promise(r => setTimeout(r, 700)); return new Response("done") } }`))
	stream, err := ts.c.FollowLogs(ctx, "slow", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	type result struct {
		body string
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		out, err := ts.c.Fetch(ctx, "slow", client.FetchRequest{})
		if err != nil {
			inflight <- result{"", err}
			return
		}
		inflight <- result{*out.Body, nil}
	}()
	waitFor(t, "the invocation to be in flight", func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return ts.inflight == 1
	})
	ts.cancel() // as SIGTERM does in isobox serve
	waitFor(t, "draining", ts.Draining)

	// New invocations are refused while the old one finishes.
	for _, path := range []string{"/v1/workers/slow/fetch", "/v1/run", "/v1/workers/slow/http/"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", path, strings.NewReader(`{"code":"1"}`))
		req.Header.Set("Authorization", "Bearer "+testKey)
		ts.Handler().ServeHTTP(rec, req)
		var e struct{ Error *isoerr.Error }
		json.Unmarshal(rec.Body.Bytes(), &e)
		if rec.Code != 503 || e.Error == nil || e.Error.Code != isoerr.ShuttingDown || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("POST %s while draining: %d %s", path, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	ts.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 503 {
		t.Fatalf("healthz while draining: %d", rec.Code)
	}
	// The log stream ends.
	for {
		if _, err := stream.Next(); err != nil {
			break
		}
	}
	r := <-inflight
	if r.err != nil || r.body != "done" {
		t.Fatalf("in-flight invocation: %q %v", r.body, r.err)
	}
	if err := <-ts.done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	ts.done <- nil
	if _, err := ts.c.ListWorkers(ctx, client.ListOptions{}); err == nil {
		t.Fatal("the server still answers after shutdown")
	}
}

// In-flight invocations that outlive ShutdownTimeout are canceled.
func TestShutdownIsBounded(t *testing.T) {
	ts := start(t, Config{ShutdownTimeout: 300 * time.Millisecond})
	ctx := context.Background()
	ts.c.PutWorker(ctx, "sleepy", js(`export default { async fetch() { await new Promise(r => setTimeout(r, 20000)); return new Response("late") } }`))
	errc := make(chan error, 1)
	go func() {
		_, err := ts.c.Fetch(ctx, "sleepy", client.FetchRequest{})
		errc <- err
	}()
	waitFor(t, "the invocation to be in flight", func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return ts.inflight == 1
	})
	start := time.Now()
	ts.cancel()
	err := <-ts.done
	ts.done <- nil
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Serve: %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Fatalf("shutdown took %v with a 20 s timer in flight", el)
	}
	if err := <-errc; err == nil {
		t.Fatal("the canceled invocation succeeded")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute) // a hang guard: one slow core under -race
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHealth(t *testing.T) {
	ts := start(t, Config{})
	r := ts.raw(t, "GET", "/healthz", nil, http.Header{"Authorization": nil})
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"ok":true`)) {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}
}
