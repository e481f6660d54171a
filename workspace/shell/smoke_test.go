package shell

import "testing"

func TestSmoke(t *testing.T) {
	st := newStore(t, map[string]string{"a.txt": "hello\nTODO world\n", "src/b.go": "package b // TODO\n", "data.json": `{"a":[1,2,3],"b":"x"}`})
	for _, s := range []string{
		"ls", "ls -l /src", "cat a.txt | grep -n TODO", "grep -rl TODO . | wc -l", "echo hi > out.txt; cat out.txt", "jq '.a | add' data.json",
		"sed 's/hello/bye/' a.txt", "find . -type f", "cd ../../..; pwd; cat /etc/passwd", "nosuch", "for f in *.txt; do echo $f; done",
		"yes | head -3", "diff a.txt out.txt", "tar czf x.tgz src && tar tzf x.tgz", "echo $HOME $PATH; env", "type ls cd", "x=$(cat a.txt | wc -l); echo $x",
		"[ -f a.txt ] && echo file; [ -d src ] && echo dir", "seq 1 5 | sort -rn | head -2", "printf '%s-%d\\n' a 1", "ls --bogus",
	} {
		res, err := Run(t.Context(), st, testWS, s, Options{})
		t.Logf("%s\n => %q %q %d %v", s, res.Stdout, res.Stderr, res.ExitCode, err)
	}
}
