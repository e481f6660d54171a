package udiff_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/isobox/isobox/internal/udiff"
)

func TestUnified(t *testing.T) {
	for _, c := range []struct{ a, b, want string }{
		{"a\nb\n", "a\nb\n", ""},
		{"a\nb\nc\n", "a\nx\nc\n", "--- a\n+++ b\n@@ -1,3 +1,3 @@\n a\n-b\n+x\n c\n"},
		{"", "x\n", "--- a\n+++ b\n@@ -0,0 +1 @@\n+x\n"},
		{"x\n", "", "--- a\n+++ b\n@@ -1 +0,0 @@\n-x\n"},
		{"a\nb", "a\nb\n", "--- a\n+++ b\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"},
		// Two changes 7 equal lines apart (more than 2×3) make two hunks.
		{"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "1\nX\n3\n4\n5\n6\n7\n8\n9\nY\n",
			"--- a\n+++ b\n@@ -1,5 +1,5 @@\n 1\n-2\n+X\n 3\n 4\n 5\n@@ -7,4 +7,4 @@\n 7\n 8\n 9\n-10\n+Y\n"},
		// Five apart: one hunk.
		{"1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\nX\n3\n4\n5\n6\n7\nY\n9\n",
			"--- a\n+++ b\n@@ -1,9 +1,9 @@\n 1\n-2\n+X\n 3\n 4\n 5\n 6\n 7\n-8\n+Y\n 9\n"},
	} {
		if got := udiff.Unified("a", "b", []byte(c.a), []byte(c.b), 3); got != c.want {
			t.Errorf("Unified(%q, %q) =\n%s\nwant\n%s", c.a, c.b, got, c.want)
		}
	}
}

// apply applies a unified diff to a, as patch does, checking every context and removed
// line against a.
func apply(t *testing.T, a, diff string) string {
	t.Helper()
	la := udiff.Lines([]byte(a))
	dl := udiff.Lines([]byte(diff))
	var out []string
	pos := 0
	for i := 2; i < len(dl); {
		h := dl[i]
		var aStart, aLen int
		if _, err := fmt.Sscanf(h, "@@ -%d,%d", &aStart, &aLen); err != nil {
			fmt.Sscanf(h, "@@ -%d", &aStart)
		}
		if strings.HasPrefix(h, fmt.Sprintf("@@ -%d,0 ", aStart)) {
			aStart++ // an empty side names the line before
		}
		out = append(out, la[pos:aStart-1]...)
		pos = aStart - 1
		i++
		for i < len(dl) && !strings.HasPrefix(dl[i], "@@") {
			l := dl[i]
			body := l[1:]
			if i+1 < len(dl) && dl[i+1] == "\\ No newline at end of file\n" {
				body = strings.TrimSuffix(body, "\n")
				i++
			}
			switch l[0] {
			case ' ', '-':
				if pos >= len(la) || la[pos] != body {
					t.Fatalf("line %d of a is %q, the diff says %q", pos+1, la[pos:], body)
				}
				pos++
				if l[0] == ' ' {
					out = append(out, body)
				}
			case '+':
				out = append(out, body)
			}
			i++
		}
	}
	return strings.Join(append(out, la[pos:]...), "")
}

// lcs is the length of the longest common subsequence, by dynamic programming.
func lcs(a, b []string) int {
	prev := make([]int, len(b)+1)
	for i := range a {
		cur := make([]int, len(b)+1)
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(prev[j+1], cur[j])
			}
		}
		prev = cur
	}
	return prev[len(b)]
}

func randomText(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(strconv.Itoa(r.IntN(4)))
		b.WriteByte('\n')
	}
	if r.IntN(3) == 0 {
		b.WriteString("tail")
	}
	return b.String()
}

// Random texts: the diff applies to a and gives b, and it is a shortest one (as many
// equal lines as the longest common subsequence).
func TestDiffAppliesAndIsShortest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		a, b := randomText(r, r.IntN(30)), randomText(r, r.IntN(30))
		for _, ctx := range []int{0, 1, 3} {
			d := udiff.Unified("a", "b", []byte(a), []byte(b), ctx)
			if got := apply(t, a, d); got != b {
				t.Fatalf("case %d context %d: applying\n%s\nto %q gives %q, want %q", i, ctx, d, a, got, b)
			}
		}
		la, lb := udiff.Lines([]byte(a)), udiff.Lines([]byte(b))
		eq := 0
		for _, e := range udiff.Diff(la, lb) {
			if e.Kind == udiff.Equal {
				eq++
			}
		}
		if want := lcs(la, lb); eq != want {
			t.Fatalf("case %d: %d equal lines, the LCS has %d", i, eq, want)
		}
	}
}

// Texts further apart than MaxEdits still get a diff that applies.
func TestDiffPastMaxEdits(t *testing.T) {
	var a, b strings.Builder
	for i := range 3 * udiff.MaxEdits {
		fmt.Fprintf(&a, "a%d\n", i)
		fmt.Fprintf(&b, "b%d\n", i)
		if i%2 == 0 {
			fmt.Fprintf(&a, "same%d\n", i)
			fmt.Fprintf(&b, "same%d\n", i)
		}
	}
	d := udiff.Unified("a", "b", []byte(a.String()), []byte(b.String()), 3)
	if got := apply(t, a.String(), d); got != b.String() {
		t.Fatal("the diff does not apply")
	}
}

// GNU diff -u agrees on texts with one shortest diff.
func TestUnifiedMatchesGNUDiff(t *testing.T) {
	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("no diff(1)")
	}
	dir := t.TempDir()
	a := "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n"
	b := "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\tfmt.Println(\"hi\")\n\tos.Exit(1)\n}\n"
	os.WriteFile(filepath.Join(dir, "a"), []byte(a), 0o600)
	os.WriteFile(filepath.Join(dir, "b"), []byte(b), 0o600)
	cmd := exec.Command("diff", "-u", "--label", "a", "--label", "b", "a", "b")
	cmd.Dir = dir
	want, _ := cmd.Output()
	if got := udiff.Unified("a", "b", []byte(a), []byte(b), 3); got != string(want) {
		t.Errorf("got\n%s\ndiff -u says\n%s", got, want)
	}
}
