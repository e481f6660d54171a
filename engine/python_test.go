package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/enginetest"
	"github.com/isobox/isobox/isoerr"
)

func newPySandbox(t *testing.T, cfg engine.SandboxConfig) *engine.PythonSandbox {
	t.Helper()
	sb, err := testEngine.NewPythonSandbox(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewPythonSandbox: %v", err)
	}
	t.Cleanup(func() { sb.Close(context.Background()) })
	return sb
}

func pyEval(t *testing.T, lim engine.Limits, code string) (*engine.Result, error) {
	t.Helper()
	return newPySandbox(t, engine.SandboxConfig{}).Eval(context.Background(), lim, code)
}

func TestPythonEvalValues(t *testing.T) {
	tests := []struct {
		name, code, want string
	}{
		{"expression", "1 + 1", "2"},
		{"statements, then the last expression", "a = 2\nb = 3\na * b", "6"},
		{"tuples are arrays", "(1, 'a', (2.5, None))", `[1,"a",[2.5,null]]`},
		{"dict", "{'a': [1, 2], 'b': True}", `{"a":[1,2],"b":true}`},
		{"None has no value", "None", ""},
		{"statements only have no value", "x = 1", ""},
		{"unicode", "'héllo \\U0001F600'", `"héllo 😀"`},
		{"non-finite float is null", "float('nan')", "null"},
		{"set is a sorted array", "{3, 1, 2}", "[1,2,3]"},
		{"other values are their repr", "import datetime\ndatetime.date(2024, 1, 2)", `"datetime.date(2024, 1, 2)"`},
		{"top-level await", "import asyncio\nawait asyncio.sleep(0)\n41 + 1", "42"},
		{"await as the last expression", "import asyncio\nasync def f():\n    return 7\nawait f()", "7"},
		{"json and re from the image", "import json, re\nre.sub(r'\\d', '#', json.dumps({'a': 12}))", `"{\"a\": ##}"`},
		{"statistics", "import statistics\nstatistics.mean([1, 2, 3, 4])", "2.5"},
		{"decimal", "from decimal import Decimal\nstr(Decimal('1.1') + Decimal('2.2'))", `"3.3"`},
		{"hashlib", "import hashlib\nhashlib.sha256(b'abc').hexdigest()[:16]", `"ba7816bf8f01cfea"`},
		{"zlib round trip", "import zlib\nzlib.decompress(zlib.compress(b'a' * 1000)) == b'a' * 1000", "true"},
		{"module outside the image imports from the zip", "import csv, io\nlist(csv.reader(io.StringIO('a,b\\n1,2')))", `[["a","b"],["1","2"]]`},
		{"sys.exit(0) is a normal end", "print('x')\nimport sys\nsys.exit(0)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := pyEval(t, engine.Limits{}, tt.code)
			if err != nil {
				t.Fatalf("eval %q: %v", tt.code, err)
			}
			if got := string(res.Value); got != tt.want {
				t.Fatalf("eval %q = %s, want %s", tt.code, got, tt.want)
			}
		})
	}
}

func TestPythonPrintGoesToLogs(t *testing.T) {
	res, err := pyEval(t, engine.Limits{}, "import sys\nprint('hello', 42)\nprint('a\\nb')\nprint('oops', file=sys.stderr)\nsys.stdout.write('no newline')\n5")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range res.Logs {
		got = append(got, l.Level+":"+l.Message)
	}
	want := []string{"log:hello 42", "log:a\nb", "error:oops", "log:no newline"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("logs %q, want %q", got, want)
	}
	if string(res.Value) != "5" {
		t.Fatalf("value %s, want 5", res.Value)
	}
}

