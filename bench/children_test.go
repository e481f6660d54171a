package bench

import (
	"os"
	"os/exec"
	"runtime"
	"slices"
	"testing"
)

// The sandbox-process CPU figure reads the bench's children from /proc: a child started
// here is listed, and its CPU and this process's can be read.
func TestChildPIDsAndCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep binary:", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if pids := childPIDs(); !slices.Contains(pids, cmd.Process.Pid) {
		t.Fatalf("childPIDs() = %v, want it to hold %d", pids, cmd.Process.Pid)
	}
	if ms, ok := cpuOf([]int{cmd.Process.Pid, os.Getpid()}); !ok || ms < 0 {
		t.Fatalf("cpuOf = %v, %v", ms, ok)
	}
	if _, ok := cpuOf([]int{cmd.Process.Pid, -1}); ok {
		t.Fatal("cpuOf of a pid that does not exist is ok")
	}
	if _, ok := cpuOf(nil); ok {
		t.Fatal("cpuOf of no pids is ok: the figure would be 0 instead of absent")
	}
}
