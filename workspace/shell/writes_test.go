package shell

import (
	"context"
	"strings"
	"testing"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

func TestWritingCommands(t *testing.T) {
	tests := []struct {
		script string
		files  map[string]string // path -> content after ("<missing>": absent)
		code   int
		stderr string
	}{
		{script: "echo hi > out.txt", files: map[string]string{"out.txt": "hi\n"}},
		{script: "echo a > f; echo b >> f", files: map[string]string{"f": "a\nb\n"}},
		{script: "> empty", files: map[string]string{"empty": ""}},
		{script: "echo new > old.txt", files: map[string]string{"old.txt": "new\n"}},
		{script: "{ echo 1; cat old.txt | head -1; echo 3; } > g", files: map[string]string{"g": "1\none\n3\n"}},
		{script: "ls nope 2>&1 > /dev/null | wc -l > n", files: map[string]string{"n": "1\n"}},
		{script: "ls nope > o 2>&1", files: map[string]string{"o": "ls: cannot access 'nope': No such file or directory\n"}, code: 2},
		{script: "mkdir -p x/y/z && touch x/y/z/f", files: map[string]string{"x/y/z/f": ""}},
		{script: "mkdir src", code: 1, stderr: "File exists"},
		{script: "mkdir a/b", code: 1, stderr: "No such file"},
		{script: "rm old.txt", files: map[string]string{"old.txt": "<missing>"}},
		{script: "rm src", code: 1, stderr: "Is a directory", files: map[string]string{"src/main.go": fixture["src/main.go"]}},
		{script: "rm -r src", files: map[string]string{"src/main.go": "<missing>"}},
		{script: "rm nope", code: 1, stderr: "No such file"},
		{script: "rm -f nope"},
		{script: "cp old.txt c.txt", files: map[string]string{"c.txt": fixture["old.txt"], "old.txt": fixture["old.txt"]}},
		{script: "cp old.txt src", files: map[string]string{"src/old.txt": fixture["old.txt"]}},
		{script: "cp src dst", code: 1, stderr: "omitting directory"},
		{script: "cp -r src dst", files: map[string]string{"dst/deep/x.md": fixture["src/deep/x.md"]}},
		{script: "mv old.txt m.txt", files: map[string]string{"m.txt": fixture["old.txt"], "old.txt": "<missing>"}},
		{script: "mv old.txt new.txt src/", files: map[string]string{"src/old.txt": fixture["old.txt"], "src/new.txt": fixture["new.txt"]}},
		{script: "touch old.txt t", files: map[string]string{"old.txt": fixture["old.txt"], "t": ""}},
		{script: "echo x | tee t1 t2 > /dev/null", files: map[string]string{"t1": "x\n", "t2": "x\n"}},
		{script: "echo y | tee -a old.txt", files: map[string]string{"old.txt": fixture["old.txt"] + "y\n"}},
		{script: "sed -i 's/one/ONE/' old.txt", files: map[string]string{"old.txt": "ONE\ntwo\nthree\nfour\n"}},
		{script: "sort words.txt -o words.txt", files: map[string]string{"words.txt": "a\na\nb\nb\nb\nc\n"}},
		{script: "sort words.txt > words.txt", files: map[string]string{"words.txt": "a\na\nb\nb\nb\nc\n"}},
		{script: "tar czf a.tgz src && rm -r src && tar xzf a.tgz", files: map[string]string{"src/deep/x.md": fixture["src/deep/x.md"], "src/util.go": fixture["src/util.go"]}},
		{script: "tar cf - src | tar xf - -C out", files: map[string]string{"out/src/main.go": fixture["src/main.go"]}},
		{script: "gzip old.txt && gunzip old.txt.gz", files: map[string]string{"old.txt": fixture["old.txt"], "old.txt.gz": "<missing>"}},
		{script: "gzip -k old.txt && zcat old.txt.gz > back", files: map[string]string{"back": fixture["old.txt"], "old.txt": fixture["old.txt"]}},
		{script: "cat old.txt | gzip | gzip -d > round", files: map[string]string{"round": fixture["old.txt"]}},
		{script: "find src -name '*.go' -delete", files: map[string]string{"src/main.go": "<missing>", "src/deep/x.md": fixture["src/deep/x.md"]}},
		{script: "ln -s old.txt link && cat link > via", files: map[string]string{"via": fixture["old.txt"]}},
		{script: "for f in src/*.go; do wc -l $f; done > counts", files: map[string]string{"counts": "3 src/main.go\n2 src/util.go\n"}},
		{script: "exec > kept; echo one; echo two", files: map[string]string{"kept": "one\ntwo\n"}},
		{script: "echo x > src", code: 1, stderr: "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			st := newStore(t, fixture)
			res := run(t, st, tt.script)
			if res.ExitCode != tt.code || !strings.Contains(res.Stderr, tt.stderr) || tt.stderr == "" && res.Stderr != "" {
				t.Errorf("exit %d stderr %q; want exit %d stderr ~%q", res.ExitCode, res.Stderr, tt.code, tt.stderr)
			}
			for p, want := range tt.files {
				if got := readFile(t, st, p); got != want {
					t.Errorf("%s = %q, want %q", p, got, want)
				}
			}
		})
	}
}

