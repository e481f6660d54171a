package confine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// Implemented says whether Apply confines the process on this platform (Linux: yes).
const Implemented = true

// errUnsupported is a layer the kernel does not offer: reported, not an error.
type errUnsupported struct{ why string }

func (e errUnsupported) Error() string { return e.why }

// Apply confines the calling process, all its threads, and everything it could start:
// rlimits, no_new_privs, Landlock (read-write under CacheDir, read-only under ReadOnly,
// nothing else; no TCP bind or connect), then the seccomp allow-list. It cannot be undone.
// Call it at the start of a worker process, before any guest code runs; open what must
// stay open (the supervisor's socket) before, since sockets cannot be created after.
//
//	rep, err := confine.Apply(confine.Policy{CacheDir: dir, ReadOnly: []string{"/proc/self"}})
//	if err != nil { os.Exit(1) }
//	log.Printf("confined: %s", rep)
//
// # Errors
//
// An isoerr InvalidRequest error for a bad Policy; an error in a pid namespace whose /proc
// is the host's (Start never makes one); otherwise an error when a layer the
// kernel supports fails to apply (the process is then partly confined and should exit).
// A layer the kernel lacks (no Landlock, no seccomp) is not an error: the Report says it
// is off and why.
func Apply(p Policy) (Report, error) {
	var rep Report
	if err := p.Validate(); err != nil {
		return rep, err
	}
	if fi, err := os.Stat(p.CacheDir); err != nil || !fi.IsDir() {
		return rep, fmt.Errorf("confine: cache directory %s: not a directory (%v)", p.CacheDir, err)
	}
	for _, r := range p.ReadWrite {
		if fi, err := os.Stat(r); err != nil || !fi.IsDir() {
			return rep, fmt.Errorf("confine: read-write directory %s: not a directory (%v)", r, err)
		}
	}
	for _, r := range p.ReadOnly {
		if _, err := os.Stat(r); err != nil {
			return rep, fmt.Errorf("confine: read-only path: %w", err)
		}
	}

	// libcap's psx, which applies Landlock to every thread, hangs when /proc belongs to
	// another pid namespace than the process (RATIONALE §16): refuse instead of hanging.
	if self, err := os.Readlink("/proc/self"); err == nil && self != strconv.Itoa(os.Getpid()) {
		return rep, fmt.Errorf("confine: /proc is another pid namespace's (/proc/self is %s, pid %d): start workers without a pid namespace, or mount their own /proc", self, os.Getpid())
	}

	detail, err := applyRlimits(p)
	if err != nil {
		return rep, err
	}
	rep.add(LayerRlimits, true, detail)

	// no_new_privs on every thread: execve can never again raise privileges (setuid
	// binaries, file capabilities), and it is what lets an unprivileged process install
	// Landlock and seccomp.
	if err := ll.AllThreadsPrctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return rep, fmt.Errorf("confine: prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	if err := checkNoNewPrivs(); err != nil {
		return rep, err
	}
	rep.add(LayerNoNewPrivs, true, "set on every thread")

	detail, err = applyLandlock(p)
	if err := layer(&rep, LayerLandlock, detail, err); err != nil {
		return rep, err
	}
	detail, err = applySeccomp()
	if err := layer(&rep, LayerSeccomp, detail, err); err != nil {
		return rep, err
	}
	return rep, nil
}

// layer records a layer's outcome: applied, unsupported by the kernel (reported), or
// failed (returned).
func layer(rep *Report, name, detail string, err error) error {
	var unsup errUnsupported
	switch {
	case err == nil:
		rep.add(name, true, detail)
	case errors.As(err, &unsup):
		rep.add(name, false, unsup.why)
	default:
		rep.add(name, false, err.Error())
		return fmt.Errorf("confine: %s: %w", name, err)
	}
	return nil
}

func applyRlimits(p Policy) (string, error) {
	files := p.OpenFiles
	if files == 0 {
		files = DefaultOpenFiles
	}
	fsize := p.FileBytes
	if fsize == 0 {
		fsize = DefaultFileBytes
	}
	lims := []struct {
		name     string
		resource int
		value    uint64
	}{
		{"nofile", unix.RLIMIT_NOFILE, files},
		{"fsize", unix.RLIMIT_FSIZE, fsize},
		// No core dumps: a worker's memory holds tenants' data.
		{"core", unix.RLIMIT_CORE, 0},
		// No file locks, message queues or locked memory: a worker needs none.
		{"memlock", unix.RLIMIT_MEMLOCK, 0},
		{"msgqueue", unix.RLIMIT_MSGQUEUE, 0},
	}
	if p.AddressSpace != 0 {
		lims = append(lims, struct {
			name     string
			resource int
			value    uint64
		}{"as", unix.RLIMIT_AS, p.AddressSpace})
	}
	var parts []string
	for _, l := range lims {
		var cur unix.Rlimit
		if err := unix.Getrlimit(l.resource, &cur); err != nil {
			return "", fmt.Errorf("confine: getrlimit %s: %w", l.name, err)
		}
		v := l.value
		if cur.Max != unix.RLIM_INFINITY && cur.Max < v {
			v = cur.Max // never raise a limit the supervisor set lower
		}
		if err := unix.Setrlimit(l.resource, &unix.Rlimit{Cur: v, Max: v}); err != nil {
			return "", fmt.Errorf("confine: setrlimit %s=%d: %w", l.name, v, err)
		}
		parts = append(parts, fmt.Sprintf("%s=%d", l.name, v))
	}
	// RLIMIT_NPROC is not set: it counts threads of every process of the user, so a value
	// low enough to matter breaks the Go runtime's thread creation; seccomp's clone filter
	// is what forbids new processes. RLIMIT_AS is opt-in (Policy.AddressSpace).
	return strings.Join(parts, " "), nil
}

