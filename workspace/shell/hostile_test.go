package shell

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/isoerr"
)

func TestScripts(t *testing.T) {
	tests := []struct{ script, stdout string }{
		{"for f in *.txt; do echo \"$f: $(wc -l < $f)\"; done | sort | head -2", "a.txt: 4\ncsv.txt: 3\n"},
		{"n=0; while read -r line; do n=$((n+1)); done < old.txt; echo $n", "4\n"},
		{"grep -q TODO a.txt && echo found || echo none", "found\n"},
		{"grep -q XYZ a.txt && echo found || echo none", "none\n"},
		{"x=$(jq -r .name data.json); echo ${x^^}", "ISOBOX\n"},
		{"f() { echo \"arg $1\"; return 3; }; f one; echo $?", "arg one\n3\n"},
		{"set -e; false; echo unreachable", ""},
		{"set -o pipefail; cat nope 2>/dev/null | wc -l; echo $?", "0\n1\n"},
		{"case old.txt in *.txt) echo text;; *) echo other;; esac", "text\n"},
		{"a=(x y z); echo ${#a[@]} ${a[1]}", "3 y\n"},
		{"cat <<EOF | tr a-z A-Z\nhello $((1+2))\nEOF", "HELLO 3\n"},
		{"if [ -f a.txt ] && [ ! -e nope ] && [ -d src ] && [ -s a.txt ]; then echo ok; fi", "ok\n"},
		{"cd src && ls *.go && cd - >/dev/null && pwd", "main.go\nutil.go\n/\n"},
		{"echo $$ > /dev/null; echo done", "done\n"},
		{"cat /dev/null | wc -c", "0\n"},
		{"echo err >&2 2>/dev/null; echo out", "out\n"},
		{"source() { :; }; echo 'echo sourced' > s.sh; . ./s.sh", "sourced\n"},
		{"(cd src; pwd); pwd", "/src\n/\n"},
		{"grep -rl TODO . | xargs -n1 basename | sort", "a.txt\nmain.go\n"},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			st := newStore(t, fixture)
			res := run(t, st, tt.script)
			if res.Stdout != tt.stdout {
				t.Errorf("stdout %q (stderr %q, exit %d), want %q", res.Stdout, res.Stderr, res.ExitCode, tt.stdout)
			}
		})
	}
}

