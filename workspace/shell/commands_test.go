package shell

import (
	"strings"
	"testing"
)

// fixture is the workspace the command tests start from.
var fixture = map[string]string{
	"a.txt":         "hello\nTODO: one\nworld\nTODO two\n",
	"nums.txt":      "10\n9\n100\n9\n-1\n",
	"words.txt":     "b\na\nc\na\nb\nb\n",
	"csv.txt":       "name,age,city\nann,31,oslo\nbob,25,rome\n",
	"src/main.go":   "package main\n// TODO fix\nfunc main() {}\n",
	"src/util.go":   "package main\nfunc util() {}\n",
	"src/deep/x.md": "# Title\ntodo lower\n",
	"data.json":     `{"name":"isobox","tags":["a","b"],"n":3}`,
	"lines.jsonl":   "{\"v\":1}\n{\"v\":2}\n",
	".hidden":       "secret\n",
	"old.txt":       "one\ntwo\nthree\nfour\n",
	"new.txt":       "one\n2\nthree\nfour\nfive\n",
}

func TestCommands(t *testing.T) {
	tests := []struct {
		script string
		stdout string
		stderr string // a substring of stderr
		code   int
	}{
		// ls
		{script: "ls", stdout: "a.txt\ncsv.txt\ndata.json\nlines.jsonl\nnew.txt\nnums.txt\nold.txt\nsrc\nwords.txt\n"},
		{script: "ls -a src", stdout: ".\n..\ndeep\nmain.go\nutil.go\n"},
		{script: "ls -R src", stdout: "src:\ndeep\nmain.go\nutil.go\n\nsrc/deep:\nx.md\n"},
		{script: "ls -l src/util.go | cut -c1-10", stdout: "-rw-r--r--\n"},
		{script: "ls -d src", stdout: "src\n"},
		{script: "ls nope", stderr: "cannot access 'nope'", code: 2},
		{script: "ls -Z", stderr: "unknown option -Z", code: 2},
		// cat
		{script: "cat words.txt nums.txt | wc -l", stdout: "11\n"},
		{script: "cat -n old.txt | head -1", stdout: "     1\tone\n"},
		{script: "cat missing.txt", stderr: "missing.txt: No such file or directory", code: 1},
		{script: "cat src", stderr: "cat: src:", code: 1},
		// head / tail
		{script: "head -n 2 a.txt", stdout: "hello\nTODO: one\n"},
		{script: "head -2 a.txt", stdout: "hello\nTODO: one\n"},
		{script: "head -c 3 a.txt", stdout: "hel"},
		{script: "tail -n 1 a.txt", stdout: "TODO two\n"},
		{script: "tail -n +3 old.txt", stdout: "three\nfour\n"},
		{script: "tail -2 old.txt", stdout: "three\nfour\n"},
		{script: "tail -f a.txt", stderr: "not supported", code: 2},
		// grep
		{script: "grep TODO a.txt", stdout: "TODO: one\nTODO two\n"},
		{script: "grep -n -i todo src/deep/x.md", stdout: "2:todo lower\n"},
		{script: "grep -v TODO a.txt", stdout: "hello\nworld\n"},
		{script: "grep -c TODO a.txt", stdout: "2\n"},
		{script: "grep -rl TODO .", stdout: "./a.txt\n./src/main.go\n"},
		{script: "grep -ril todo src", stdout: "src/deep/x.md\nsrc/main.go\n"},
		{script: "grep -r --include='*.go' -n TODO .", stdout: "./src/main.go:2:// TODO fix\n"},
		{script: "grep -E 'TODO:? (one|two)' a.txt", stdout: "TODO: one\nTODO two\n"},
		{script: "grep 'TODO:\\? one' a.txt", stdout: "TODO: one\n"},
		{script: "grep -F '.' csv.txt | wc -l", stdout: "0\n"},
		{script: "grep -w on a.txt", code: 1},
		{script: "grep -x world a.txt", stdout: "world\n"},
		{script: "grep -o 'T[A-Z]*' a.txt", stdout: "TODO\nTODO\n"},
		{script: "grep -q hello a.txt && echo yes", stdout: "yes\n"},
		{script: "grep nothing a.txt; echo $?", stdout: "1\n"},
		{script: "grep x nope.txt; echo $?", stdout: "2\n", stderr: "nope.txt: No such file"},
		{script: "grep -A1 hello a.txt", stdout: "hello\nTODO: one\n"},
		{script: "grep -e hello -e world a.txt", stdout: "hello\nworld\n"},
		{script: "grep '(' a.txt", code: 1},
		{script: "grep -E '(' a.txt", stderr: "invalid pattern", code: 2},
		{script: "grep -P x a.txt", stderr: "unknown option -P", code: 2},
		// find
		{script: "find src -name '*.go'", stdout: "src/main.go\nsrc/util.go\n"},
		{script: "find . -type d", stdout: ".\n./src\n./src/deep\n"},
		{script: "find . -maxdepth 1 -type f -name '*.txt' | wc -l", stdout: "6\n"},
		{script: "find src -type f ! -name '*.go'", stdout: "src/deep/x.md\n"},
		{script: "find . -path './src/*' -name 'x*'", stdout: "./src/deep/x.md\n"},
		{script: "find . -newer x", stderr: "unsupported expression", code: 2},
		// wc
		{script: "wc -l a.txt", stdout: "4 a.txt\n"},
		{script: "wc -w < a.txt", stdout: "6\n"},
		{script: "wc -c old.txt", stdout: "19 old.txt\n"},
		{script: "wc old.txt", stdout: "      4       4      19 old.txt\n"},
		// sort / uniq
		{script: "sort words.txt | uniq -c", stdout: "      2 a\n      3 b\n      1 c\n"},
		{script: "sort -n nums.txt", stdout: "-1\n9\n9\n10\n100\n"},
		{script: "sort -rn nums.txt | head -1", stdout: "100\n"},
		{script: "sort -u words.txt", stdout: "a\nb\nc\n"},
		{script: "tail -n +2 csv.txt | sort -t, -k2 -n | cut -d, -f1", stdout: "bob\nann\n"},
		{script: "sort words.txt | uniq -d", stdout: "a\nb\n"},
		{script: "sort words.txt | uniq -u", stdout: "c\n"},
		// cut / tr
		{script: "cut -d, -f1,3 csv.txt", stdout: "name,city\nann,oslo\nbob,rome\n"},
		{script: "cut -c1-3 old.txt", stdout: "one\ntwo\nthr\nfou\n"},
		{script: "cut -f 2- -d , csv.txt | head -1", stdout: "age,city\n"},
		{script: "echo hello | tr a-z A-Z", stdout: "HELLO\n"},
		{script: "echo 'a  b   c' | tr -s ' '", stdout: "a b c\n"},
		{script: "echo hello | tr -d l", stdout: "heo\n"},
		{script: "echo abc123 | tr -cd '[:digit:]'", stdout: "123"},
		// sed
		{script: "sed 's/o/0/' old.txt", stdout: "0ne\ntw0\nthree\nf0ur\n"},
		{script: "echo foo foo | sed 's/o/0/g'", stdout: "f00 f00\n"},
		{script: "echo foo foo | sed 's/o/0/2'", stdout: "fo0 foo\n"},
		{script: "sed -n '2p' old.txt", stdout: "two\n"},
		{script: "sed -n '2,3p' old.txt", stdout: "two\nthree\n"},
		{script: "sed '1d' old.txt", stdout: "two\nthree\nfour\n"},
		{script: "sed '$d' old.txt", stdout: "one\ntwo\nthree\n"},
		{script: "sed '/t/d' old.txt", stdout: "one\nfour\n"},
		{script: "sed -n '/two/,/four/p' old.txt", stdout: "two\nthree\nfour\n"},
		{script: "sed '2q' old.txt", stdout: "one\ntwo\n"},
		{script: "echo hello world | sed 's/\\(hello\\) \\(world\\)/\\2 \\1/'", stdout: "world hello\n"},
		{script: "echo hello world | sed -E 's/(hello) (world)/\\2 [&]/'", stdout: "world [hello world]\n"},
		{script: "echo a/b | sed 's|/|_|'", stdout: "a_b\n"},
		{script: "echo Hello | sed 's/hello/bye/I'", stdout: "bye\n"},
		{script: "sed -n '/one/!p' old.txt", stdout: "two\nthree\nfour\n"},
		{script: "sed -e 's/one/1/' -e 's/two/2/' old.txt | head -2", stdout: "1\n2\n"},
		{script: "sed 'y/a/b/' old.txt", stderr: "unsupported command", code: 2},
		// jq
		{script: "jq -r .name data.json", stdout: "isobox\n"},
		{script: "jq -c '.tags' data.json", stdout: "[\"a\",\"b\"]\n"},
		{script: "jq '.n + 1' data.json", stdout: "4\n"},
		{script: "jq '{n}' data.json", stdout: "{\n  \"n\": 3\n}\n"},
		{script: "jq -s 'map(.v) | add' lines.jsonl", stdout: "3\n"},
		{script: "jq .v lines.jsonl", stdout: "1\n2\n"},
		{script: "jq -n --arg x hi '$x'", stdout: "\"hi\"\n"},
		{script: "jq -n --argjson x '{\"a\":1}' '$x.a'", stdout: "1\n"},
		{script: "echo '[1,2]' | jq 'length'", stdout: "2\n"},
		{script: "X=fromenv jq -rn 'env.X'", stdout: "fromenv\n"},
		{script: "jq -rn 'env.HOSTNAME // \"none\"'", stdout: "none\n"},
		{script: "jq '.[' data.json", stderr: "error", code: 3},
		{script: "echo '{' | jq .", stderr: "invalid JSON", code: 2},
		{script: "jq -e .missing data.json", stdout: "null\n", code: 1},
		// echo / printf / basename / dirname / seq
		{script: "echo -n hi", stdout: "hi"},
		{script: "printf '%s=%d\\n' a 1 b 2", stdout: "a=1\nb=2\n"},
		{script: "basename /a/b/c.txt .txt; dirname /a/b/c.txt", stdout: "c\n/a/b\n"},
		{script: "seq 3", stdout: "1\n2\n3\n"},
		{script: "seq -s, 2 2 6", stdout: "2,4,6\n"},
		// diff / sha256sum
		{script: "diff old.txt old.txt", stdout: ""},
		{script: "diff -u old.txt new.txt", stdout: "--- old.txt\n+++ new.txt\n@@ -1,4 +1,5 @@\n one\n-two\n+2\n three\n four\n+five\n", code: 1},
		{script: "diff -q old.txt new.txt", stdout: "Files old.txt and new.txt differ\n", code: 1},
		{script: "echo -n abc | sha256sum", stdout: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -\n"},
		{script: "sha256sum old.txt | cut -d' ' -f3", stdout: "old.txt\n"},
		// xargs
		{script: "find src -name '*.go' | xargs grep -l TODO", stdout: "src/main.go\n"},
		{script: "echo a b c | xargs -n 1 echo", stdout: "a\nb\nc\n"},
		{script: "printf 'old.txt\\nnew.txt\\n' | xargs -I{} head -1 {}", stdout: "one\none\n"},
		{script: "echo x | xargs bash -c id", stderr: "command not found", code: 127},
		// misc
		{script: "date -u -d @0 +%Y-%m-%dT%H:%M:%S", stdout: "1970-01-01T00:00:00\n"},
		{script: "grep -rn TODO", stdout: "a.txt:2:TODO: one\na.txt:4:TODO two\nsrc/main.go:2:// TODO fix\n"},
		{script: "pwd; cd src/deep; pwd; cd ../../..; pwd", stdout: "/\n/src/deep\n/\n"},
		{script: "type grep cd nosuch", stdout: "grep is /bin/grep\ncd is a shell builtin\n", stderr: "nosuch: not found", code: 1},
		{script: "command -v ls", stdout: "ls is /bin/ls\n"},
		{script: "curl http://example.com", stderr: "curl: command not found", code: 127},
		{script: "/bin/ls", stderr: "command not found", code: 127},
		{script: "if then", stderr: "sh: ", code: 2},
	}
	st := newStore(t, fixture)
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			res := run(t, st, tt.script)
			if res.Stdout != tt.stdout || res.ExitCode != tt.code || !strings.Contains(res.Stderr, tt.stderr) || tt.stderr == "" && res.Stderr != "" {
				t.Errorf("got stdout %q stderr %q exit %d\nwant stdout %q stderr ~%q exit %d", res.Stdout, res.Stderr, res.ExitCode, tt.stdout, tt.stderr, tt.code)
			}
		})
	}
}
