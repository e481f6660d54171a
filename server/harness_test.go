package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/internal/sandboxproc"
	"github.com/isobox/isobox/isoerr"
)

// cacheDir is the engine's compilation cache shared by every server the tests start.
var cacheDir string

// testWorkerEnv makes the test binary a sandbox worker process (the server's sandbox
// processes are this binary, re-executed).
const testWorkerEnv = "ISOBOX_SERVER_TEST_SANDBOX_WORKER"

// sandboxProcesses is the number of sandbox processes of every test server: 0 (in
// process) unless ISOBOX_TEST_SANDBOX_PROCESSES says otherwise, to run the whole suite
// against worker processes.
var sandboxProcesses, _ = strconv.Atoi(os.Getenv("ISOBOX_TEST_SANDBOX_PROCESSES"))

// sandboxCommand starts this test binary as a sandbox worker process.
func sandboxCommand() *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), testWorkerEnv+"=1")
	return cmd
}

func TestMain(m *testing.M) {
	if os.Getenv(testWorkerEnv) == "1" {
		if err := sandboxproc.ServeWorkerFD(context.Background(), nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	cacheDir = enginetest.CacheDir()
	os.Exit(m.Run())
}

const testKey = "test-admin-key-0123456789"

// testServer is a real server on a loopback port with a temporary data dir.
type testServer struct {
	*Server
	c      *client.Client
	url    string
	dir    string
	cancel context.CancelFunc
	done   chan error
}

// start starts a server; cfg.DataDir defaults to a temporary directory and cfg.AdminKey to
// testKey. It is shut down when the test ends.
func start(t testing.TB, cfg Config) *testServer {
	t.Helper()
	if cfg.DataDir == "" && cfg.Store == nil {
		cfg.DataDir = t.TempDir()
	}
	switch cfg.AdminKey {
	case "":
		cfg.AdminKey = testKey
	case "-": // none: the stored (or a new) admin key
		cfg.AdminKey = ""
	}
	cfg.CacheDir = cacheDir
	if cfg.SandboxProcesses == 0 && cfg.Loader == nil { // -1: in process whatever the environment says
		cfg.SandboxProcesses = sandboxProcesses
	}
	if cfg.SandboxProcesses > 0 && cfg.SandboxCommand == nil {
		cfg.SandboxCommand = sandboxCommand
	}
	cfg.Defaults = enginetest.Defaults
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler) // one line per request would drown the test output
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: s, url: "http://" + ln.Addr().String(), dir: cfg.DataDir, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- s.Serve(ctx, ln) }()
	ts.c, err = client.New(ts.url, cfg.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// stop shuts the server down and waits for it.
func (ts *testServer) stop(t testing.TB) {
	ts.cancel()
	select {
	case err := <-ts.done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
		ts.done <- nil // later stops return at once
	case <-time.After(time.Minute):
		t.Errorf("server did not stop within a minute")
	}
}

// js returns WorkerCode with one ES module, main.js.
func js(src string) api.WorkerCode {
	return api.WorkerCode{MainModule: "main.js", Modules: map[string]api.Module{"main.js": api.JS(src)}}
}

const helloJS = `let calls = 0;
export default {
  async fetch(req, env) {
    calls++;
    const url = new URL(req.url);
    console.log("handling " + req.method + " " + url.pathname);
    const body = req.method === "GET" || req.method === "HEAD" ? "" : await req.text();
    return Response.json({ hello: url.searchParams.get("name") ?? "world", calls, method: req.method,
      path: url.pathname + url.search, host: url.host, auth: req.headers.get("authorization"), body,
      tag: env.TAG ?? null });
  },
  add(a, b) { return a + b; },
  notAFunction: 42,
};`

// rawResult is an answer read without the client: status, headers, body and the typed
// error if the body is one.
type rawResult struct {
	status int
	header http.Header
	body   []byte
	err    *isoerr.Error
}

// raw sends one request with the admin key (unless header says otherwise).
func (ts *testServer) raw(t testing.TB, method, path string, body []byte, header http.Header) rawResult {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := rawResult{status: resp.StatusCode, header: resp.Header, body: b}
	var e struct {
		Error *isoerr.Error `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil {
		r.err = e.Error
	}
	return r
}

// wantCode fails unless err is an *isoerr.Error with code.
func wantCode(t testing.TB, err error, code isoerr.Code) {
	t.Helper()
	var e *isoerr.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v (%T), want code %s", err, err, code)
	}
}

func logLines(n int) []engine.Log {
	out := make([]engine.Log, n)
	for i := range out {
		out[i] = engine.Log{Level: "log", Message: "x", Time: time.Now()}
	}
	return out
}