// What a tenant could try against the host through a script, and what it gets.
func TestHostile(t *testing.T) {
	st := newStore(t, map[string]string{"etc/hosts": "workspace hosts\n"})
	tests := []struct {
		name, script string
		opts         Options
		stdout       string
		stderr       string // substring
		code         int
		err          isoerr.Code
	}{
		{name: "host files are the workspace's", script: "cat /etc/passwd", stderr: "/etc/passwd: No such file", code: 1},
		{name: "the workspace's own /etc", script: "cat /etc/hosts", stdout: "workspace hosts\n"},
		{name: "dot-dot stays inside", script: "cd ../../..; pwd; cat ../../../etc/hosts", stdout: "/\nworkspace hosts\n"},
		{name: "no host tests", script: "[ -e /bin/sh ] || [ -d /proc ] || [ -r /etc/passwd ] || echo none", stdout: "none\n"},
		{name: "no host glob", script: "echo /e*/p*; echo /proc/*", stdout: "/e*/p*\n/proc/*\n"},
		{name: "no host processes", script: "/bin/sh -c id", stderr: "command not found", code: 127},
		{name: "no exec of host processes", script: "exec /bin/sh", stderr: "command not found", code: 127},
		{name: "no host lookup", script: "type -p sh; command -v bash; hash sh", stderr: "not found", code: 1},
		{name: "no host environment", script: "echo \"[$USER][$GOPATH][$HOSTNAME]\"; env | grep -c -v -e ^HOME= -e ^PATH= -e ^PWD= -e ^SHELL= -e ^OLDPWD= -e ^TMPDIR=", stdout: "[][][]\n0\n", code: 1},
		{name: "no host home", script: "echo ~root", stderr: "~user is not supported", code: 2},
		{name: "no host fifo", script: "diff <(ls) <(ls)", stderr: "process substitution is not supported", code: 2},
		{name: "no background jobs", script: "f(){ f|f& }; f", stderr: "background jobs", code: 2},
		{name: "no ~user through eval", script: "eval 'echo ~root'; echo $?", stdout: "2\n", stderr: "~user is not supported"},
		{name: "no host fifo through eval", script: "eval 'cat <(echo hi)'", stderr: "process substitution is not supported", code: 2},
		{name: "no background through builtin eval", script: "builtin eval 'f(){ f & f & }; f'", stderr: "background jobs", code: 2},
		{name: "no background through command eval", script: "command eval 'sleep 9 &'", stderr: "background jobs", code: 2},
		{name: "no background through trap", script: "trap 'sleep 9 &' EXIT; echo x", stdout: "x\n", stderr: "background jobs"},
		{name: "no background through source", script: "echo 'sleep 9 &' > bg.sh; . ./bg.sh", stderr: "background jobs", code: 2},
		{name: "source of a missing file", script: "source nope.sh", stderr: "nope.sh", code: 1},
		{name: "eval still works", script: "eval 'x=1; echo $((x+1))' | cat", stdout: "2\n"},
		{name: "brace bomb", script: "echo {1..9999}{1..9999}", stderr: "brace expansions would make more than", code: 2},
		{name: "many brace words", script: "echo " + strings.Repeat("{1..9999} ", 10), stderr: "brace expansions", code: 2},
		{name: "brace bomb through eval", script: "eval 'echo {a..z}{1..9999}'", stderr: "brace expansions", code: 2},
		{name: "braces people use", script: "echo {a,b}{1..3} x{1..2..2}y | wc -w", stdout: "7\n"},
		{name: "sparse array index", script: "a[999999999999]=x; echo ${#a[@]}", stdout: "1\n"},
		{name: "growing array", script: "x=$(printf '%01000000d' 0); while :; do a+=(\"$x\"); done", code: -1, err: isoerr.MemoryLimitExceeded},
		{name: "printf width bomb", script: "printf '%01000000000d' 0; printf '%*s' 2000000000 x; printf -v v '%.2000000000f' 1; echo $?", stdout: "2\n", stderr: "printf: a width or precision above"},
		{name: "printf widths people use", script: "printf '%5s|%-3d|%.2f|%*d\\n' ab 7 3.14159 4 42", stdout: "   ab|7  |3.14|  42\n"},
		{name: "endless command substitution", script: "x=$(yes)", code: -1, err: isoerr.MemoryLimitExceeded},
		{name: "endless piped command substitution", script: "x=$(yes | cat)", code: -1, err: isoerr.MemoryLimitExceeded},
		// Lines of 4 KB reach the 16 MiB bound in ~4,000 turns (0.7 s here; 60-byte lines took
		// 1.4 s and once ran into the default 30 s wall limit under -race at load 9): the wall
		// limit is raised so that only the memory bound can end it.
		{name: "endless builtin command substitution", script: "x=$(while :; do echo " + strings.Repeat("y", 4096) + "; done)", opts: Options{Timeout: 10 * time.Minute}, code: -1, err: isoerr.MemoryLimitExceeded},
		{name: "no kill", script: "kill -9 $$; echo alive", stdout: "alive\n"},
		{name: "infinite producer into head", script: "yes | head -n 2; while :; do echo y; done | head -n 1; echo after", stdout: "y\ny\ny\nafter\n"},
		{name: "busy loop: step budget", script: "while true; do :; done", opts: Options{MaxSteps: 20_000}, code: -1, err: isoerr.CPULimitExceeded},
		{name: "loop without commands: wall time", script: "for ((;;)); do x=1; done", opts: Options{Timeout: 200 * time.Millisecond}, code: -1, err: isoerr.WallTimeExceeded},
		{name: "sleep: wall time", script: "sleep 60", opts: Options{Timeout: 200 * time.Millisecond}, code: -1, err: isoerr.WallTimeExceeded},
		{name: "giant output", script: "yes", opts: Options{MaxOutput: 10_000}, code: -1, err: isoerr.OutputLimitExceeded},
		{name: "giant stderr", script: "while :; do echo e >&2; done", opts: Options{MaxOutput: 10_000}, code: -1, err: isoerr.OutputLimitExceeded},
		{name: "deep recursion", script: "f(){ f; }; f", stderr: "maximum function nesting level", code: 2},
		{name: "doubling a variable", script: "x=abcdefgh; while :; do x=$x$x; done", code: -1, err: isoerr.MemoryLimitExceeded},
	}
	fifos, _ := filepath.Glob(filepath.Join(os.TempDir(), "sh-interp-*"))
	defer func() {
		after, _ := filepath.Glob(filepath.Join(os.TempDir(), "sh-interp-*"))
		if len(after) > len(fifos) {
			t.Errorf("FIFOs appeared in the host's temp dir: %v", after)
		}
	}()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), st, testWS, tt.script, tt.opts)
			if isoerr.CodeOf(err) != tt.err || err != nil && tt.err == "" {
				t.Fatalf("err %v, want %q (result %+v)", err, tt.err, res)
			}
			if tt.stdout != "" && res.Stdout != tt.stdout || !strings.Contains(res.Stderr, tt.stderr) || res.ExitCode != tt.code {
				t.Errorf("got stdout %q stderr %q exit %d\nwant stdout %q stderr ~%q exit %d", res.Stdout, res.Stderr, res.ExitCode, tt.stdout, tt.stderr, tt.code)
			}
			if tt.err == isoerr.OutputLimitExceeded && int64(len(res.Stdout)+len(res.Stderr)) != tt.opts.MaxOutput {
				t.Errorf("kept %d bytes of output, want exactly the limit %d", len(res.Stdout)+len(res.Stderr), tt.opts.MaxOutput)
			}
		})
	}
}

