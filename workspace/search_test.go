package workspace_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

func TestSearchText(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	put(t, s, "p", "src/a.go", "package a\n// TODO: one\nfunc A() {}\n// todo: two\n")
	put(t, s, "p", "src/sub/b.go", "x := \"héllo TODO\"\r\nlast line TODO") // CRLF, no final newline
	put(t, s, "p", "docs/readme.md", "TODO in docs\n")
	put(t, s, "p", "bin/blob", "TODO\x00binary")
	put(t, s, "other", "a.go", "TODO elsewhere\n") // another workspace is not searched
	type hit struct {
		path       string
		line, col  int
		text       string
		before, af string
	}
	for _, c := range []struct {
		name    string
		pattern string
		opts    workspace.SearchOptions
		want    []hit
		skipped int
		code    isoerr.Code
	}{
		{name: "text", pattern: "TODO", want: []hit{
			{"/docs/readme.md", 1, 1, "TODO in docs", "", ""},
			{"/src/a.go", 2, 4, "// TODO: one", "", ""},
			{"/src/sub/b.go", 1, 13, `x := "héllo TODO"`, "", ""},
			{"/src/sub/b.go", 2, 11, "last line TODO", "", ""},
		}, skipped: 1},
		{name: "glob by name", pattern: "TODO", opts: workspace.SearchOptions{Glob: "*.go"}, want: []hit{
			{"/src/a.go", 2, 4, "// TODO: one", "", ""},
			{"/src/sub/b.go", 1, 13, `x := "héllo TODO"`, "", ""},
			{"/src/sub/b.go", 2, 11, "last line TODO", "", ""},
		}},
		{name: "glob by path", pattern: "TODO", opts: workspace.SearchOptions{Glob: "src/*.go"}, want: []hit{
			{"/src/a.go", 2, 4, "// TODO: one", "", ""},
		}},
		{name: "ignore case", pattern: "todo:", opts: workspace.SearchOptions{Glob: "src/*.go", IgnoreCase: true}, want: []hit{
			{"/src/a.go", 2, 4, "// TODO: one", "", ""},
			{"/src/a.go", 4, 4, "// todo: two", "", ""},
		}},
		{name: "regex and context", pattern: `^func \w+`, opts: workspace.SearchOptions{Regex: true, ContextLines: 1}, want: []hit{
			{"/src/a.go", 3, 1, "func A() {}", "// TODO: one", "// todo: two"},
		}},
		{name: "max results", pattern: "TODO", opts: workspace.SearchOptions{MaxResults: 2}, want: []hit{
			{"/docs/readme.md", 1, 1, "TODO in docs", "", ""},
			{"/src/a.go", 2, 4, "// TODO: one", "", ""},
		}},
		{name: "literal is not a regex", pattern: "A()", want: []hit{{"/src/a.go", 3, 6, "func A() {}", "", ""}}},
		{name: "bad regex", pattern: "(", opts: workspace.SearchOptions{Regex: true}, code: isoerr.InvalidRequest},
		{name: "backreference (not RE2)", pattern: `(a)\1`, opts: workspace.SearchOptions{Regex: true}, code: isoerr.InvalidRequest},
		{name: "empty", pattern: "", code: isoerr.InvalidRequest},
		{name: "bad glob", pattern: "x", opts: workspace.SearchOptions{Glob: "[a"}, code: isoerr.InvalidRequest},
		{name: "glob escapes", pattern: "x", opts: workspace.SearchOptions{Glob: "../*"}, code: isoerr.InvalidRequest},
		{name: "context bound", pattern: "x", opts: workspace.SearchOptions{ContextLines: 11}, code: isoerr.InvalidRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := s.SearchText(ctx, "p", c.pattern, c.opts)
			if c.code != "" {
				wantCode(t, err, c.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []hit
			for _, m := range res.Matches {
				got = append(got, hit{m.Path, m.Line, m.Column, m.Text, strings.Join(m.Before, "|"), strings.Join(m.After, "|")})
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("matches\n got %v\nwant %v", got, c.want)
			}
			if c.skipped != 0 && res.Skipped != c.skipped {
				t.Errorf("skipped %d binary files, want %d", res.Skipped, c.skipped)
			}
			if res.Truncated != (c.opts.MaxResults != 0) {
				t.Errorf("truncated = %v", res.Truncated)
			}
		})
	}
}

// Lines and context that cross the chunk boundaries of a file are found whole, with their
// right numbers; a line past MaxSearchLine is matched over its start only.
func TestSearchTextAcrossChunks(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	var b strings.Builder
	var want []int
	for i := 1; b.Len() < 3*workspace.ChunkSize; i++ {
		if i%997 == 0 {
			fmt.Fprintf(&b, "line %d needle here\n", i)
			want = append(want, i)
		} else {
			fmt.Fprintf(&b, "line %d hay hay hay hay hay hay hay\n", i)
		}
	}
	put(t, s, "p", "big.txt", b.String())
	res, err := s.SearchText(ctx, "p", "needle", workspace.SearchOptions{ContextLines: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Matches) != len(want) {
		t.Fatalf("%d matches, want %d", len(res.Matches), len(want))
	}
	for i, m := range res.Matches {
		if m.Line != want[i] || m.Text != fmt.Sprintf("line %d needle here", want[i]) ||
			len(m.Before) != 2 || m.Before[1] != fmt.Sprintf("line %d hay hay hay hay hay hay hay", want[i]-1) ||
			len(m.After) != 2 || m.After[0] != fmt.Sprintf("line %d hay hay hay hay hay hay hay", want[i]+1) {
			t.Fatalf("match %d: %+v", i, m)
		}
	}

	// One line of 3 MiB: a match in its first MiB is found (the kept text is cut to 500
	// bytes around it), one past it is not.
	long := bytes.Repeat([]byte("x"), 3<<20)
	copy(long[1000:], "early")
	copy(long[2<<20:], "late")
	if _, err := s.Write(ctx, "p", "long.txt", bytes.NewReader(append(long, "\nnext late\n"...)), workspace.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for pat, want := range map[string]string{"early": "1:1001", "late": "2:6"} {
		res, err := s.SearchText(ctx, "p", pat, workspace.SearchOptions{Glob: "long.txt"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range res.Matches {
			got = append(got, fmt.Sprintf("%d:%d", m.Line, m.Column))
			if len(m.Text) > 500 || !strings.Contains(m.Text, pat) {
				t.Errorf("kept text of %d bytes without the match", len(m.Text))
			}
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s: matches at %v, want %s", pat, got, want)
		}
	}
}

// A pattern that takes exponential time in a backtracking engine takes linear time here
// (RE2): over a file twelve times larger, the search takes about twelve times as long.
func TestSearchTextHostileRegexIsLinear(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	line := strings.Repeat("a", 40) + "!\n" // (a+)+$ backtracks 2^40 times on each line elsewhere
	put(t, s, "p", "small.txt", strings.Repeat(line, 12_000))
	put(t, s, "p", "large.txt", strings.Repeat(line, 144_000)) // 6 MiB
	timeOf := func(glob string) time.Duration {
		start := time.Now()
		res, err := s.SearchText(ctx, "p", `(a+)+$`, workspace.SearchOptions{Regex: true, Glob: glob})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Matches) != 0 {
			t.Fatalf("%d matches", len(res.Matches))
		}
		return time.Since(start)
	}
	timeOf("small.txt") // warm up
	small, large := timeOf("small.txt"), timeOf("large.txt")
	if ratio := float64(large) / float64(small); ratio > 12*5 {
		t.Errorf("12x the text took %.0fx the time (%v vs %v): not linear", ratio, large, small)
	}
}

func TestSearchFiles(t *testing.T) {
	s := open(t, workspace.Limits{})
	ctx := context.Background()
	for _, p := range []string{"a.ts", "src/b.ts", "src/b.test.ts", "src/deep/c.test.ts", "src/d.go"} {
		put(t, s, "p", p, "x")
	}
	if err := s.Mkdir(ctx, "p", "dir.test.ts", false); err != nil { // a directory is not a file
		t.Fatal(err)
	}
	for _, c := range []struct {
		glob  string
		max   int
		want  string
		trunc bool
	}{
		{"*.test.ts", 0, "/src/b.test.ts /src/deep/c.test.ts", false},
		{"src/*.ts", 0, "/src/b.test.ts /src/b.ts", false},
		{"**/*.ts", 2, "/a.ts /src/b.test.ts", true},
		{"", 0, "/a.ts /src/b.test.ts /src/b.ts /src/d.go /src/deep/c.test.ts", false},
	} {
		got, err := s.SearchFiles(ctx, "p", c.glob, c.max)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, f := range got.Files {
			paths = append(paths, f.Path)
		}
		if strings.Join(paths, " ") != c.want || got.Truncated != c.trunc {
			t.Errorf("SearchFiles(%q) = %v (truncated %v), want %s", c.glob, paths, got.Truncated, c.want)
		}
	}
}
