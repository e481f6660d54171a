// Package udiff computes line diffs (Myers' algorithm) and writes them in the unified
// format of diff -u and git diff, for the workspace's diff and the previews of its
// replace operations.
//
//	d := udiff.Unified("a/x.txt", "b/x.txt", []byte("a\nb\n"), []byte("a\nc\n"), 3)
//	// --- a/x.txt
//	// +++ b/x.txt
//	// @@ -1,2 +1,2 @@
//	//  a
//	// -b
//	// +c
package udiff

import (
	"bytes"
	"fmt"
	"strings"
)

// MaxEdits bounds the search for a shortest edit script: past it, the part of the texts
// still unmatched is given as one replacement (all of it removed, then all of it added).
// That diff is still correct (applying it gives the new text) but not the shortest; the
// bound keeps time at O((N+M)·MaxEdits) and memory at O(MaxEdits²) whatever the input.
const MaxEdits = 1000

// Kind is what an edit does with a line.
type Kind byte

// The kinds of edits.
const (
	Equal  Kind = ' '
	Delete Kind = '-'
	Insert Kind = '+'
)

// Edit is one line of a diff: a line of a (Delete), of b (Insert) or of both (Equal),
// with its 0-based indexes (-1 where it has none).
type Edit struct {
	Kind Kind
	A, B int
}

// Lines splits text into lines, each with its "\n" (the last may have none).
func Lines(text []byte) []string {
	var out []string
	for len(text) > 0 {
		i := bytes.IndexByte(text, '\n')
		if i < 0 {
			out = append(out, string(text))
			break
		}
		out = append(out, string(text[:i+1]))
		text = text[i+1:]
	}
	return out
}

// Diff returns an edit script that turns a into b: a shortest one when it needs at most
// MaxEdits edits beyond the common start and end.
func Diff(a, b []string) []Edit {
	// Lines become numbers, so that comparing them is cheap.
	ids := map[string]int32{}
	num := func(ls []string) []int32 {
		out := make([]int32, len(ls))
		for i, l := range ls {
			id, ok := ids[l]
			if !ok {
				id = int32(len(ids))
				ids[l] = id
			}
			out[i] = id
		}
		return out
	}
	x, y := num(a), num(b)
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	var edits []Edit
	for i := 0; i < pre; i++ {
		edits = append(edits, Edit{Equal, i, i})
	}
	mid := myers(x[pre:len(x)-suf], y[pre:len(y)-suf])
	for _, e := range mid {
		if e.A >= 0 {
			e.A += pre
		}
		if e.B >= 0 {
			e.B += pre
		}
		edits = append(edits, e)
	}
	for i := 0; i < suf; i++ {
		edits = append(edits, Edit{Equal, len(x) - suf + i, len(y) - suf + i})
	}
	return edits
}

// myers is Myers' O(ND) greedy algorithm ("An O(ND) Difference Algorithm and Its
// Variations", 1986): v[k] is the furthest x reached on diagonal k = x - y with d edits;
// the v of every d is kept (only its [-d, d] part) to walk the path back.
func myers(x, y []int32) []Edit {
	n, m := len(x), len(y)
	maxD := min(n+m, MaxEdits)
	off := maxD + 1
	v := make([]int32, 2*off+1)
	var trace [][]int32
	found := -1
	for d := 0; d <= maxD && found < 0; d++ {
		trace = append(trace, append([]int32(nil), v[off-d:off+d+1]...))
		for k := -d; k <= d; k += 2 {
			var px int32
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				px = v[off+k+1] // down: an insertion
			} else {
				px = v[off+k-1] + 1 // right: a deletion
			}
			py := px - int32(k)
			for int(px) < n && int(py) < m && x[px] == y[py] {
				px, py = px+1, py+1
			}
			v[off+k] = px
			if int(px) >= n && int(py) >= m {
				found = d
				break
			}
		}
	}
	if found < 0 {
		// Too different: remove all of x, add all of y.
		edits := make([]Edit, 0, n+m)
		for i := range n {
			edits = append(edits, Edit{Delete, i, -1})
		}
		for j := range m {
			edits = append(edits, Edit{Insert, -1, j})
		}
		return edits
	}
	// Walk back from (n, m): at each d, the snake came from diagonal prevK of d-1.
	var rev []Edit
	px, py := n, m
	for d := found; d > 0; d-- {
		vd := trace[d] // v as it was before step d: the values of d-1, over [-d, d]
		at := func(k int) int { return int(vd[k+d]) }
		k := px - py
		var prevK int
		if k == -d || (k != d && at(k-1) < at(k+1)) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := at(prevK)
		prevY := prevX - prevK
		for px > prevX && py > prevY {
			px, py = px-1, py-1
			rev = append(rev, Edit{Equal, px, py})
		}
		if prevK == k+1 {
			py--
			rev = append(rev, Edit{Insert, -1, py})
		} else {
			px--
			rev = append(rev, Edit{Delete, px, -1})
		}
	}
	for px > 0 && py > 0 {
		px, py = px-1, py-1
		rev = append(rev, Edit{Equal, px, py})
	}
	edits := make([]Edit, len(rev))
	for i, e := range rev {
		edits[len(rev)-1-i] = e
	}
	return edits
}

// Unified returns the unified diff of a and b with context lines of context around each
// change, under the names nameA and nameB; "" when they are equal.
func Unified(nameA, nameB string, a, b []byte, context int) string {
	la, lb := Lines(a), Lines(b)
	edits := Diff(la, lb)
	var out strings.Builder
	for i := 0; i < len(edits); {
		if edits[i].Kind == Equal {
			i++
			continue
		}
		// A hunk: from context lines before this change to context lines after the last
		// change that is at most 2*context equal lines from the one before it.
		start := max(0, i-context)
		end := i
		for j := i; j < len(edits); j++ {
			if edits[j].Kind != Equal {
				end = j + 1
			} else if j-end >= 2*context {
				break
			}
		}
		end = min(len(edits), end+context)
		if out.Len() == 0 {
			fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
		}
		aBefore, bBefore := 0, 0
		for _, e := range edits[:start] {
			if e.A >= 0 {
				aBefore++
			}
			if e.B >= 0 {
				bBefore++
			}
		}
		writeHunk(&out, edits[start:end], la, lb, aBefore, bBefore)
		i = end
	}
	return out.String()
}

// writeHunk writes the edits h of one hunk, which start after aBefore lines of a and
// bBefore lines of b.
func writeHunk(out *strings.Builder, h []Edit, la, lb []string, aBefore, bBefore int) {
	aLen, bLen := 0, 0
	for _, e := range h {
		if e.A >= 0 {
			aLen++
		}
		if e.B >= 0 {
			bLen++
		}
	}
	fmt.Fprintf(out, "@@ -%s +%s @@\n", span(aBefore, aLen), span(bBefore, bLen))
	for _, e := range h {
		line := ""
		if e.Kind == Insert {
			line = lb[e.B]
		} else {
			line = la[e.A]
		}
		out.WriteByte(byte(e.Kind))
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

// span is one side's range in a hunk header: its first line (1-based) and count, the
// count left out when 1; an empty side is numbered by the line before it (diff -u).
func span(before, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", before)
	case 1:
		return fmt.Sprintf("%d", before+1)
	}
	return fmt.Sprintf("%d,%d", before+1, n)
}
