package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/isoerr"
)

func mustPyEval(t *testing.T, sb *engine.PythonSandbox, code, want string) {
	t.Helper()
	res, err := sb.Eval(context.Background(), engine.Limits{CPU: 10 * time.Second}, code)
	if err != nil {
		t.Fatalf("eval %q: %v", code, err)
	}
	if string(res.Value) != want {
		t.Fatalf("eval %q = %s, want %s", code, res.Value, want)
	}
}

// A Python sandbox restored from a snapshot (in memory and marshalled, as a session's
// saved state is) keeps its variables, functions, classes and imports.
func TestPythonSnapshotRestoreKeepsState(t *testing.T) {
	ctx := context.Background()
	sb := newPySandbox(t, engine.SandboxConfig{})
	mustPyEval(t, sb, "import csv, io\ncounter = 41\nrows = [{'n': i} for i in range(1000)]\ndef double(x):\n    return 2 * x\nclass Box:\n    def __init__(self, v): self.v = v\nbox = Box('kept')\ncounter", "41")
	img, err := sb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !img.Python() {
		t.Fatal("a Python sandbox's image does not say it is Python")
	}
	b, err := img.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image: %d KiB of pages, %d KiB marshalled", img.Size()>>10, len(b)>>10)
	img2, err := testEngine.UnmarshalImage(b)
	if err != nil {
		t.Fatal(err)
	}
	for name, im := range map[string]*engine.Image{"snapshot": img, "unmarshalled": img2} {
		t.Run(name, func(t *testing.T) {
			for range 2 {
				r, err := testEngine.RestorePython(ctx, im, engine.SandboxConfig{})
				if err != nil {
					t.Fatal(err)
				}
				mustPyEval(t, r, "counter += 1\n[counter, len(rows), double(21), box.v, 'csv' in globals()]", `[42,1000,42,"kept",true]`)
				r.Close(ctx)
			}
		})
	}
	// The original carries on independently.
	mustPyEval(t, sb, "counter", "41")
}

func TestPythonForkIsIndependent(t *testing.T) {
	ctx := context.Background()
	parent := newPySandbox(t, engine.SandboxConfig{})
	mustPyEval(t, parent, "log = ['start']\nn = 1\nn", "1")
	child, err := parent.Fork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close(ctx)
	mustPyEval(t, child, "log.append('child')\nn = 100\n[n, log]", `[100,["start","child"]]`)
	mustPyEval(t, parent, "log.append('parent')\n[n, log]", `[1,["start","parent"]]`)
	mustPyEval(t, child, "[n, log]", `[100,["start","child"]]`)
	// Forks are reseeded: they do not draw the same random numbers.
	other, err := parent.Fork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	draw := "import random\n[random.random() for _ in range(4)]"
	a, err := child.Eval(ctx, engine.Limits{}, draw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := other.Eval(ctx, engine.Limits{}, draw)
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Value) == string(b.Value) {
		t.Fatalf("two forks drew the same numbers: %s", a.Value)
	}
}

// Images do not cross languages, and limits hold in restored Python sandboxes.
func TestPythonImagesAndLimits(t *testing.T) {
	ctx := context.Background()
	py := newPySandbox(t, engine.SandboxConfig{Memory: 64 << 20})
	mustPyEval(t, py, "keep = 'x'\n1", "1")
	pyImg, err := py.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	js := newSandbox(t, engine.SandboxConfig{})
	jsImg, err := js.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Restore follows the image's language: a Python image gives a Python sandbox.
	if viaRestore, err := testEngine.Restore(ctx, pyImg, engine.SandboxConfig{Memory: 64 << 20}); err != nil {
		t.Errorf("Restore of a Python image: %v", err)
	} else {
		res, err := viaRestore.Eval(ctx, engine.Limits{}, "keep * 2")
		if err != nil || string(res.Value) != `"xx"` {
			t.Errorf("Restore of a Python image: eval %s %v", res.Value, err)
		}
		viaRestore.Close(ctx)
	}
	if _, err := testEngine.Restore(ctx, jsImg, engine.SandboxConfig{Python: true}); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Errorf("Restore of a JavaScript image as Python: %v, want invalid_request", err)
	}
	if _, err := testEngine.RestorePython(ctx, jsImg, engine.SandboxConfig{}); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Errorf("RestorePython of a JavaScript image: %v, want invalid_request", err)
	}
	if _, err := testEngine.RestorePython(ctx, pyImg, engine.SandboxConfig{Memory: 16 << 20}); isoerr.CodeOf(err) != isoerr.MemoryLimitExceeded {
		t.Errorf("RestorePython into a memory limit smaller than the image: %v, want memory_limit_exceeded", err)
	}
	r, err := testEngine.RestorePython(ctx, pyImg, engine.SandboxConfig{Memory: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	if _, err := r.Eval(ctx, engine.Limits{CPU: 10 * time.Second}, "a = []\nwhile True:\n    a.append(' ' * 10**6)"); isoerr.CodeOf(err) != isoerr.MemoryLimitExceeded {
		t.Fatalf("restored memory: %v", err)
	}
	f, err := py.Fork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(ctx)
	if _, err := f.Eval(ctx, engine.Limits{CPU: 50 * time.Millisecond}, "while True:\n    pass"); isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
		t.Fatalf("fork cpu: %v", err)
	}
	if _, err := f.Snapshot(); isoerr.CodeOf(err) != isoerr.CPULimitExceeded {
		t.Fatalf("snapshot of a broken sandbox: %v, want its limit's error", err)
	}
	mustPyEval(t, py, "keep", `"x"`)
}

// Snapshots skip the dead part of Python's 8 MiB stack (most of it), and what they skip is
// dead: a sandbox restored after deep C recursion (json, repr) works and has its state.
func TestPythonSnapshotSkipsTheDeadStack(t *testing.T) {
	ctx := context.Background()
	sb := newPySandbox(t, engine.SandboxConfig{})
	if off, n := engine.PythonDeadStack(testEngine); n < 6<<20 || off+n > 8<<20 {
		t.Fatalf("dead stack span %d+%d, want most of the 8 MiB stack and nothing past it", off, n)
	}
	mustPyEval(t, sb, "import json\nv = []\nfor _ in range(900):\n    v = [v, {'k': (1,)}]\nn = len(json.dumps(v)) + len(repr(v))\nn", "26104")
	img, err := sb.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r, err := testEngine.RestorePython(ctx, img, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	mustPyEval(t, r, "len(json.dumps(v)) + len(repr(v)) == n", "true")
}
