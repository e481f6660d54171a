package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/isobox/isobox/internal/enginetest"
)

// isobox eval as a new process takes the runtime its initialisation began
// (internal/prestart) and still gives the same answer: with the runtime's bytecode not yet
// cached (compiled and kept), cached, and damaged on disk (found out and compiled again),
// with --cache-dir before or after the code, and when the prestart's guess of the cache
// directory is wrong.
func TestEvalProcessCaches(t *testing.T) {
	bin := buildIsobox(t)
	dir := enginetest.FreshCacheDir(t)
	eval := func(step string, args ...string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"eval"}, args...)...)
		cmd.Dir = t.TempDir()
		var stderr syncBuffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || string(out) != "42\n" {
			t.Fatalf("%s: %q, %v (stderr %s)", step, out, err, stderr.String())
		}
		if entries, _ := os.ReadDir(cmd.Dir); len(entries) != 0 {
			t.Fatalf("%s: the process made %s in its working directory", step, entries[0].Name())
		}
	}
	const code = "const a: number = 20; a + 22"
	eval("runtime bytecode not cached", "--cache-dir", dir, code)
	kept, err := filepath.Glob(filepath.Join(dir, "runtime-*.qbc"))
	if err != nil || len(kept) != 1 {
		t.Fatalf("runtime bytecode files after the first eval: %v %v", kept, err)
	}
	eval("cached", code, "--cache-dir", dir)
	b, err := os.ReadFile(kept[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(kept[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	eval("bytecode damaged", "--cache-dir="+dir, code)
	// --data takes "--cache-dir" as its value: the prestart reads it as the cache
	// directory (a relative one that does not exist) and must neither create it nor hand
	// its runtime to the engine.
	eval("wrong guess", "--data", "--cache-dir", "--cache-dir", dir, code)
}
