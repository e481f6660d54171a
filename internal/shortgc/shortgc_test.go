package shortgc

import "testing"

// Only the commands that exit after one piece of code may run without a collector; a
// server must never.
func TestShortLived(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"isobox", "eval", "1+1"}, true},
		{[]string{"isobox", "run", "main.js"}, true},
		{[]string{"isobox", "serve"}, false},
		{[]string{"isobox", "mcp"}, false},
		{[]string{"isobox", "bench"}, false},
		{[]string{"isobox"}, false},
		{nil, false},
		{[]string{"isobox", "--help", "eval"}, false},
	} {
		if got := ShortLived(c.args); got != c.want {
			t.Errorf("ShortLived(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
