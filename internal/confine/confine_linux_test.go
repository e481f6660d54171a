package confine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	seccomp "github.com/elastic/go-seccomp-bpf"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/confine"
	"github.com/isobox/isobox/isoerr"
)

// The test binary doubles as the worker process: with CONFINE_TEST_CHILD set, TestMain
// runs child() instead of the tests, as a worker started by a supervisor would.
const (
	envMode    = "CONFINE_TEST_CHILD"   // "confined", "control" (no Apply) or "tripwire"
	envCache   = "CONFINE_TEST_CACHE"   // the worker's cache directory
	envRW      = "CONFINE_TEST_RW"      // another directory the worker may write (its images)
	envOutside = "CONFINE_TEST_OUTSIDE" // a readable file outside it
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envMode); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// result is what a child prints on stdout for the parent to assert on.
type result struct {
	Report confine.Report `json:"report"`
	// Probes maps an attempt to "" when it succeeded or its error.
	Probes map[string]string `json:"probes"`
	// Errnos holds the errno of each failed probe that has one.
	Errnos map[string]int `json:"errnos"`
	// Resident and Memory are a restored sandbox's ResidentBytes and MemoryBytes.
	Resident, Memory int
	// ApplyMicros is how long Apply took (logged, not asserted).
	ApplyMicros int64
	// NS maps a namespace kind to the /proc/self/ns link the child sees.
	NS map[string]string `json:"ns"`
	// Speculation holds the child's Speculation_* lines of /proc/self/status.
	Speculation []string `json:"speculation"`
}

func (r *result) probe(name string, err error) {
	if err == nil {
		r.Probes[name] = ""
		return
	}
	r.Probes[name] = err.Error()
	var errno syscall.Errno
	if errors.As(err, &errno) {
		r.Errnos[name] = int(errno)
	}
}

