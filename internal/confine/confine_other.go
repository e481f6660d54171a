//go:build !linux

package confine

import (
	"os/exec"
	"syscall"

	"github.com/isobox/isobox/isoerr"
)

// Implemented says whether Apply confines the process on this platform (Linux only).
const Implemented = false

// Apply confines the calling process on Linux. Elsewhere it confines nothing and says so.
//
// # Errors
//
// An isoerr NotImplemented error on every platform but Linux, with a Report listing each
// layer as off.
func Apply(p Policy) (Report, error) {
	var rep Report
	if err := p.Validate(); err != nil {
		return rep, err
	}
	for _, l := range []string{LayerRlimits, LayerNoNewPrivs, LayerLandlock, LayerSeccomp} {
		rep.add(l, false, "not implemented on this platform")
	}
	return rep, isoerr.New(isoerr.NotImplemented, "confine: worker process confinement is implemented on Linux only")
}

// SysProcAttr returns no namespace attributes outside Linux.
func SysProcAttr(user bool) *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// Start starts the worker process without namespaces outside Linux, reporting them off.
//
// # Errors
//
// The error of exec.Cmd.Start.
func Start(newCmd func() *exec.Cmd) (*exec.Cmd, Report, error) {
	var rep Report
	cmd := newCmd()
	if err := cmd.Start(); err != nil {
		return nil, rep, err
	}
	rep.add(LayerNamespaces, false, "not implemented on this platform")
	return cmd, rep, nil
}
