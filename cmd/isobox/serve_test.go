package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serving is an `isobox serve` running in-process.
type serving struct {
	url            string
	stdout, stderr *syncBuffer
	stop           func() int // SIGTERM, as it were; returns the exit status
}

// serve runs `isobox serve` on a free loopback port and waits until it listens.
func serve(t *testing.T, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	exit := make(chan int, 1)
	args = append([]string{"serve", "--addr", "127.0.0.1:0", "--cache-dir", cacheDir}, args...)
	go func() { exit <- run(ctx, args, s.stdout, s.stderr) }()
	re := regexp.MustCompile(`serving the HTTP API on (http://\S+)`)
	deadline := time.Now().Add(hangGuard)
	for {
		if m := re.FindStringSubmatch(s.stderr.String()); m != nil {
			s.url = m[1]
			break
		}
		select {
		case code := <-exit:
			cancel()
			t.Fatalf("isobox serve exited %d: %s", code, s.stderr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("isobox serve did not start: %s", s.stderr)
		}
	}
	var once sync.Once
	var code int
	s.stop = func() int {
		once.Do(func() {
			cancel()
			code = <-exit
		})
		return code
	}
	t.Cleanup(func() { s.stop() })
	return s
}

func TestServe(t *testing.T) {
	t.Setenv("ISOBOX_API_KEY", "")
	data := t.TempDir()
	s := serve(t, "--data", data)
	key := strings.TrimSpace(s.stdout.String())
	if !strings.HasPrefix(key, "isobox_") || !strings.Contains(s.stderr.String(), "printed once") {
		t.Fatalf("first start: stdout %q stderr %q", key, s.stderr)
	}
	ctx := context.Background()
	c, _ := client.New(s.url, key)
	code := api.WorkerCode{MainModule: "main.js", Modules: map[string]api.Module{"main.js": api.JS(`export default { fetch() { return new Response("served") } }`)}}
	if _, err := c.PutWorker(ctx, "w", code); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Fetch(ctx, "w", client.FetchRequest{}); err != nil || *out.Body != "served" {
		t.Fatalf("fetch: %v %v", out, err)
	}
	if code := s.stop(); code != 0 || !strings.Contains(s.stderr.String(), "isobox: stopped") {
		t.Fatalf("stop: exit %d, %s", code, s.stderr)
	}

	// A restart keeps the key and prints nothing on stdout.
	s = serve(t, "--data", data)
	if s.stdout.String() != "" {
		t.Fatalf("second start printed %q", s.stdout)
	}
	c, _ = client.New(s.url, key)
	if out, err := c.Fetch(ctx, "w", client.FetchRequest{}); err != nil || *out.Body != "served" {
		t.Fatalf("after restart: %v %v", out, err)
	}
	s.stop()

	// ISOBOX_API_KEY sets the admin key.
	t.Setenv("ISOBOX_API_KEY", "from-the-environment-123")
	s = serve(t, "--data", data)
	c, _ = client.New(s.url, "from-the-environment-123")
	if _, err := c.ListWorkers(ctx, client.ListOptions{}); err != nil || s.stdout.String() != "" {
		t.Fatalf("with ISOBOX_API_KEY: %v, stdout %q", err, s.stdout)
	}
}

func TestServeBadUsage(t *testing.T) {
	for _, args := range [][]string{{"serve", "extra"}, {"serve", "--nope"}, {"serve", "--max-body-mb", "0"}, {"serve", "--memory-budget-mb", "0"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, %s", args, code, errb.String())
		}
	}
	t.Setenv("ISOBOX_API_KEY", "short")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--cache-dir", cacheDir}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "at least 16") {
		t.Fatalf("short ISOBOX_API_KEY: exit %d, %s", code, errb.String())
	}
}