func child(mode string) int {
	cache := os.Getenv(envCache)
	res := result{Probes: map[string]string{}, Errnos: map[string]int{}, NS: map[string]string{}}
	out := json.NewEncoder(os.Stdout)
	if mode != "control" {
		start := time.Now()
		rep, err := confine.Apply(confine.Policy{CacheDir: cache, ReadWrite: readWrite(), ReadOnly: []string{"/proc/self"}})
		res.ApplyMicros = time.Since(start).Microseconds()
		res.Report = rep
		if err != nil {
			fmt.Fprintln(os.Stderr, "apply:", err)
			_ = out.Encode(res)
			return 2
		}
	}
	if mode == "tripwire" {
		// A tripwire syscall: the process must die here, by SIGSYS.
		_, _, e := syscall.RawSyscall(syscall.SYS_PTRACE, syscall.PTRACE_TRACEME, 0, 0)
		fmt.Fprintln(os.Stderr, "ptrace returned", e)
		return 3
	}
	for _, kind := range []string{"user", "mnt", "net", "pid", "ipc", "uts"} {
		link, err := os.Readlink("/proc/self/ns/" + kind)
		if err != nil {
			link = "error: " + err.Error()
		}
		res.NS[kind] = link
	}
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "Speculation") {
				res.Speculation = append(res.Speculation, strings.Join(strings.Fields(line), " "))
			}
		}
	}

	// The filesystem: outside the cache nothing, inside it everything.
	f, err := os.Open(os.Getenv(envOutside))
	if err == nil {
		f.Close()
	}
	res.probe("open_outside", err)
	_, err = os.ReadDir("/")
	res.probe("list_root", err)
	err = os.WriteFile(filepath.Join(cache, "written"), []byte("ok"), 0o600)
	res.probe("write_cache", err)
	_, err = os.ReadFile(filepath.Join(cache, "written"))
	res.probe("read_cache", err)
	if d := os.Getenv(envRW); d != "" {
		err = os.WriteFile(filepath.Join(d, "image"), []byte("ok"), 0o600)
		res.probe("write_rw", err)
	}

	// Another process's limits (the supervisor's): prlimit64 is allowed on itself only.
	var lim unix.Rlimit
	res.probe("prlimit_parent", unix.Prlimit(os.Getppid(), unix.RLIMIT_NOFILE, nil, &lim))
	res.probe("prlimit_self", unix.Prlimit(0, unix.RLIMIT_NOFILE, nil, &lim))

	// The network: no socket of any family.
	for _, fam := range []struct {
		name string
		af   int
	}{{"socket_inet", unix.AF_INET}, {"socket_inet6", unix.AF_INET6}, {"socket_unix", unix.AF_UNIX}, {"socket_netlink", unix.AF_NETLINK}} {
		fd, err := unix.Socket(fam.af, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if fam.af == unix.AF_NETLINK {
			fd, err = unix.Socket(fam.af, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		}
		if err == nil {
			unix.Close(fd)
		}
		res.probe(fam.name, err)
	}
	var pair [2]int
	pair, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		unix.Close(pair[0])
		unix.Close(pair[1])
	}
	res.probe("socketpair", err)

	// The inherited socket pair (fd 3) still carries messages to the supervisor.
	// net.FileConn is how a worker would hold it (dup, getsockopt, getsockname, epoll).
	conn, err := net.FileConn(os.NewFile(3, "supervisor"))
	if err == nil {
		_, err = conn.Write([]byte("hello from the worker"))
		conn.Close()
	}
	res.probe("inherited_socket", err)

	// Processes: no fork, no exec.
	run := exec.Command("/bin/true")
	run.Stdin, run.Stdout, run.Stderr = os.Stdin, os.Stderr, os.Stderr // no /dev/null to open
	res.probe("run_true", run.Run())
	pid, _, e := syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
	if e == 0 && pid == 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0) // the forked copy leaves at once
	}
	if e == 0 {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(int(pid), &ws, 0, nil)
		res.probe("fork", nil)
	} else {
		res.probe("fork", e)
	}
	if mode != "control" {
		// Were execve allowed, this process would become /bin/true, print nothing and
		// exit 0; the parent would fail on the missing report.
		res.probe("execve", syscall.Exec("/bin/true", []string{"true"}, nil))
	}

	// The real engine: compile (or load from the cache), evaluate, snapshot, restore into a
	// copy-on-write memfd mapping, fork, and account resident memory through pagemap.
	res.probe("engine", runEngine(cache, &res))

	if err := out.Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func runEngine(cache string, res *result) error {
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{CacheDir: cache, Defaults: engine.Limits{CPU: 20 * engine.DefaultLimits().CPU}})
	if err != nil {
		return fmt.Errorf("engine.New: %w", err)
	}
	defer e.Close(ctx)
	sb, err := e.NewSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		return fmt.Errorf("NewSandbox: %w", err)
	}
	defer sb.Close(ctx)
	eval := func(sb *engine.Sandbox, code, want string) error {
		r, err := sb.Eval(ctx, engine.Limits{}, code)
		if err != nil {
			return fmt.Errorf("eval %q: %w", code, err)
		}
		if string(r.Value) != want {
			return fmt.Errorf("eval %q = %s, want %s", code, r.Value, want)
		}
		return nil
	}
	if err := eval(sb, "globalThis.n = [1,2,3].map(x => x * 14).reduce((a, b) => a + b); n", "84"); err != nil {
		return err
	}
	img, err := sb.Snapshot()
	if err != nil {
		return fmt.Errorf("Snapshot: %w", err)
	}
	r, err := e.Restore(ctx, img, engine.SandboxConfig{})
	if err != nil {
		return fmt.Errorf("Restore: %w", err)
	}
	defer r.Close(ctx)
	if err := eval(r, "n += 1; n", "85"); err != nil {
		return err
	}
	res.Resident, res.Memory = r.ResidentBytes(), r.MemoryBytes()
	f, err := r.Fork(ctx)
	if err != nil {
		return fmt.Errorf("Fork: %w", err)
	}
	defer f.Close(ctx)
	if err := eval(f, "n *= 2; n", "170"); err != nil {
		return err
	}
	return eval(r, "n", "85")
}

// kernel is what this machine's kernel offers, found independently of the package.
type kernel struct {
	landlock int // ABI version, 0 without
	seccomp  bool
}

func probeKernel(t *testing.T) kernel {
	var k kernel
	if v, err := ll.LandlockGetABIVersion(); err == nil {
		k.landlock = v
	}
	k.seccomp = seccomp.Supported()
	t.Logf("this kernel: landlock ABI %d, seccomp filters %v", k.landlock, k.seccomp)
	return k
}

// runChild starts the test binary as a worker in mode, through confine.Start, with one
// end of a socket pair as fd 3, and returns what it printed, the supervisor end's first
// message, the namespace report and the wait error.
func runChild(t *testing.T, mode, cache, outside string) (res result, msg string, nsRep confine.Report, waitErr error) {
	t.Helper()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := os.NewFile(uintptr(pair[0]), "sup"), os.NewFile(uintptr(pair[1]), "worker")
	defer mine.Close()
	var stdout, stderr bytes.Buffer
	cmd, nsRep, err := confine.Start(func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envMode+"="+mode, envCache+"="+cache, envOutside+"="+outside)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.ExtraFiles = []*os.File{theirs}
		return cmd
	})
	theirs.Close()
	if err != nil {
		t.Fatalf("start %s child: %v", mode, err)
	}
	waitErr = cmd.Wait()
	// The child has exited and its end is closed: Read returns what it sent, or EOF.
	buf := make([]byte, 64)
	if n, _ := mine.Read(buf); n > 0 {
		msg = string(buf[:n])
	}
	t.Logf("%s child: namespaces %s; stderr: %s", mode, nsRep, stderr.String())
	if mode != "tripwire" {
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("%s child printed no report (%v, exit %v): %q", mode, err, waitErr, stdout.String())
		}
	}
	return res, msg, nsRep, waitErr
}