// A canceled context ends the run with canceled.
func TestCanceled(t *testing.T) {
	st := newStore(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	res, err := Run(ctx, st, testWS, "while :; do :; done", Options{})
	if isoerr.CodeOf(err) != isoerr.Canceled || res.ExitCode != -1 {
		t.Errorf("got %+v %v, want canceled", res, err)
	}
}

// No goroutine outlives a run, whatever way it ends.
func TestNoGoroutineLeak(t *testing.T) {
	st := newStore(t, fixture)
	scripts := []struct {
		script string
		opts   Options
	}{
		{"yes | head -1; cat a.txt | grep TODO | sort | uniq -c > out; exec > kept; echo x", Options{}},
		{"cat <<EOF | true\n" + strings.Repeat("x", 200_000) + "\nEOF", Options{}},
		{"while :; do echo y; done | while :; do cat > /dev/null; done", Options{Timeout: 100 * time.Millisecond}},
		{"f(){ f | f; }; f", Options{Timeout: 2 * time.Second}},
		{"yes | tee big > /dev/null", Options{Timeout: 100 * time.Millisecond}},
		{"yes", Options{MaxOutput: 1000}},
		{"yes > big", Options{Timeout: 100 * time.Millisecond}},
		{"eval 'cat <(echo x)'; source nope; trap 'x &' EXIT", Options{}},
	}
	before := runtime.NumGoroutine()
	for _, s := range scripts {
		Run(context.Background(), st, testWS, s.script, s.opts)
	}
	// Goroutines end asynchronously (the database's connection cleaners too): poll.
	var now int
	for range 20 {
		runtime.GC()
		if now = runtime.NumGoroutine(); now <= before {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Errorf("%d goroutines before, %d after:\n%s", before, now, buf[:runtime.Stack(buf, true)])
}

// f(){ f | f; }; f ends at one of the bounds a shell would hit (pipelines at once, or
// nesting, whichever the scheduler reaches first), long before the time limit.
func TestRecursivePipelines(t *testing.T) {
	st := newStore(t, nil)
	res, err := Run(context.Background(), st, testWS, "f(){ f | f; }; f", Options{Timeout: time.Minute})
	if err != nil || res.ExitCode != 2 ||
		!strings.Contains(res.Stderr, "pipelines running at once") && !strings.Contains(res.Stderr, "nesting level") {
		t.Errorf("got %+v %v, want a shell error", res, err)
	}
}