// A write past the quota is the command's failure (message, nonzero status), and the
// file keeps its old content.
func TestQuotaIsAShellError(t *testing.T) {
	st := newStore(t, map[string]string{"keep.txt": "original\n"})
	ctx := context.Background()
	if err := st.SetQuota(ctx, testWS, 64, 0); err != nil {
		t.Fatal(err)
	}
	for _, script := range []string{
		"seq 1 100 > keep.txt",
		"seq 1 100 | tee keep.txt > /dev/null",
		"cp keep.txt a && cp keep.txt b && cp keep.txt c && cp keep.txt d && cp keep.txt e && cp keep.txt f && cp keep.txt g && cp keep.txt h",
	} {
		res := run(t, st, script)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "quota") {
			t.Errorf("%q: exit %d stderr %q, want a quota error", script, res.ExitCode, res.Stderr)
		}
		if got := readFile(t, st, "keep.txt"); got != "original\n" {
			t.Errorf("%q: keep.txt = %q, want it unchanged", script, got)
		}
	}
	// A builtin writing to a file fails as a command does: message, status 1, the
	// script going on, the file unchanged.
	for _, script := range []string{
		"printf '%0100d' 0 > keep.txt; echo status $?",
		"echo 0000000000000000000000000000000000000000000000000000000000000000000000 > keep.txt; echo status $?",
	} {
		res := run(t, st, script)
		if !strings.Contains(res.Stderr, "quota") || res.Stdout != "status 1\n" {
			t.Errorf("%q: %+v, want a quota message and status 1", script, res)
		}
		if got := readFile(t, st, "keep.txt"); got != "original\n" {
			t.Errorf("%q: keep.txt = %q, want it unchanged", script, got)
		}
	}
	// Inside a compound command's or exec's redirection each command's output is
	// committed when that command ends, so each failure is its command's.
	for _, script := range []string{
		"{ seq 1 30; seq 1 30; } > keep.txt",
		"exec > keep.txt; seq 1 30; echo 0000000000000000000000000000000000000000000000000000000000000000000000",
	} {
		res := run(t, st, script)
		if res.ExitCode != 1 || strings.Count(res.Stderr, "quota_exceeded") != 2 {
			t.Errorf("%q: exit %d stderr %q, want two quota errors and exit 1", script, res.ExitCode, res.Stderr)
		}
		if got := readFile(t, st, "keep.txt"); got != "original\n" {
			t.Errorf("%q: keep.txt = %q, want it unchanged", script, got)
		}
	}
	// What is committed only when the redirection closes (a builtin's output inside a
	// compound command) has no command's status to fail: the script's exit status does.
	res := run(t, st, "{ builtin echo 0000000000000000000000000000000000000000000000000000000000000000000000; } > keep.txt; true")
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "quota") {
		t.Errorf("builtin in a block: exit %d stderr %q, want a quota error and exit 1", res.ExitCode, res.Stderr)
	}
	if got := readFile(t, st, "keep.txt"); got != "original\n" {
		t.Errorf("keep.txt = %q, want it unchanged", got)
	}
}