// TestConfinedWorker is the proof of issue 10 point 2: a confined worker process cannot
// open a file outside its cache, create a socket, fork or exec, and still runs the real
// engine (compile cache, evaluation, snapshot, copy-on-write restore, fork, pagemap).
// A control child without Apply shows that every probe can succeed on this machine, so
// each failure below is the confinement's doing.
func TestConfinedWorker(t *testing.T) {
	k := probeKernel(t)
	cache := t.TempDir()
	outsideDir := t.TempDir()
	if err := os.Chmod(outsideDir, 0o755); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(outsideDir, "secret.txt")
	if err := os.WriteFile(outside, []byte("not for workers"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The cache directory belongs to the worker (in a user namespace, to its uid), and so
	// does the other directory it may write.
	rw := t.TempDir()
	for _, d := range []string{cache, rw} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(envRW, rw)

	ctl, _, _, err := runChild(t, "control", cache, outside)
	if err != nil {
		t.Fatalf("control child: %v", err)
	}
	for _, p := range []string{"open_outside", "list_root", "write_cache", "write_rw", "socket_inet", "socket_unix", "socketpair", "run_true", "fork", "prlimit_parent", "engine"} {
		if e := ctl.Probes[p]; e != "" {
			t.Errorf("control (unconfined) child: %s failed (%s): the probe cannot tell confinement from a broken machine", p, e)
		}
	}

	res, msg, nsRep, err := runChild(t, "confined", cache, outside)
	if err != nil {
		t.Fatalf("confined child: %v", err)
	}
	t.Logf("confined child: Apply took %d µs: %s", res.ApplyMicros, res.Report)

	// The filter switched on no speculation mitigation (SPEC_ALLOW): on a kernel whose
	// default forces them on seccomp-filtered threads (before 5.16), a confined worker
	// would run with Speculative Store Bypass Disable while an unconfined one does not.
	if len(ctl.Speculation) == 0 {
		t.Log("the kernel reports no speculation state in /proc/self/status")
	}
	if !slices.Equal(res.Speculation, ctl.Speculation) {
		t.Errorf("speculation state confined %q, unconfined %q", res.Speculation, ctl.Speculation)
	}

	// Every layer this kernel supports is in force.
	want := map[string]bool{confine.LayerRlimits: true, confine.LayerNoNewPrivs: true,
		confine.LayerLandlock: k.landlock > 0, confine.LayerSeccomp: k.seccomp}
	for name, supported := range want {
		l, ok := res.Report.Layer(name)
		if !ok {
			t.Errorf("report has no %s layer", name)
		} else if supported && !l.Applied {
			t.Errorf("%s: supported by this kernel but not applied: %s", name, l.Detail)
		}
	}

	type expect struct {
		probe  string
		when   bool            // the layer that makes it fail is supported
		errnos []syscall.Errno // accepted errors
	}
	denied := []expect{
		{"open_outside", k.landlock > 0, []syscall.Errno{syscall.EACCES}},
		{"list_root", k.landlock > 0, []syscall.Errno{syscall.EACCES}},
		{"socket_inet", k.seccomp, []syscall.Errno{syscall.EPERM}},
		{"socket_inet6", k.seccomp, []syscall.Errno{syscall.EPERM}},
		{"socket_unix", k.seccomp, []syscall.Errno{syscall.EPERM}},
		{"socket_netlink", k.seccomp, []syscall.Errno{syscall.EPERM}},
		{"socketpair", k.seccomp, []syscall.Errno{syscall.EPERM}},
		{"run_true", k.seccomp, []syscall.Errno{syscall.EPERM}},
		{"fork", k.seccomp, []syscall.Errno{syscall.EPERM}},
		{"prlimit_parent", k.seccomp, []syscall.Errno{syscall.EPERM}},
		// Landlock denies execute too (EACCES) but seccomp answers first.
		{"execve", k.seccomp || k.landlock > 0, []syscall.Errno{syscall.EPERM, syscall.EACCES}},
	}
	for _, d := range denied {
		got, ran := res.Probes[d.probe]
		switch {
		case !ran:
			t.Errorf("%s: not attempted", d.probe)
		case !d.when:
			t.Logf("%s: this kernel lacks the layer that denies it (got %q)", d.probe, got)
		case got == "":
			t.Errorf("%s: succeeded under confinement", d.probe)
		default:
			errno := syscall.Errno(res.Errnos[d.probe])
			ok := false
			for _, e := range d.errnos {
				ok = ok || errno == e
			}
			if !ok {
				t.Errorf("%s: failed with %q (errno %d), want one of %v", d.probe, got, errno, d.errnos)
			}
		}
	}
	for _, p := range []string{"write_cache", "read_cache", "write_rw", "inherited_socket", "prlimit_self", "engine"} {
		if e, ran := res.Probes[p]; !ran || e != "" {
			t.Errorf("%s: must work under confinement, got %q (attempted %v)", p, e, ran)
		}
	}
	if msg != "hello from the worker" {
		t.Errorf("supervisor end of the socket pair read %q", msg)
	}
	// Pagemap (read-only /proc/self) and copy-on-write images (memfd) still work: a
	// restored sandbox holds only the pages it wrote, far less than its whole memory.
	if res.Memory == 0 || res.Resident*4 > res.Memory {
		t.Errorf("restored sandbox resident %d of %d bytes: pagemap or the memfd image is not working under confinement", res.Resident, res.Memory)
	}

	// Namespaces: the kernel let Start use some set (this machine allows all); each kind
	// Start reports differs from the parent's.
	l, _ := nsRep.Layer(confine.LayerNamespaces)
	if l.Applied {
		for _, kind := range strings.Split(l.Detail, ",") {
			file := map[string]string{"mount": "mnt"}[kind]
			if file == "" {
				file = kind
			}
			mine, _ := os.Readlink("/proc/self/ns/" + file)
			if res.NS[file] == mine || strings.HasPrefix(res.NS[file], "error") {
				t.Errorf("namespace %s: worker %q, parent %q: not a new one", kind, res.NS[file], mine)
			}
		}
	}
	t.Logf("namespaces: %s", nsRep)
}

// TestTripwireKillsWorker: a syscall no worker ever makes (ptrace) kills the process
// by SIGSYS instead of returning an error the escaped guest could probe around.
func TestTripwireKillsWorker(t *testing.T) {
	k := probeKernel(t)
	if !k.seccomp {
		t.Logf("this kernel has no seccomp: the tripwire cannot exist; checking that Apply reports it off")
	}
	cache := t.TempDir()
	_, _, _, err := runChild(t, "tripwire", cache, "/nonexistent")
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("tripwire child: %v, want it killed", err)
	}
	ws := exit.Sys().(syscall.WaitStatus)
	if k.seccomp && (!ws.Signaled() || ws.Signal() != syscall.SIGSYS) {
		t.Fatalf("tripwire child ended with %v, want killed by SIGSYS", exit)
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    confine.Policy
	}{
		{"no cache dir", confine.Policy{}},
		{"relative cache dir", confine.Policy{CacheDir: "cache"}},
		{"relative read-only path", confine.Policy{CacheDir: "/tmp", ReadOnly: []string{"proc"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := confine.Apply(tc.p)
			if isoerr.CodeOf(err) != isoerr.InvalidRequest {
				t.Fatalf("Apply(%+v) = %v, want invalid_request", tc.p, err)
			}
		})
	}
}

// TestPidNamespaceRefused: a worker started in a new pid namespace that still sees the
// host's /proc gets an error from Apply instead of hanging in psx for ever.
func TestPidNamespaceRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // only so a hang ends
	defer cancel()
	cache := t.TempDir()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envMode+"=confined", envCache+"="+cache, envOutside+"=/nonexistent")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID}
	if os.Getuid() != 0 { // a pid namespace needs a user namespace without root
		cmd.SysProcAttr = confine.SysProcAttr(true)
		cmd.SysProcAttr.Cloneflags |= unix.CLONE_NEWPID
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
		// Not a layer this kernel offers to this user: Start never makes one here either.
		t.Logf("this machine cannot make a pid namespace (%v): nothing to refuse", err)
		return
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(stderr.String(), "another pid namespace") {
		t.Fatalf("child in a new pid namespace: %v, stderr %q; want exit 2 and Apply's refusal", err, stderr.String())
	}
}

// readWrite is the other directory a child may write, when the test gives one (envRW).
func readWrite() []string {
	if d := os.Getenv(envRW); d != "" {
		return []string{d}
	}
	return nil
}
