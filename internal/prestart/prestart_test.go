package prestart

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

// The prestart must guess the directory engine.New will use from the same command line,
// or it compiles into a directory nobody asked for.
func TestCacheDirFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"1+1"}, ""},
		{[]string{"--cache-dir", "/c", "1+1"}, "/c"},
		{[]string{"-cache-dir", "/c", "1+1"}, "/c"},
		{[]string{"--cache-dir=/c", "1+1"}, "/c"},
		{[]string{"-cache-dir=off", "1+1"}, "off"},
		{[]string{"1+1", "--cache-dir", "/late"}, "/late"},           // flags after the code
		{[]string{"--cache-dir", "/a", "--cache-dir=/b", "x"}, "/b"}, // the last one counts
		{[]string{"--json", "--", "--cache-dir", "/not-a-flag"}, ""}, // after --: code
		{[]string{"--cache-dir"}, ""},                                // no value: flag's error
		{[]string{"--cache-dirs", "/c"}, ""},                         // another flag
		{[]string{"cache-dir", "/c"}, ""},                            // not a flag
		{[]string{"---cache-dir", "/c"}, ""},                         // not a flag either
	} {
		if got := cacheDirFlag(c.args); got != c.want {
			t.Errorf("cacheDirFlag(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

func TestResolveCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	for _, c := range []struct {
		flag string
		want string
		ok   bool
	}{
		{"", filepath.Join("/xdg", "isobox"), true},
		{"off", "", false},
		{"/c", "/c", true},
	} {
		if got, ok := ResolveCacheDir(c.flag); got != c.want || ok != c.ok {
			t.Errorf("ResolveCacheDir(%q) = %q, %v, want %q, %v", c.flag, got, ok, c.want, c.ok)
		}
	}
}

// A prestarted runtime is handed over once, and only to an engine that would have made the
// same one; any other engine gets nothing (and makes its own), and the runtime is closed.
func TestTake(t *testing.T) {
	ctx := context.Background()
	ready := func(dir string) *job {
		j := &job{cacheDir: dir, made: make(chan struct{}), done: make(chan struct{}), closed: make(chan struct{}), rt: wazero.NewRuntime(ctx)}
		close(j.made)
		close(j.done)
		return j
	}
	j := ready("/a")
	j.err = errors.New("compile failed")
	rt, compiled, ok := j.take(ctx, "/a", false)
	if !ok || rt != j.rt {
		t.Fatalf("take(same dir) = %v, %v; want the runtime", rt, ok)
	}
	if _, err := compiled(); err != j.err {
		t.Fatalf("compiled() = %v, want the prestart's error", err)
	}
	if _, _, ok := j.take(ctx, "/a", false); ok {
		t.Fatal("a second take got the runtime too")
	}
	for _, c := range []struct {
		name        string
		dir         string
		closeOnDone bool
	}{
		{"another directory", "/b", false},
		{"no cache", "", false},
		{"wazero's context checks", "/a", true},
	} {
		j := ready("/a")
		if _, _, ok := j.take(ctx, c.dir, c.closeOnDone); ok {
			t.Errorf("%s: took a runtime made for /a without context checks", c.name)
		}
		select { // closed on a goroutine of its own
		case <-j.closed:
		case <-time.After(time.Minute):
			t.Fatalf("%s: the refused runtime was not closed", c.name)
		}
		if _, err := j.rt.CompileModule(ctx, []byte("\x00asm\x01\x00\x00\x00")); err == nil {
			t.Errorf("%s: the refused runtime still compiles", c.name)
		}
	}
	// A failed configuration (no runtime) hands nothing over.
	j = &job{cacheDir: "/a", made: make(chan struct{}), done: make(chan struct{}), err: errors.New("no cache dir")}
	close(j.made)
	close(j.done)
	if _, _, ok := j.take(ctx, "/a", false); ok {
		t.Fatal("took a runtime that was never made")
	}
	// A cancelled caller does not wait for the prestart.
	j = &job{cacheDir: "/a", made: make(chan struct{}), done: make(chan struct{}), closed: make(chan struct{})}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, ok := j.take(cctx, "/a", false); ok {
		t.Fatal("a cancelled take got a runtime")
	}
	close(j.made)
	close(j.done)
	<-j.closed
}

// Without a prestart (this test binary's command line is not eval or run), Take hands
// nothing over.
func TestTakeWithoutPrestart(t *testing.T) {
	if started != nil {
		t.Skip("this process was started as isobox eval or run")
	}
	if _, _, ok := Take(context.Background(), DefaultCacheDir(), false); ok {
		t.Fatal("Take handed over a runtime nobody began")
	}
}

// The prestart begins CPython's compilation only for a command that runs Python.
func TestWantsPython(t *testing.T) {
	for _, c := range []struct {
		cmd  string
		args []string
		want bool
	}{
		{"eval", []string{"--lang", "python", "1+1"}, true},
		{"eval", []string{"--lang=py", "1+1"}, true},
		{"eval", []string{"1+1", "-lang", "python"}, true}, // flags after the code
		{"eval", []string{"1+1"}, false},
		{"eval", []string{"--lang", "js", "1+1"}, false},
		{"eval", []string{"--", "--lang", "python"}, false}, // after --: code
		{"eval", []string{"x.py"}, false},                   // eval takes code, not a file
		{"run", []string{"main.py"}, true},
		{"run", []string{"--json", "dir/main.py"}, true},
		{"run", []string{"main.js"}, false},
		{"run", []string{"--lang", "python", "main.js"}, false}, // run has no --lang
	} {
		if got := wantsPython(c.cmd, c.args); got != c.want {
			t.Errorf("wantsPython(%q, %q) = %v, want %v", c.cmd, c.args, got, c.want)
		}
	}
}

// CPython's prestarted compilation goes once to the engine that took the runtime, and to
// no other: not before the runtime was handed over, not to another runtime, not twice.
func TestTakePython(t *testing.T) {
	ctx := context.Background()
	j := &job{cacheDir: "/a", made: make(chan struct{}), done: make(chan struct{}), closed: make(chan struct{}),
		pyDone: make(chan struct{}), rt: wazero.NewRuntime(ctx), pyErr: errors.New("CPython did not compile")}
	defer j.rt.Close(ctx)
	close(j.made)
	close(j.done)
	close(j.pyDone)
	if _, ok := j.takePython(j.rt); ok {
		t.Fatal("took CPython's compilation before the runtime was handed over")
	}
	rt, _, ok := j.take(ctx, "/a", false)
	if !ok {
		t.Fatal("the runtime was not handed over")
	}
	other := wazero.NewRuntime(ctx)
	defer other.Close(ctx)
	if _, ok := j.takePython(other); ok {
		t.Fatal("another runtime took CPython's compilation")
	}
	compiled, ok := j.takePython(rt)
	if !ok {
		t.Fatal("the engine that took the runtime did not get CPython's compilation")
	}
	if _, err := compiled(); err != j.pyErr {
		t.Fatalf("compiled() = %v, want the prestart's error", err)
	}
	if _, ok := j.takePython(rt); ok {
		t.Fatal("CPython's compilation was taken twice")
	}
	// A job begun without Python has nothing to hand over.
	k := &job{cacheDir: "/a", made: make(chan struct{}), done: make(chan struct{}), rt: j.rt, handed: true}
	if _, ok := k.takePython(j.rt); ok {
		t.Fatal("took a compilation that was never begun")
	}
}