func TestPythonEvalErrors(t *testing.T) {
	tests := []struct {
		name, code string
		wantCode   isoerr.Code
		wantMsg    string // the whole message
		wantStack  []string
	}{
		{"exception: last traceback line and the traceback", "def boom():\n    raise ValueError('boom')\nboom()",
			isoerr.WorkerException, "ValueError: boom",
			[]string{"Traceback (most recent call last):", `File "<exec>", line 3, in <module>`, "raise ValueError('boom')", "ValueError: boom"}},
		{"exception without a message", "raise KeyError", isoerr.WorkerException, "KeyError", nil},
		{"division by zero", "1 / 0", isoerr.WorkerException, "ZeroDivisionError: division by zero", nil},
		{"syntax error", "x = (1 +", isoerr.InvalidWorkerCode, "SyntaxError: '(' was never closed", []string{`File "<exec>", line 1`}},
		{"sys.exit(3)", "import sys\nsys.exit(3)", isoerr.WorkerException, "SystemExit: 3", nil},
		{"unbounded recursion is a RecursionError", "def f(n):\n    return f(n + 1)\nf(0)",
			isoerr.WorkerException, "RecursionError: maximum recursion depth exceeded", []string{"line 2, in f"}},
		{"host files do not exist", "open('/etc/passwd').read()", isoerr.WorkerException,
			"FileNotFoundError: [Errno 44] No such file or directory: '/etc/passwd'", nil},
		{"no ctypes", "import ctypes", isoerr.WorkerException, "ModuleNotFoundError: No module named 'ctypes'", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pyEval(t, engine.Limits{}, tt.code)
			e := isoerr.As(err)
			if err == nil || e.Code != tt.wantCode || e.Message != tt.wantMsg {
				t.Fatalf("eval %q: err %v, want %s %q", tt.code, err, tt.wantCode, tt.wantMsg)
			}
			for _, s := range tt.wantStack {
				if !strings.Contains(e.Stack, s) {
					t.Errorf("stack %q does not contain %q", e.Stack, s)
				}
			}
			if strings.Contains(e.Stack, "<isobox>") {
				t.Errorf("stack shows the sandbox's own frames: %q", e.Stack)
			}
		})
	}
}

