package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The sandbox processes of `isobox serve` do not inherit its environment: the admin API
// key given in ISOBOX_API_KEY is not in theirs (they hold no secrets). And they run
// confined: no_new_privs and a seccomp filter are in force.
func TestSandboxProcessesHaveNoSecretsAndAreConfined(t *testing.T) {
	bin := buildIsobox(t)
	p := startServe(t, bin, "--data", t.TempDir(), "--sandbox-processes", "2")
	if st, b, err := p.do("GET", "/healthz", ""); err != nil || st != 200 {
		t.Fatalf("healthz: %d %s %v", st, b, err)
	}
	// A snippet on each process (round robin), so that both have started and confined
	// themselves.
	for range 2 {
		if st, b, err := p.post("/v1/run", `{"code":"1 + 1"}`); err != nil || st != 200 || !strings.Contains(string(b), `"result":2`) {
			t.Fatalf("run: %d %s %v", st, b, err)
		}
	}
	// And the spare process, which starts once the two are up and confines itself once its
	// engine is: wait for it.
	var kids []int
	for deadline := time.Now().Add(hangGuard); time.Now().Before(deadline); {
		if kids = childrenOf(t, p.cmd.Process.Pid); len(kids) == 3 && confined(kids) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(kids) != 3 {
		t.Fatalf("isobox serve has %d child processes, want 2 sandbox processes and a spare", len(kids))
	}
	for _, pid := range kids {
		cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(cmdline), "sandbox-worker") {
			t.Fatalf("child %d is %q, not a sandbox worker", pid, cmdline)
		}
		env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(env), processKey) || strings.Contains(string(env), "ISOBOX_API_KEY") {
			t.Fatalf("sandbox process %d has the API key in its environment", pid)
		}
		// Confined: no new privileges, a seccomp filter (mode 2). What each layer blocks is
		// tested in internal/confine.
		status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"NoNewPrivs:\t1", "Seccomp:\t2"} {
			if !strings.Contains(string(status), want) {
				t.Errorf("sandbox process %d is not confined: /proc/%d/status lacks %q", pid, pid, want)
			}
		}
	}
}

// confined tells whether every process in pids has no_new_privs and a seccomp filter.
func confined(pids []int) bool {
	for _, pid := range pids {
		status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
		if err != nil || !strings.Contains(string(status), "NoNewPrivs:\t1") || !strings.Contains(string(status), "Seccomp:\t2") {
			return false
		}
	}
	return true
}

// childrenOf lists the processes whose parent is pid (from /proc/*/stat).
func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // exited meanwhile
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // state, ppid, ...
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			n, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			out = append(out, n)
		}
	}
	return out
}

// A relative --data works with sandbox processes: they are confined to their folders by
// absolute path, and a relative one once left every process unable to start (500 on every
// call).
func TestServeRelativeDataDir(t *testing.T) {
	bin := buildIsobox(t)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := startServe(t, bin, "--data", rel, "--sandbox-processes", "1")
	if st, b, err := p.post("/v1/run", `{"code":"1 + 1"}`); err != nil || st != 200 || !strings.Contains(string(b), `"result":2`) {
		t.Fatalf("run with --data %s: %d %s %v\n%s", rel, st, b, err, p.stderr)
	}
}