// checkNoNewPrivs reads the bit back from every thread.
func checkNoNewPrivs() error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		// No /proc: trust prctl's success.
		return nil
	}
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", t.Name(), "status"))
		if err != nil {
			continue // the thread ended
		}
		if !strings.Contains(string(b), "NoNewPrivs:\t1") {
			return fmt.Errorf("confine: thread %s has no_new_privs unset after prctl", t.Name())
		}
	}
	return nil
}

func applyLandlock(p Policy) (string, error) {
	abi, err := ll.LandlockGetABIVersion()
	if err != nil || abi < 1 {
		return "", errUnsupported{fmt.Sprintf("the kernel has no Landlock (%v)", err)}
	}
	rules := []landlock.Rule{landlock.RWDirs(append([]string{p.CacheDir}, p.ReadWrite...)...)}
	for _, r := range p.ReadOnly {
		fi, err := os.Stat(r)
		if err != nil {
			return "", err
		}
		if fi.IsDir() {
			rules = append(rules, landlock.RODirs(r))
		} else {
			rules = append(rules, landlock.ROFiles(r))
		}
	}
	// V11 with BestEffort: everything this kernel's ABI can restrict; no net rules means
	// no TCP bind or connect (ABI >= 4), and scoping (ABI >= 6) keeps signals and abstract
	// Unix sockets inside the worker's own domain.
	if err := landlock.V11.BestEffort().Restrict(rules...); err != nil {
		return "", fmt.Errorf("landlock: %w", err)
	}
	return fmt.Sprintf("ABI v%d: read-write %s, read-only %s", abi, strings.Join(append([]string{p.CacheDir}, p.ReadWrite...), ","), strings.Join(p.ReadOnly, ",")), nil
}

// namespace sets tried at exec time, most isolated first. No pid namespace: Landlock
// reaches every thread of a cgo-linked Go binary through libcap's psx, which hangs in a
// new pid namespace that still sees the host's /proc (measured 2026-12-02, Linux 6.18);
// seccomp already keeps signals inside the process and ptrace is a tripwire, and Landlock
// leaves only /proc/self readable, so other processes are neither visible nor reachable.
var nsLadder = []struct {
	name  string
	flags uintptr
	user  bool
}{
	{"user,mount,net,ipc,uts", unix.CLONE_NEWNS | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS, true},
	{"mount,net,ipc,uts", unix.CLONE_NEWNS | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS, false},
	{"net", unix.CLONE_NEWNET, false},
}

// SysProcAttr returns the exec attributes that give a worker process new namespaces:
// with user set, a user namespace (where the worker's uid is not root and holds no
// capability over the host) plus mount, network (no interfaces but a down loopback), IPC
// and UTS namespaces. The worker also dies with the supervisor (Pdeathsig). Use Start
// instead to fall back when the kernel refuses.
func SysProcAttr(user bool) *syscall.SysProcAttr {
	for _, n := range nsLadder {
		if n.user == user {
			return sysProcAttr(n.flags, n.user)
		}
	}
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func sysProcAttr(flags uintptr, user bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if user {
		a.Cloneflags |= unix.CLONE_NEWUSER
		// The supervisor's ids appear inside as an unprivileged uid and gid that own the
		// cache directory; nothing else of the host is mapped, so host files owned by
		// anyone else are "nobody's" to the worker and no capability reaches them.
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: workerID, HostID: os.Getuid(), Size: 1}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: workerID, HostID: os.Getgid(), Size: 1}}
		a.GidMappingsEnableSetgroups = false
	}
	return a
}

// workerID is the uid and gid of a worker inside its user namespace: not root, so execve
// (were it allowed) would grant no capability.
const workerID = 65534

// Start starts the worker process newCmd returns, in the most isolated set of namespaces
// the kernel allows: it tries user+mount+net+ipc+uts, then the same without a user
// namespace (when running as root where unprivileged user namespaces are off), then a
// network namespace alone, then none. newCmd is called once per attempt (an exec.Cmd
// cannot be started twice) and must not set SysProcAttr.
//
// # Notes
//
// Pdeathsig fires when the OS thread that started the worker exits, not the supervisor
// process; the Go runtime does not end threads unless a goroutine exits while locked to
// one (runtime.LockOSThread), so do not call Start from such a goroutine.
//
// # Errors
//
// The error of the last attempt when the process cannot be started at all (a missing
// binary fails every attempt).
func Start(newCmd func() *exec.Cmd) (*exec.Cmd, Report, error) {
	var rep Report
	var tried []string
	for _, n := range nsLadder {
		cmd := newCmd()
		cmd.SysProcAttr = sysProcAttr(n.flags, n.user)
		err := cmd.Start()
		if err == nil {
			rep.add(LayerNamespaces, true, n.name)
			return cmd, rep, nil
		}
		if !nsRefused(err) {
			return nil, rep, fmt.Errorf("confine: start worker: %w", err)
		}
		tried = append(tried, fmt.Sprintf("%s: %v", n.name, err))
	}
	cmd := newCmd()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, rep, fmt.Errorf("confine: start worker: %w", err)
	}
	rep.add(LayerNamespaces, false, "the kernel refused every set: "+strings.Join(tried, "; "))
	return cmd, rep, nil
}

// nsRefused tells a kernel that refuses a namespace (no permission, disabled, limit
// reached) from a process that cannot start at all.
func nsRefused(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EACCES) ||
		errors.Is(err, syscall.EUSERS)
}