// Nothing outside the sandbox is reachable: no sockets, no processes, and the only file is
// the standard library.
func TestPythonNoWayOut(t *testing.T) {
	tests := []struct{ name, code, want string }{
		{"socket connect", "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 80), timeout=1)\n    r = 'connected'\nexcept Exception as e:\n    r = type(e).__name__\nr", ""},
		{"subprocess", "import subprocess\ntry:\n    subprocess.run(['/bin/sh', '-c', 'true'])\n    r = 'ran'\nexcept Exception as e:\n    r = type(e).__name__\nr", ""},
		{"os.system", "import os\ntry:\n    r = os.system('true')\nexcept Exception as e:\n    r = type(e).__name__\nr", ""},
		{"the file system holds only the standard library", "import os\nos.listdir('/lib')", `["python313.zip"]`},
		{"writing a file fails", "try:\n    open('/lib/x', 'w')\n    r = 'written'\nexcept OSError as e:\n    r = 'OSError'\nr", `"OSError"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := pyEval(t, engine.Limits{}, tt.code)
			if err != nil {
				t.Fatalf("eval: %v", err)
			}
			got := string(res.Value)
			if tt.want != "" {
				if got != tt.want {
					t.Fatalf("got %s, want %s", got, tt.want)
				}
				return
			}
			// The operation must have failed with a Python exception (its class name).
			var name string
			if json.Unmarshal(res.Value, &name) != nil || name == "" || name == "connected" || name == "ran" || name == "0" {
				t.Fatalf("the operation was not refused: %s", got)
			}
		})
	}
}

// The limits hold whatever the code does, with the same typed errors as JavaScript, and
// the sandbox is broken afterwards.
func TestPythonLimits(t *testing.T) {
	tests := []struct {
		name string
		lim  engine.Limits
		mem  uint64
		code string
		want isoerr.Code
	}{
		{"busy loop", engine.Limits{CPU: 50 * time.Millisecond}, 0, "while True:\n    pass", isoerr.CPULimitExceeded},
		{"a loop that catches BaseException", engine.Limits{CPU: 50 * time.Millisecond}, 0,
			"while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass", isoerr.CPULimitExceeded},
		{"finally and with blocks that loop", engine.Limits{CPU: 50 * time.Millisecond}, 0,
			"import contextlib\nwhile True:\n    try:\n        with contextlib.suppress(BaseException):\n            while True:\n                pass\n    finally:\n        while True:\n            pass", isoerr.CPULimitExceeded},
		{"regex backtracking", engine.Limits{CPU: 50 * time.Millisecond}, 0,
			"import re\nre.match(r'(a+)+$', 'a' * 64 + 'b')", isoerr.CPULimitExceeded},
		{"memory", engine.Limits{CPU: 10 * time.Second}, 64 << 20, "x = []\nwhile True:\n    x.append(' ' * 10**6)", isoerr.MemoryLimitExceeded},
		{"memory with MemoryError caught", engine.Limits{CPU: 10 * time.Second}, 64 << 20,
			"x = []\nwhile True:\n    try:\n        x.append(' ' * 10**6)\n    except MemoryError:\n        pass", isoerr.MemoryLimitExceeded},
		{"sleep past the wall limit", engine.Limits{Wall: 100 * time.Millisecond}, 0, "import time\ntime.sleep(3600)", isoerr.WallTimeExceeded},
		{"output", engine.Limits{Output: 1000}, 0, "'x' * 2000", isoerr.OutputLimitExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := newPySandbox(t, engine.SandboxConfig{Memory: tt.mem})
			_, err := sb.Eval(context.Background(), tt.lim, tt.code)
			if e := isoerr.As(err); err == nil || e.Code != tt.want {
				t.Fatalf("err %v, want %s", err, tt.want)
			}
			if tt.want == isoerr.OutputLimitExceeded {
				return // the sandbox is intact: only the answer was too large
			}
			if _, err := sb.Eval(context.Background(), engine.Limits{}, "1"); isoerr.As(err).Code != tt.want {
				t.Fatalf("the sandbox was not broken by the limit: next eval %v", err)
			}
		})
	}
}

// Code that never reaches a loop of its own is stopped at the limits too: calls from
// Python to Python (CPython's RESUME_CHECK) and C loops over the C iterators that are
// sources of items (ranges, itertools' infinite and combinatoric iterators, iter(f,
// sentinel), __getitem__ and __next__ implemented in C, reversed, io's line iterators and
// the tokenizer, which call a readline that may be C) poll the host
// (engine/py/build/patches/0002-isobox-poll-calls-and-iterators.patch; RATIONALE.md).
// Each snippet here never ends by itself; `while True: pass` is the control.
func TestPythonLimitsWithoutLoops(t *testing.T) {
	cpu := engine.Limits{CPU: 50 * time.Millisecond}
	wall := engine.Limits{CPU: engine.MaxCPU, Wall: 100 * time.Millisecond}
	tests := []struct {
		name string
		lim  engine.Limits
		code string
		want isoerr.Code
	}{
		{"control: while True", cpu, "while True:\n    pass", isoerr.CPULimitExceeded},
		{"recursive fib", cpu, "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nfib(60)", isoerr.CPULimitExceeded},
		{"two calls a level", cpu, "def f(n):\n    if n:\n        f(n - 1)\n        f(n - 1)\nf(60)", isoerr.CPULimitExceeded},
		{"two calls a level, wall", wall, "def f(n):\n    if n:\n        f(n - 1)\n        f(n - 1)\nf(60)", isoerr.WallTimeExceeded},
		{"sum(range)", wall, "sum(range(2**31 - 1))", isoerr.WallTimeExceeded},
		{"sum(range), cpu", cpu, "sum(range(2**31 - 1))", isoerr.CPULimitExceeded},
		{"sum(range) of big ints", wall, "sum(range(10**30))", isoerr.WallTimeExceeded},
		{"any(repeat)", cpu, "import itertools\nany(itertools.repeat(False))", isoerr.CPULimitExceeded},
		{"any(repeat), wall", wall, "import itertools\nany(itertools.repeat(False))", isoerr.WallTimeExceeded},
		{"any(iter(int, 1))", cpu, "any(iter(int, 1))", isoerr.CPULimitExceeded},
		{"deque(count, maxlen=0)", cpu, "import collections, itertools\ncollections.deque(itertools.count(), maxlen=0)", isoerr.CPULimitExceeded},
		{"any(cycle)", cpu, "import itertools\nany(itertools.cycle([0, False]))", isoerr.CPULimitExceeded},
		{"all(permutations)", cpu, "import itertools\nall(itertools.permutations(range(30)))", isoerr.CPULimitExceeded},
		{"all(product)", cpu, "import itertools\nall(itertools.product(range(10), repeat=40))", isoerr.CPULimitExceeded},
		{"all(combinations)", cpu, "import itertools\nall(itertools.combinations(range(80), 40))", isoerr.CPULimitExceeded},
		{"all(combinations_with_replacement)", cpu, "import itertools\nall(itertools.combinations_with_replacement(range(80), 40))", isoerr.CPULimitExceeded},
		{"filter over map", cpu, "import itertools\nnext(filter(None, map(int, itertools.repeat('0'))))", isoerr.CPULimitExceeded},
		{"str.join of a C iterator", cpu, "import itertools\n''.join(itertools.repeat(''))", isoerr.CPULimitExceeded},
		{"__next__ in C", cpu, "class It:\n    __next__ = int\n    def __iter__(self):\n        return self\nany(It())", isoerr.CPULimitExceeded},
		{"__getitem__ in C", cpu, "class S(int):\n    __getitem__ = int.__mul__\nany(S(0))", isoerr.CPULimitExceeded},
		{"reversed, __getitem__ in C", cpu, "class R(int):\n    __getitem__ = int.__mul__\n    def __len__(self):\n        return 2**30\nany(reversed(R(0)))", isoerr.CPULimitExceeded},
		{"io line iterator, readline in C", cpu, "import io, functools, collections\nclass F(io.IOBase):\n    readline = staticmethod(functools.partial(bytes, 1))\ncollections.deque(F(), maxlen=0)", isoerr.CPULimitExceeded},
		{"StringIO subclass, readline in C", cpu, "import io, functools, collections\nclass S(io.StringIO):\n    readline = staticmethod(functools.partial(str, 1))\ncollections.deque(S(), maxlen=0)", isoerr.CPULimitExceeded},
		{"TextIOWrapper subclass, readline in C", cpu, "import io, functools, collections\nclass T(io.TextIOWrapper):\n    readline = staticmethod(functools.partial(str, 1))\ncollections.deque(T(io.BytesIO()), maxlen=0)", isoerr.CPULimitExceeded},
		{"BufferedReader subclass, readline in C", cpu, "import io, functools, collections\nclass B(io.BufferedReader):\n    readline = staticmethod(functools.partial(bytes, 1))\ncollections.deque(B(io.BytesIO()), maxlen=0)", isoerr.CPULimitExceeded},
		{"tokenizer, readline in C", cpu, "import _tokenize, functools, collections\ncollections.deque(_tokenize.TokenizerIter(functools.partial(str, 'x\\n'), extra_tokens=False), maxlen=0)", isoerr.CPULimitExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := newPySandbox(t, engine.SandboxConfig{})
			res, err := sb.Eval(context.Background(), tt.lim, tt.code)
			if e := isoerr.As(err); err == nil || e.Code != tt.want {
				var v string
				if res != nil {
					v = string(res.Value)
				}
				t.Fatalf("err %v (value %q), want %s", err, v, tt.want)
			}
			if _, err := sb.Eval(context.Background(), engine.Limits{}, "1"); isoerr.As(err).Code != tt.want {
				t.Fatalf("the sandbox was not broken by the limit: next eval %v", err)
			}
		})
	}
}

// Loops whose every iteration allocates and keeps about a megabyte are stopped at the CPU
// limit: the interpreter polls every 1,000 checks of its eval breaker, not by what an
// iteration costs, and a fresh megabyte costs ~4 ms of page faults here, so these polled
// about once in their ~0.8 s (past the middle) and ran to the memory limit (seconds) when
// unbounded. Now every KiB allocated is a tick of the poll's clock
// (engine/py/build/patches/0003-isobox-charge-allocations.patch). Each runs to its end
// first, then under a 10 ms limit, which must stop it before half that time (a ratio in
// one run, not a time). A loop that drops what it allocates reuses the memory (~30 µs an
// iteration) and was stopped in time before.
func TestPythonAllocationLoopsStop(t *testing.T) {
	tests := []struct {
		name, code, want string
	}{
		{"kept bytearrays", "k = []\nfor i in range(200):\n    k.append(bytearray(2**20 - 1))\nlen(k)", "200"},
		{"kept strings", "k = []\nfor i in range(200):\n    k.append('z' * (2**20 - 1))\nlen(k)", "200"},
		{"kept lists", "k = []\nfor i in range(200):\n    k.append([i] * 2**17)\nlen(k)", "200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pyStopsBeforeItsEnd(t, func() *engine.PythonSandbox {
				return newPySandbox(t, engine.SandboxConfig{Memory: 1 << 30})
			}, tt.code, tt.want)
		})
	}
}

// Long single C operations on numbers stop at the CPU limit: big-int arithmetic polls
// through CPython's own signal checks in its multiplication and division loops (a tick
// each, 0001), and decimal's arithmetic through its allocations
// (engine/py/build/patches/0005-isobox-poll-decimal.patch; before it, a square root to
// 10^6 digits ran 20.7 s under a 50 ms limit).
func TestPythonLongNumberOperationsStop(t *testing.T) {
	tests := []struct {
		name, code, want string
	}{
		{"decimal square root", "import decimal\ndecimal.getcontext().prec = 2 * 10**4\nlen(str(decimal.Decimal(2).sqrt()))", "20001"},
		{"big-int power", "len(bin(3**(10**6)))", "1584965"},
		{"big-int division", "(7**(3 * 10**5) // (3**(10**5) + 1)).bit_length()", "683711"},
		{"factorial", "import math\nmath.factorial(6 * 10**4).bit_length()", "865809"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pyStopsBeforeItsEnd(t, func() *engine.PythonSandbox {
				return newPySandbox(t, engine.SandboxConfig{})
			}, tt.code, tt.want)
		})
	}
}

// pyStopsBeforeItsEnd runs code to its end in one sandbox and under a 10 ms CPU limit in
// another (each made by fresh), and fails unless the second ends in cpu_limit_exceeded
// before half the CPU time the first took: a ratio in one run, not a time.
func pyStopsBeforeItsEnd(t *testing.T, fresh func() *engine.PythonSandbox, code, want string) {
	t.Helper()
	full, err := fresh().Eval(context.Background(), engine.Limits{CPU: 30 * time.Second, Wall: time.Hour}, code)
	if err != nil {
		t.Fatalf("run to its end: %v", err)
	}
	if got := string(full.Value); got != want {
		t.Fatalf("run to its end = %s, want %s", got, want)
	}
	res, err := fresh().Eval(context.Background(), engine.Limits{CPU: 10 * time.Millisecond, Wall: time.Hour}, code)
	if got := isoerr.CodeOf(err); got != isoerr.CPULimitExceeded {
		t.Fatalf("got %v (after %v of CPU; to its end %v), want %s", err, res.CPU, full.CPU, isoerr.CPULimitExceeded)
	}
	t.Logf("stopped after %v; to its end: %v", res.CPU, full.CPU)
	if res.CPU >= full.CPU/2 {
		t.Fatalf("stopped after %v of CPU; run to its end it took %v", res.CPU, full.CPU)
	}
}

// A single C call that walks a container (a sort, a search, a C consumer of a list's or a
// tuple's iterator) is stopped at the CPU limit: each comparison or item polls
// (engine/py/build/patches/0004-isobox-poll-container-walks.patch). On the build before,
// each ran to its end, bounded only by the container's size (a sort of 2M floats: 0.9 s
// here). setup builds the container under a long limit; the call then runs to its end in
// one sandbox and under a 10 ms limit in another, which must stop it before half that time.
func TestPythonContainerWalksStop(t *testing.T) {
	const list = "l = [0] * 10**7 + [1]"
	const tuple = "t = (0,) * 10**7 + (1,)"
	const shuffled = "l = [i * 7919 % 1000003 for i in range(10**6)]"
	tests := []struct {
		name, setup, code, want string
	}{
		{"list.sort", shuffled, "l.sort()\nl[0] <= l[1]", "true"},
		{"sorted with a key", shuffled, "len(sorted(l, key=abs))", "1000000"},
		{"list.count", list, "l.count(1)", "1"},
		{"in a list", list, "2 in l", "false"},
		{"list.index", list, "l.index(1)", "10000000"},
		{"list.remove", list, "l.remove(1)\nlen(l)", "10000000"},
		{"max of a list", list, "max(l)", "1"},
		{"sum of a reversed list", list, "sum(reversed(l))", "1"},
		{"tuple.count", tuple, "t.count(1)", "1"},
		{"in a tuple", tuple, "2 in t", "false"},
		{"tuple.index", tuple, "t.index(1)", "10000000"},
		{"sum of a tuple", tuple, "sum(t)", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pyStopsBeforeItsEnd(t, func() *engine.PythonSandbox {
				sb := newPySandbox(t, engine.SandboxConfig{Memory: 512 << 20})
				if _, err := sb.Eval(context.Background(), engine.Limits{CPU: 30 * time.Second, Wall: time.Hour}, tt.setup); err != nil {
					t.Fatalf("setup: %v", err)
				}
				return sb
			}, tt.code, tt.want)
		})
	}
}

// The polls above change nothing a program can see: iterators run to their end, a
// StopIteration from a callable iterator or __next__ ends the loop as before, and an
// exception raised inside them is still catchable; io's line iterators give every line.
func TestPythonIteratorsUnchangedByPolls(t *testing.T) {
	code := `import io, itertools
class It:
    def __init__(self):
        self.n = 0
    def __iter__(self):
        return self
    def __next__(self):
        self.n += 1
        if self.n > 3000:
            raise StopIteration
        return self.n
class S:
    def __getitem__(self, i):
        if i >= 2500:
            raise IndexError(i)
        return i
def rec(n):
    return 0 if n == 0 else 1 + rec(n - 1)
def boom():
    raise ValueError('x')
try:
    any(iter(boom, 1))
    caught = False
except ValueError:
    caught = True
[sum(range(100000)), sum(range(10**20, 10**20 + 3000)) - 3000 * 10**20, len(list(itertools.islice(itertools.count(), 5000))),
 sum(itertools.repeat(2, 4000)), len(list(itertools.permutations(range(7)))), len(list(itertools.product(range(4), repeat=6))),
 len(list(itertools.combinations(range(16), 8))), len(list(itertools.combinations_with_replacement(range(8), 6))),
 len(list(itertools.islice(itertools.cycle('ab'), 3001))), sum(It()), sum(S()), sum(reversed(range(2000))),
 len(list(iter(iter(range(5000)).__next__, -1))), rec(500), caught,
 len(list(io.StringIO('a\n' * 3000))), len(list(io.TextIOWrapper(io.BytesIO(b'a\n' * 3000)))),
 len(list(io.BufferedReader(io.BytesIO(b'a\n' * 3000))))]`
	res, err := pyEval(t, engine.Limits{CPU: 5 * time.Second}, code)
	if err != nil {
		t.Fatal(err)
	}
	want := "[4999950000,4498500,5000,8000,5040,4096,12870,1716,3001,4501500,3123750,1999000,5000,500,true,3000,3000,3000]"
	if string(res.Value) != want {
		t.Fatalf("got %s\nwant %s", res.Value, want)
	}
}

// time.sleep waits for real but is not CPU time.
func TestPythonSleepIsNotCPU(t *testing.T) {
	res, err := pyEval(t, engine.Limits{CPU: 50 * time.Millisecond}, "import time\nt = time.monotonic()\ntime.sleep(0.3)\ntime.monotonic() - t >= 0.3")
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Value) != "true" {
		t.Fatalf("slept less than asked: %s", res.Value)
	}
}

func TestPythonCanceled(t *testing.T) {
	sb := newPySandbox(t, engine.SandboxConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err := sb.Eval(ctx, engine.Limits{CPU: engine.MaxCPU}, "while True:\n    pass")
	if isoerr.As(err).Code != isoerr.Canceled {
		t.Fatalf("err %v, want canceled", err)
	}
}

// A sandbox keeps its variables from one Eval to the next; sandboxes made from the same
// image share nothing.
func TestPythonStateIsPerSandbox(t *testing.T) {
	a := newPySandbox(t, engine.SandboxConfig{})
	b := newPySandbox(t, engine.SandboxConfig{})
	ctx := context.Background()
	if _, err := a.Eval(ctx, engine.Limits{}, "x = 41\nimport json\njson.loads = None"); err != nil {
		t.Fatal(err)
	}
	res, err := a.Eval(ctx, engine.Limits{}, "x + 1")
	if err != nil || string(res.Value) != "42" {
		t.Fatalf("a: x + 1 = %s, %v", res.Value, err)
	}
	res, err = b.Eval(ctx, engine.Limits{}, "import json\n['x' in globals(), json.loads('[1]')]")
	if err != nil || string(res.Value) != "[false,[1]]" {
		t.Fatalf("b sees a's state: %s, %v", res.Value, err)
	}
}

// Sandboxes restored from one image do not repeat each other's random numbers. (The str
// hash seed is per engine, not per sandbox: see RATIONALE.md.)
func TestPythonReseeded(t *testing.T) {
	ctx := context.Background()
	code := "import random\n[random.random(), random.getrandbits(64)]"
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		res, err := newPySandbox(t, engine.SandboxConfig{}).Eval(ctx, engine.Limits{}, code)
		if err != nil {
			t.Fatal(err)
		}
		if seen[string(res.Value)] {
			t.Fatalf("two sandboxes drew the same random numbers %s", res.Value)
		}
		seen[string(res.Value)] = true
	}
	// hash() is stable within a sandbox (the image's dicts depend on it) and differs
	// between engines.
	h1, err := newPySandbox(t, engine.SandboxConfig{}).Eval(ctx, engine.Limits{}, "[hash('isobox'), hash('isobox') == hash(''.join(['iso', 'box']))]")
	if err != nil || !strings.HasSuffix(string(h1.Value), ",true]") {
		t.Fatalf("hash within a sandbox: %s, %v", h1.Value, err)
	}
	other, err := engine.New(ctx, engine.Config{CacheDir: enginetest.FreshCacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	sb, err := other.NewPythonSandbox(ctx, engine.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(ctx)
	h2, err := sb.Eval(ctx, engine.Limits{}, "[hash('isobox'), hash('isobox') == hash(''.join(['iso', 'box']))]")
	if err != nil {
		t.Fatal(err)
	}
	if string(h1.Value) == string(h2.Value) {
		t.Fatalf("two engines share the str hash seed: %s", h1.Value)
	}
}

// A PythonSandbox runs snippets; a worker's modules go to NewSandbox with cfg.Python.
func TestPythonSandboxRefusesModules(t *testing.T) {
	ctx := context.Background()
	_, err := testEngine.NewPythonSandbox(ctx, engine.SandboxConfig{Modules: engine.ModuleMap{"main.py": {Type: engine.ModulePy, Content: []byte("x = 1")}}})
	if isoerr.As(err).Code != isoerr.InvalidRequest {
		t.Fatalf("modules: err %v, want invalid_request", err)
	}
}

// Once a limit stops the code, no except or finally block runs, not even one that does its
// work in C without ever polling (here: a log line sent straight to the host).
func TestPythonNoHandlerRunsAfterAStop(t *testing.T) {
	for _, block := range []string{"except BaseException:", "finally:"} {
		t.Run(block, func(t *testing.T) {
			sb := newPySandbox(t, engine.SandboxConfig{})
			code := "import _isobox\nwhile True:\n    try:\n        while True:\n            pass\n    " + block +
				"\n        _isobox.console('{\"level\": \"log\", \"message\": \"handler ran\"}')"
			res, err := sb.Eval(context.Background(), engine.Limits{CPU: 50 * time.Millisecond}, code)
			if isoerr.As(err).Code != isoerr.CPULimitExceeded {
				t.Fatalf("err %v, want cpu_limit_exceeded", err)
			}
			if len(res.Logs) != 0 {
				t.Fatalf("a handler ran after the stop: logs %v", res.Logs)
			}
		})
	}
}

// The Python base image is kept in the cache directory: a later engine (process) with the
// same directory starts from it (and so has the same str hash seed), and a damaged file is
// made again, never used.
func TestPythonImageCachedOnDisk(t *testing.T) {
	ctx := context.Background()
	dir := enginetest.FreshCacheDir(t)
	hashIn := func() string {
		t.Helper()
		e, err := engine.New(ctx, engine.Config{CacheDir: dir, NoImage: true})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close(ctx)
		sb, err := e.NewPythonSandbox(ctx, engine.SandboxConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close(ctx)
		res, err := sb.Eval(ctx, engine.Limits{}, "hash('isobox')")
		if err != nil {
			t.Fatal(err)
		}
		return string(res.Value)
	}
	first := hashIn()
	images, _ := filepath.Glob(filepath.Join(dir, "python-base-*.img"))
	if len(images) != 1 {
		t.Fatalf("cache holds %v, want one python image", images)
	}
	if again := hashIn(); again != first {
		t.Fatalf("the second engine did not start from the cached image: hash %s, then %s", first, again)
	}
	b, err := os.ReadFile(images[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(images[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	if third := hashIn(); third == first {
		t.Fatalf("a damaged image was used (hash %s again)", third)
	}
}

// Unbounded recursion is a RecursionError whose traceback folds the recursion as CPython
// prints it, and shows only the ends of a long traceback that does not fold (mutual
// recursion): formatting every one of the ~1000 frames, as CPython's traceback module does
// before it folds them, took ~0.3 s of CPU in the sandbox, past the default CPU limit, so
// the snippet ended as cpu_limit_exceeded (BenchmarkPythonRecursionError measures it).
func TestPythonRecursionErrorTraceback(t *testing.T) {
	tests := []struct {
		name, code string
		wantStack  []string
	}{
		{"a function calling itself", "def f(n):\n    return f(n + 1)\nf(0)",
			[]string{"Traceback (most recent call last):\n", `File "<exec>", line 3, in <module>`, `File "<exec>", line 2, in f`,
				"[Previous line repeated 99", "more times]\nRecursionError: maximum recursion depth exceeded"}},
		{"two functions calling each other", "def f(n):\n    return g(n)\ndef g(n):\n    return f(n + 1)\nf(0)",
			[]string{`File "<exec>", line 5, in <module>`, `File "<exec>", line 2, in f`, `File "<exec>", line 4, in g`,
				"more frames ...]\n", "RecursionError: maximum recursion depth exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pyEval(t, engine.Limits{CPU: time.Second}, tt.code)
			e := isoerr.As(err)
			if err == nil || e.Code != isoerr.WorkerException || e.Message != "RecursionError: maximum recursion depth exceeded" {
				t.Fatalf("err %v, want worker_exception RecursionError", err)
			}
			for _, s := range tt.wantStack {
				if !strings.Contains(e.Stack, s) {
					t.Errorf("stack does not contain %q:\n%s", s, e.Stack)
				}
			}
			if n := strings.Count(e.Stack, "\n"); n > 60 {
				t.Errorf("the stack has %d lines:\n%s", n, e.Stack)
			}
		})
	}
}

// A traceback of a few frames is CPython's, whole: every frame, the carets under the
// failing part of a line.
func TestPythonShortTracebackWhole(t *testing.T) {
	code := "import json\ndef load(s):\n    return json.loads(s)\nd = {'a': 1}\nx = load('{') + d['a']"
	_, err := pyEval(t, engine.Limits{}, code)
	e := isoerr.As(err)
	if err == nil || e.Code != isoerr.WorkerException || !strings.HasPrefix(e.Message, "json.decoder.JSONDecodeError: ") {
		t.Fatalf("err %v", err)
	}
	for _, s := range []string{`File "<exec>", line 5, in <module>`, "x = load('{') + d['a']\n        ~~~~^^^^^\n", `File "<exec>", line 3, in load`,
		`json/__init__.py", line 346, in loads`, `json/decoder.py", line 361, in raw_decode`} {
		if !strings.Contains(e.Stack, s) {
			t.Errorf("stack does not contain %q:\n%s", s, e.Stack)
		}
	}
	if strings.Contains(e.Stack, "more frames") || strings.Contains(e.Stack, "<isobox>") {
		t.Errorf("stack:\n%s", e.Stack)
	}
}
