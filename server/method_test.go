package server

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestValidMethod checks the method-name bound against the regular expression it
// replaced, on chosen names and on random ones.
func TestValidMethod(t *testing.T) {
	was := regexp.MustCompile(`^[^\x00-\x1f\x7f]{1,256}$`)
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"", false},
		{"add", true},
		{"a b.c[0]", true},
		{strings.Repeat("m", 256), true},
		{strings.Repeat("m", 257), false},
		{strings.Repeat("é", 256), true}, // 512 bytes, 256 characters
		{strings.Repeat("é", 257), false},
		{"a\x00b", false},
		{"a\x1fb", false},
		{"a\x7fb", false},
		{"\xff\xfe", true}, // not UTF-8: one character per byte, as the regexp counted
		{strings.Repeat("\xff", 257), false},
	} {
		if got := validMethod(tc.name); got != tc.want {
			t.Errorf("validMethod(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	plain, control := []string{"a", "é", "\xff", " ", "日"}, []string{"\x00", "\x1f", "\x7f"}
	for range 2000 {
		var b strings.Builder
		for range r.IntN(300) {
			if r.IntN(400) == 0 { // rare, so that long names without one are common
				b.WriteString(control[r.IntN(len(control))])
			} else {
				b.WriteString(plain[r.IntN(len(plain))])
			}
		}
		if s := b.String(); validMethod(s) != was.MatchString(s) {
			t.Fatalf("validMethod(%q) = %v, the regexp says %v", s, validMethod(s), was.MatchString(s))
		}
	}
}
