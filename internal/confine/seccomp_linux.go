package confine

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// The seccomp allow-list. Each group says why a worker needs it; the list was taken from
// strace of a confined worker running the real engine (engine.New, evaluation, snapshot,
// restore, fork: see TestConfinedWorker and RATIONALE.md "Worker process confinement").
// Names the running architecture does not have (open, fork... on arm64) are dropped.
var allowGroups = []struct {
	why   string
	names []string
}{
	{"Go runtime: memory; wazero: compiled code (PROT_EXEC) and linear memories; engine: " +
		"copy-on-write image mappings and discarding pages",
		[]string{"mmap", "munmap", "mprotect", "madvise", "mremap", "brk", "mincore"}},
	{"Go runtime: threads park and wake, yield, sleep, learn their CPU set",
		[]string{"futex", "sched_yield", "nanosleep", "clock_nanosleep", "sched_getaffinity",
			"set_robust_list", "rseq", "arch_prctl", "set_tid_address"}},
	{"Go runtime: signals (preemption, crash reports) within this process",
		[]string{"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "gettid",
			"getpid", "getppid"}},
	{"Go runtime: clocks and timers (vDSO covers most; these are the fallbacks)",
		[]string{"clock_gettime", "clock_getres", "gettimeofday", "time"}},
	{"Go runtime: network poller on inherited descriptors",
		[]string{"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
			"eventfd2", "pipe2"}},
	{"descriptors the worker already holds: the supervisor's socket, the cache files, " +
		"memfd images, /proc/self/pagemap",
		[]string{"read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close",
			"fcntl", "dup", "dup3", "fstat", "fsync", "fdatasync", "ftruncate"}},
	{"the supervisor's socket pair (inherited, never created here: socket is denied)",
		[]string{"recvmsg", "sendmsg", "recvfrom", "sendto", "shutdown", "getsockopt",
			"getsockname", "getpeername"}},
	{"files under the cache directory and the read-only paths: Landlock decides which " +
		"paths these reach",
		[]string{"openat", "open", "newfstatat", "stat", "lstat", "statx", "faccessat",
			"faccessat2", "access", "readlinkat", "readlink", "getdents64", "mkdirat",
			"renameat", "renameat2", "rename", "unlinkat", "unlink", "getcwd", "umask"}},
	{"engine: memory images live in sealed memfds",
		[]string{"memfd_create"}},
	{"Go runtime and crypto/rand: limits, identity, randomness",
		[]string{"getrlimit", "uname", "getrandom", "getuid", "geteuid",
			"getgid", "getegid"}},
	{"ending a thread or the process", []string{"exit", "exit_group"}},
}

// tripwire syscalls no worker ever makes: one means a guest escaped the wasm instance and
// is probing the kernel, so the whole process dies at once (SIGSYS) and the supervisor
// sees it.
var tripwire = []string{
	"ptrace", "process_vm_readv", "process_vm_writev", "bpf", "perf_event_open",
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"mount", "umount2", "pivot_root", "chroot", "setns", "unshare", "keyctl", "add_key",
	"request_key", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
	"open_by_handle_at", "name_to_handle_at", "swapon", "swapoff", "reboot",
	"settimeofday", "clock_settime", "adjtimex", "acct", "quotactl", "mount_setattr",
	"move_mount", "open_tree", "fsopen", "fsmount", "fspick", "personality",
}

// denied syscalls fail with EPERM, as does everything not listed at all: the Go runtime
// and os packages may try some of them (os/exec, net) and must see an error, not die.
// They are listed so that the intent is written down and the test can name them.
var denied = []string{
	"socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
	"execve", "execveat", "fork", "vfork", "kill", "tkill", "setuid", "setgid",
	"setreuid", "setregid", "setresuid", "setresgid", "setgroups", "capset", "prctl",
	"ioctl", "chdir", "fchdir", "symlinkat", "linkat", "mknodat", "chown", "fchownat",
	"fchmodat", "truncate", "inotify_init1", "fanotify_init", "memfd_secret",
	"pidfd_open", "pidfd_getfd", "pidfd_send_signal", "sched_setaffinity",
	"sched_setscheduler", "setpriority", "migrate_pages", "move_pages", "mbind",
	"set_mempolicy", "modify_ldt", "iopl", "ioperm", "vhangup",
}

// cloneThreadOnly are the clone(2) flag conditions of a new thread: CLONE_THREAD set (so
// the child shares the address space and is no new process) and no namespace flag.
func cloneThreadOnly() seccomp.ArgumentConditions {
	const newNS = unix.CLONE_NEWNS | unix.CLONE_NEWUSER | unix.CLONE_NEWNET | unix.CLONE_NEWPID |
		unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME
	return seccomp.ArgumentConditions{
		{Argument: 0, Operation: seccomp.BitsSet, Value: unix.CLONE_THREAD | unix.CLONE_VM},
		{Argument: 0, Operation: seccomp.BitsNotSet, Value: newNS},
	}
}

