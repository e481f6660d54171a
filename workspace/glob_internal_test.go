package workspace

import (
	"math/rand/v2"
	"path"
	"strings"
	"testing"
)

// slowMatch is the glob rule said plainly: try every split of every "**".
func slowMatch(pat, names []string) bool {
	if len(pat) == 0 {
		return len(names) == 0
	}
	if pat[0] == "**" {
		for k := 0; k <= len(names); k++ {
			if slowMatch(pat[1:], names[k:]) {
				return true
			}
		}
		return false
	}
	if len(names) == 0 {
		return false
	}
	ok, _ := path.Match(pat[0], names[0])
	return ok && slowMatch(pat[1:], names[1:])
}

func TestMatchGlobAgreesWithTheRule(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	parts := []string{"**", "*", "a", "b", "a*", "?"}
	names := []string{"a", "b", "ab", "ba"}
	for range 20_000 {
		pat := make([]string, r.IntN(5))
		for i := range pat {
			pat[i] = parts[r.IntN(len(parts))]
		}
		p := make([]string, r.IntN(6))
		for i := range p {
			p[i] = names[r.IntN(len(names))]
		}
		if got, want := matchGlob(pat, p), slowMatch(pat, p); got != want {
			t.Fatalf("matchGlob(%s, %s) = %v, want %v", strings.Join(pat, "/"), strings.Join(p, "/"), got, want)
		}
	}
	// The hostile shape: four "**" over 64 names that do not match at the end takes
	// 64×5 steps, not the ~800,000 splits.
	deep := strings.Split(strings.Repeat("a/", 63)+"a", "/")
	if matchGlob([]string{"**", "a", "**", "a", "**", "a", "**", "b"}, deep) {
		t.Fatal("matched")
	}
}
