package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// built is the isobox binary the tests that need a real process share: it is built once per
// test run, into the run's temporary directory.
var built struct {
	once sync.Once
	path string
	err  string
}

// buildIsobox returns the path of this command built as a binary. It builds with -race when
// the test binary has it, so that the packages come from the build cache the test run has
// just filled and only the link is paid.
func buildIsobox(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		bin := filepath.Join(binDir, "isobox-bin")
		args := []string{"build", "-o", bin}
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "-race" && s.Value == "true" {
					args = append(args, "-race")
				}
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "go", append(args, ".")...).CombinedOutput(); err != nil {
			built.err = "go " + strings.Join(args, " ") + ": " + err.Error() + "\n" + string(out)
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
	deadline := time.Now().Add(time.Minute)
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
	case <-time.After(time.Minute):
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