// seccompPolicy assembles the filter for this architecture; pid is this process's id
// (signals may only go to it).
func seccompPolicy(pid int) (seccomp.Policy, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return seccomp.Policy{}, fmt.Errorf("seccomp: %w", err)
	}
	known := func(names []string) []string {
		var out []string
		for _, n := range names {
			if _, ok := info.SyscallNames[n]; ok {
				out = append(out, n)
			}
		}
		return out
	}
	var allow []string
	for _, g := range allowGroups {
		allow = append(allow, known(g.names)...)
	}
	self := seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.Equal, Value: uint64(pid)}}
	return seccomp.Policy{
		DefaultAction: seccomp.ActionErrno, // EPERM
		Syscalls: []seccomp.SyscallGroup{
			{Action: seccomp.ActionAllow, Names: allow},
			{Action: seccomp.ActionAllow, NamesWithCondtions: []seccomp.NameWithConditions{
				{Name: "clone", Conditions: cloneThreadOnly()},
				// Signals to this process only: the runtime's preemption (tgkill) and
				// crash path (kill of itself).
				{Name: "tgkill", Conditions: self},
				{Name: "kill", Conditions: self},
				// Its own limits only (0 or its pid): prlimit64 on another process of
				// the same user (the supervisor) could lower that one's limits.
				{Name: "prlimit64", Conditions: seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.Equal, Value: 0}}},
				{Name: "prlimit64", Conditions: self},
			}},
			// clone3 passes its flags in memory, out of a filter's reach: ENOSYS makes
			// glibc (cgo threads) fall back to clone, which the filter can read.
			{Action: seccomp.ActionErrno | seccomp.Action(syscall.ENOSYS), Names: known([]string{"clone3"})},
			{Action: seccomp.ActionKillProcess, Names: known(tripwire)},
			{Action: seccomp.ActionErrno, Names: known(without(denied, "kill"))},
		},
	}, nil
}

func without(names []string, drop string) []string {
	var out []string
	for _, n := range names {
		if n != drop {
			out = append(out, n)
		}
	}
	return out
}

// filterFlagSpecAllow is SECCOMP_FILTER_FLAG_SPEC_ALLOW.
const filterFlagSpecAllow = seccomp.FilterFlag(unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW)

// applySeccomp installs the filter on every thread of the process (TSYNC), leaving the
// speculation mitigations as they were (SPEC_ALLOW).
func applySeccomp() (string, error) {
	if !seccomp.Supported() {
		return "", errUnsupported{"the kernel has no seccomp filter mode"}
	}
	pol, err := seccompPolicy(os.Getpid())
	if err != nil {
		return "", err
	}
	// SPEC_ALLOW (Linux 4.17): installing a filter must not switch on the speculation
	// mitigations that kernels before 5.16 force on every seccomp-filtered thread by
	// default (spec_store_bypass_disable=seccomp: Speculative Store Bypass Disable;
	// spectre_v2_user=seccomp: STIBP), which slow an interpreter's stores and loads for
	// nothing here: a worker process holds one tenant's sandboxes and no secrets, and
	// tenants are kept apart by the process boundary, not by mitigations inside it. The
	// process keeps the kernel's default for any other process (prctl: off unless asked),
	// as kernels since 5.16 do for filtered ones too. A kernel that does not know the flag
	// refuses it with EINVAL, and gets the filter without it.
	spec := "speculation mitigations as for any process"
	err = seccomp.LoadFilter(seccomp.Filter{NoNewPrivs: true, Flag: seccomp.FilterFlagTSync | filterFlagSpecAllow, Policy: pol})
	if errors.Is(err, unix.EINVAL) {
		spec = "the kernel's seccomp speculation mitigations (no SPEC_ALLOW)"
		err = seccomp.LoadFilter(seccomp.Filter{NoNewPrivs: true, Flag: seccomp.FilterFlagTSync, Policy: pol})
	}
	if err != nil {
		return "", fmt.Errorf("seccomp: %w", err)
	}
	allowed, conditional := map[string]bool{}, map[string]bool{}
	for _, g := range pol.Syscalls {
		if g.Action != seccomp.ActionAllow {
			continue
		}
		for _, n := range g.Names {
			allowed[n] = true
		}
		for _, n := range g.NamesWithCondtions {
			allowed[n.Name], conditional[n.Name] = true, true
		}
	}
	return fmt.Sprintf("%d syscalls allowed (%d only with argument checks: clone for threads, signals and limits to itself), default EPERM, %d kill the process; %s",
		len(allowed), len(conditional), len(tripwire), spec), nil
}
