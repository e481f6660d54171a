// Package confine shuts a sandbox worker process into the smallest box the kernel offers,
// so that a guest that escapes the WebAssembly instance (a wazero or QuickJS bug) still
// cannot read the host's files, reach the network, start programs or gain privileges.
//
// A worker process calls [Apply] on itself right after it starts, before it runs any guest
// code; the supervisor that starts it calls [Start] (or [SysProcAttr]) to give it new
// namespaces at exec time. Each layer is applied where the kernel has it and reported
// where it does not: the caller decides whether a [Report] with missing layers is good
// enough to run tenants' code. The layers and what each blocks are in RATIONALE.md
// ("Worker process confinement").
package confine

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/isobox/isobox/isoerr"
)

// Policy is what a confined worker process may still do.
type Policy struct {
	// CacheDir is the one directory the worker may read and write (the engine's
	// compilation cache). It must be an absolute path to an existing directory.
	CacheDir string
	// ReadWrite are other absolute directories the worker may read and write (its images
	// directory, where it hibernates workers). Directories that do not exist are an error.
	ReadWrite []string
	// ReadOnly are absolute paths (files or directories) the worker may read but not
	// write, e.g. "/proc/self" for the engine's resident-memory accounting
	// (/proc/self/pagemap). Paths that do not exist are an error.
	ReadOnly []string
	// OpenFiles caps the file descriptors the worker may hold (RLIMIT_NOFILE); 0 means
	// DefaultOpenFiles. Every image the engine holds keeps one memfd open.
	OpenFiles uint64
	// FileBytes caps the size of any file the worker writes (RLIMIT_FSIZE); 0 means
	// DefaultFileBytes.
	FileBytes uint64
	// AddressSpace caps the worker's virtual address space (RLIMIT_AS); 0 leaves it
	// unlimited, which is the default because every sandbox reserves its whole memory
	// limit up front (see RATIONALE.md): memory is bounded per sandbox by the engine and
	// per process by the supervisor's cgroup, not by this.
	AddressSpace uint64
}

// DefaultOpenFiles is the worker's file descriptor limit when Policy.OpenFiles is 0.
const DefaultOpenFiles = 4096

// DefaultFileBytes is the largest file a worker may write when Policy.FileBytes is 0:
// the compiled QuickJS module in the cache is 4.2 MiB (2026-12-02).
const DefaultFileBytes = 256 << 20

// Validate checks the policy's paths. Apply calls it first.
//
// # Errors
//
// An isoerr InvalidRequest error naming the field when CacheDir is empty or a path is
// relative.
func (p Policy) Validate() error {
	if p.CacheDir == "" {
		return isoerr.New(isoerr.InvalidRequest, "confine: Policy.CacheDir is required")
	}
	if !filepath.IsAbs(p.CacheDir) {
		return isoerr.New(isoerr.InvalidRequest, "confine: Policy.CacheDir %q is not an absolute path", p.CacheDir)
	}
	for _, r := range p.ReadWrite {
		if !filepath.IsAbs(r) {
			return isoerr.New(isoerr.InvalidRequest, "confine: Policy.ReadWrite path %q is not an absolute path", r)
		}
	}
	for _, r := range p.ReadOnly {
		if !filepath.IsAbs(r) {
			return isoerr.New(isoerr.InvalidRequest, "confine: Policy.ReadOnly path %q is not an absolute path", r)
		}
	}
	return nil
}

// Layer names, as they appear in a Report.
const (
	LayerNoNewPrivs = "no_new_privs"
	LayerRlimits    = "rlimits"
	LayerLandlock   = "landlock"
	LayerSeccomp    = "seccomp"
	LayerNamespaces = "namespaces"
)

// Layer is one confinement mechanism and whether it is in force.
type Layer struct {
	Name    string `json:"name"`
	Applied bool   `json:"applied"`
	// Detail says what was applied (e.g. "landlock ABI v7", "user,mount,net,pid,ipc,uts")
	// or, when Applied is false, why not.
	Detail string `json:"detail"`
}

// Report lists the layers Apply (or Start) tried, in order.
type Report struct {
	Layers []Layer `json:"layers"`
}

// Missing names the layers that are not in force, for a log line or a refusal to run
// untrusted code.
func (r Report) Missing() []string {
	var out []string
	for _, l := range r.Layers {
		if !l.Applied {
			out = append(out, l.Name)
		}
	}
	return out
}

// Layer returns the named layer and whether the report has it.
func (r Report) Layer(name string) (Layer, bool) {
	for _, l := range r.Layers {
		if l.Name == name {
			return l, true
		}
	}
	return Layer{}, false
}

// String is one line: "seccomp=on(...) landlock=off(...)".
func (r Report) String() string {
	parts := make([]string, len(r.Layers))
	for i, l := range r.Layers {
		state := "off"
		if l.Applied {
			state = "on"
		}
		parts[i] = fmt.Sprintf("%s=%s(%s)", l.Name, state, l.Detail)
	}
	return strings.Join(parts, " ")
}

func (r *Report) add(name string, applied bool, detail string) {
	r.Layers = append(r.Layers, Layer{Name: name, Applied: applied, Detail: detail})
}