// A redirection to a path no file can have is refused before the command runs, as a
// shell refuses it: a message, status 1, nothing written.
func TestRefusedRedirect(t *testing.T) {
	st := newStore(t, fixture)
	for _, tt := range []struct{ script, stderr string }{
		{"echo hi > old.txt/x; echo status $?", "not a directory"},
		{"echo hi > old.txt/deeper/x; echo status $?", "not a directory"},
		{"pwd > old.txt/x; echo status $?", "not a directory"},
		{"{ echo hi; } > old.txt/x; echo status $?", "not a directory"},
		{"seq 3 > old.txt/x; echo status $?", "not a directory"},
		{"echo hi > " + strings.Repeat("d/", workspace.MaxDepth) + "f; echo status $?", "deep"},
		{"echo hi > " + strings.Repeat("n", workspace.MaxNameLength+1) + "; echo status $?", "limit"},
		{"echo hi > src; echo status $?", "is a directory"},
	} {
		res := run(t, st, tt.script)
		if res.Stdout != "status 1\n" || !strings.Contains(res.Stderr, tt.stderr) {
			t.Errorf("%q: stdout %q stderr %q, want status 1 and ~%q", tt.script, res.Stdout, res.Stderr, tt.stderr)
		}
	}
	// The last command's refused redirect is the script's exit status.
	if res := run(t, st, "echo hi > old.txt/x"); res.ExitCode != 1 {
		t.Errorf("exit %d, want 1", res.ExitCode)
	}
	for p, want := range fixture {
		if got := readFile(t, st, p); got != want {
			t.Errorf("%s = %q, want it unchanged", p, got)
		}
	}
	// echo and pwd to a file still behave as the builtins do.
	res := run(t, st, "echo -n a > e; echo -e 'b\\tc' >> e; cd src; pwd >> ../e; echo -- x >> ../e; cat ../e")
	if want := "ab\tc\n/src\n-- x\n"; res.Stdout != want || res.ExitCode != 0 {
		t.Errorf("echo/pwd to a file: %+v, want stdout %q", res, want)
	}
}

func TestFileTooLarge(t *testing.T) {
	st, err := workspace.Open(t.TempDir()+"/ws.db", workspace.Limits{MaxFileSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, err := Run(context.Background(), st, testWS, "yes > big; echo status $?", Options{})
	if err != nil || !strings.Contains(res.Stderr, "file_too_large") || res.Stdout != "status 1\n" {
		t.Errorf("got %+v %v, want yes to fail with file_too_large", res, err)
	}
	if got := readFile(t, st, "big"); got != "<missing>" {
		t.Errorf("big = %d bytes, want no file", len(got))
	}
}

func TestReadOnly(t *testing.T) {
	st := newStore(t, fixture)
	for _, script := range []string{
		"echo x > new", "echo x >> old.txt", "rm old.txt", "mkdir d", "touch old.txt", "cp old.txt c", "mv old.txt m",
		"sed -i s/one/1/ old.txt", "tee t < old.txt", "tar xf x.tar", "gzip old.txt", "find . -delete", "ln -s a b",
	} {
		res, err := Run(context.Background(), st, testWS, script, Options{ReadOnly: true})
		if err != nil || res.ExitCode == 0 {
			t.Errorf("%q read-only: %+v %v, want a failure", script, res, err)
		}
	}
	res, err := Run(context.Background(), st, testWS, "cat old.txt | wc -l; [ -w old.txt ] || echo not-writable", Options{ReadOnly: true})
	if err != nil || res.Stdout != "4\nnot-writable\n" {
		t.Errorf("reading a read-only workspace: %+v %v", res, err)
	}
	for p, want := range fixture {
		if got := readFile(t, st, p); got != want {
			t.Errorf("%s changed under a read-only run: %q", p, got)
		}
	}
	if got := readFile(t, st, "new"); got != "<missing>" {
		t.Errorf("new was created under a read-only run")
	}
}

func TestOptions(t *testing.T) {
	st := newStore(t, fixture)
	res, err := Run(context.Background(), st, testWS, "pwd; ls; echo $GREETING $HOME", Options{Dir: "/src/deep", Env: map[string]string{"GREETING": "hi"}})
	if err != nil || res.Stdout != "/src/deep\nx.md\nhi /\n" {
		t.Errorf("Dir and Env: %+v %v", res, err)
	}
	if _, err := Run(context.Background(), st, testWS, "true", Options{Dir: "/nope"}); isoerr.CodeOf(err) != isoerr.NotFound {
		t.Errorf("missing Dir: %v, want not_found", err)
	}
	if _, err := Run(context.Background(), st, testWS, "true", Options{Dir: "/old.txt"}); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Errorf("file as Dir: %v, want invalid_request", err)
	}
	if _, err := Run(context.Background(), st, "../bad", "true", Options{}); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Errorf("bad workspace name: %v, want invalid_request", err)
	}
	if _, err := Run(context.Background(), st, testWS, strings.Repeat("#", MaxScript+1), Options{}); isoerr.CodeOf(err) != isoerr.InvalidRequest {
		t.Errorf("huge script: %v, want invalid_request", err)
	}
	// A workspace never written runs in an empty root.
	res, err = Run(context.Background(), st, "fresh", "ls; pwd; echo x > f; cat f", Options{})
	if err != nil || res.Stdout != "/\nx\n" {
		t.Errorf("fresh workspace: %+v %v", res, err)
	}
}
