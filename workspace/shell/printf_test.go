package shell

import "testing"

func TestPrintf(t *testing.T) {
	st := newStore(t, nil)
	for _, tt := range []struct{ script, stdout string }{
		{`printf '%s=%d\n' a 1 b 2`, "a=1\nb=2\n"},
		{`printf '%5s|%-3d|%.2f|%*d|%.3s\n' ab 7 3.14159 4 42 abcdef`, "   ab|7  |3.14|  42|abc\n"},
		{`printf '%x %X %o %c %e %g %i %u\n' 255 255 8 A 1.5 0.5 -3 4`, "ff FF 10 A 1.500000e+00 0.5 -3 4\n"},
		{`printf '%d %d\n' 0x10 "'A"`, "16 65\n"},
		{`printf '%b|%s\n' 'a\tb' 'a\tb'`, "a\tb|a\\tb\n"},
		{`printf 'x\101\x42\n'`, "xAB\n"},
		{`printf '100%%\n'`, "100%\n"},
		{`printf '%s\n'`, "\n"},
		{`printf '%q\n' "a b"`, "'a b'\n"},
		{`printf 'a\cb'; echo`, "a\n"},
		{`printf -v x '%s-%s' a b; echo $?`, "2\n"},
		{`printf '%d\n' abc; echo $?`, "0\n1\n"},
	} {
		res := run(t, st, tt.script)
		if res.Stdout != tt.stdout {
			t.Errorf("%s: stdout %q (stderr %q), want %q", tt.script, res.Stdout, res.Stderr, tt.stdout)
		}
	}
}
