package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// built is the isobox binary the tests that need a real process share, made once per test
// run in the run's temporary directory.
var built struct {
	once sync.Once
	path string
	err  string
}

// binName is the name under which this test binary is isobox: TestMain runs isobox's main
// when it is started under it.
const binName = "isobox"

// buildIsobox returns the path of an isobox binary for the tests that run it as a process
// of its own: this test binary, linked under binName, which runs main (the same main, run
// and packages as `go build` makes, compiled with the same flags, -race among them). Linking
// a binary of its own under -race took ~15 s of a one-core CI run.
func buildIsobox(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			built.err = err.Error()
			return
		}
		bin := filepath.Join(binDir, binName)
		if err := os.Symlink(exe, bin); err != nil {
			built.err = err.Error()
			return
		}
		built.path = bin
	})
	if built.err != "" {
		t.Fatal(built.err)
	}
	return built.path
}

// process is an `isobox serve` running as a separate process, on a free loopback port,
// with processKey as its admin key.
type process struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
	exited chan error // receives cmd.Wait's result once
	done   bool       // stopped or killed
}

const processKey = "process-test-admin-key-0123456789"

// startServe runs `isobox serve` from bin with args and waits until it listens. The test's
// end kills it if it still runs.
func startServe(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{stderr: &syncBuffer{}, exited: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--cache-dir", cacheDir}, args...)...)
	p.cmd.Env = append(os.Environ(), "ISOBOX_API_KEY="+processKey)
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if !p.done {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	re := regexp.MustCompile(`serving the HTTP API on (http://\S+)`)
	deadline := time.Now().Add(hangGuard)
	for {
		if m := re.FindStringSubmatch(p.stderr.String()); m != nil {
			p.url = m[1]
			return p
		}
		select {
		case err := <-p.exited:
			p.done = true
			t.Fatalf("isobox serve exited: %v\n%s", err, p.stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("isobox serve did not start: %s", p.stderr)
		}
	}
}

// kill sends SIGKILL: no shutdown, no hibernation, nothing flushed.
func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	p.done = true
}

// stop sends SIGTERM and checks that the server drains and exits cleanly.
func (p *process) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("isobox serve: %v\n%s", err, p.stderr)
		}
	case <-time.After(hangGuard):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("isobox serve did not stop on SIGTERM: %s", p.stderr)
	}
	p.done = true
}

// do sends a request with the admin key and returns the status and body; err is a
// transport error (the process is gone).
func (p *process) do(method, path, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, p.url+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+processKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// post is do with POST.
func (p *process) post(path, body string) (int, []byte, error) {
	return p.do(http.MethodPost, path, body)
}

// Every copy or link of one build, and so every `go run ./cmd/isobox` (a binary in a new
// temporary directory each time), shares one base image in the cache directory: it was
// named by the executable's path and time, and each new path made and kept another 2.5 MiB
// image.
func TestOneBaseImagePerBuild(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	for _, dir := range []string{"a", "b"} {
		bin := filepath.Join(t.TempDir(), dir, binName)
		if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(exe, bin); err != nil { // another file system: a copy
			b, rerr := os.ReadFile(exe)
			if rerr != nil || os.WriteFile(bin, b, 0o755) != nil {
				t.Fatalf("link or copy the test binary as %s: %v, %v", bin, err, rerr)
			}
		}
		out, err := exec.Command(bin, "eval", "--cache-dir", cache, "1+1").CombinedOutput()
		if err != nil || string(out) != "2\n" {
			t.Fatalf("%s eval: %v, output %q", bin, err, out)
		}
	}
	images, _ := filepath.Glob(filepath.Join(cache, "base-*.img"))
	if len(images) != 1 {
		t.Fatalf("base images in the cache after two binaries of one build ran: %v, want one", images)
	}
}
