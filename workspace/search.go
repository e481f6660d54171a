package workspace

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/isobox/isobox/isoerr"
)

// Bounds of a search. Memory stays bounded whatever the workspace holds: files stream a
// chunk at a time, a line is matched over its first MaxSearchLine bytes, a line kept in a
// result is cut to maxKeptLine bytes, and the results stop at MaxSearchResults matches or
// maxSearchOutput bytes of kept text (Truncated says so).
const (
	DefaultSearchResults = 1000
	MaxSearchResults     = 10_000
	MaxContextLines      = 10
	MaxSearchLine        = 1 << 20
	maxKeptLine          = 500
	maxSearchOutput      = 8 << 20
	// binaryProbe is how much of a file's start is looked at for a NUL byte: a file with
	// one there is binary and skipped (as grep -I).
	binaryProbe = 8000
)

// SearchOptions shape a SearchText.
type SearchOptions struct {
	// Glob selects the files to search ("" is every file). A pattern without a "/" matches
	// names in any directory ("*.go" is "**/*.go").
	Glob string `json:"glob,omitempty"`
	// Regex makes the pattern a regular expression (Go's RE2 syntax), otherwise it is text.
	Regex bool `json:"regex,omitempty"`
	// IgnoreCase matches letters of either case.
	IgnoreCase bool `json:"ignoreCase,omitempty"`
	// ContextLines is how many lines before and after each match to return (at most
	// MaxContextLines).
	ContextLines int `json:"contextLines,omitempty"`
	// MaxResults bounds the matches returned (0: DefaultSearchResults; at most
	// MaxSearchResults).
	MaxResults int `json:"maxResults,omitempty"`
}

// Match is one line that matches, with the lines around it.
type Match struct {
	Path   string   `json:"path"`
	Line   int      `json:"line"`   // 1-based
	Column int      `json:"column"` // 1-based, in characters, of the line's first match
	Text   string   `json:"text"`   // the line, cut to 500 bytes around the match when longer
	Before []string `json:"before,omitempty"`
	After  []string `json:"after,omitempty"`
}

// SearchResult is what a search found.
type SearchResult struct {
	Matches []Match `json:"matches"`
	// Files is how many files were searched; Skipped how many were left out as binary.
	Files   int `json:"filesSearched"`
	Skipped int `json:"binarySkipped"`
	// Truncated is set when the search stopped at MaxResults or the output bound.
	Truncated bool `json:"truncated"`
}

// matcher finds the first match in a line: bytes.Index for case-sensitive text (the
// common grep), Go's regexp otherwise.
type matcher struct {
	lit []byte
	re  *regexp.Regexp
	// block is re over many lines at once ((?m): ^ and $ at each line's ends), to skip
	// lines that cannot match; nil when it could miss a line's match (\A, \z).
	block *regexp.Regexp
}

// newMatcher compiles a search or replace pattern. Go's regexp is RE2: matching takes time
// linear in the text whatever the pattern, so a hostile pattern ((a+)+$ and the like)
// cannot make a search blow up; it has no backreferences or lookaround for that reason.
func newMatcher(pattern string, regex, ignoreCase bool) (*matcher, error) {
	if pattern == "" {
		return nil, isoerr.New(isoerr.InvalidRequest, "the search pattern is empty")
	}
	if !regex && !ignoreCase {
		return &matcher{lit: []byte(pattern)}, nil
	}
	expr := pattern
	if !regex {
		expr = regexp.QuoteMeta(pattern)
	}
	if ignoreCase {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, isoerr.New(isoerr.InvalidRequest, "bad regular expression %q: %v", pattern, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	m := &matcher{re: re}
	if !strings.Contains(pattern, `\A`) && !strings.Contains(pattern, `\z`) {
		// Every match of re in a line is a match of (?m)re in the lines around it, so a
		// block without one has no matching line (the converse need not hold: \s and [^x]
		// may match a newline; those blocks are then matched line by line).
		m.block = regexp.MustCompile("(?m)" + re.String())
	}
	return m, nil
}

// index returns where the first match in b starts, or -1.
func (m *matcher) index(b []byte) int {
	if m.re == nil {
		return bytes.Index(b, m.lit)
	}
	loc := m.re.FindIndex(b)
	if loc == nil {
		return -1
	}
	return loc[0]
}

// mayMatch reports whether some line of b (whole lines) may match.
func (m *matcher) mayMatch(b []byte) bool {
	switch {
	case m.re == nil:
		return bytes.Contains(b, m.lit)
	case m.block != nil:
		return m.block.Match(b)
	}
	return true
}

// fileFilter turns a glob into the key range to scan and the test of each path. A
// pattern without "/" matches names anywhere.
func fileFilter(pattern string) (prefix string, match func(p string) bool, err error) {
	if pattern == "" {
		pattern = "**"
	}
	if !strings.Contains(pattern, "/") {
		pattern = "**/" + pattern
	}
	pat, err := Clean(pattern)
	if err != nil {
		return "", nil, err
	}
	parts, prefix, err := globParts(pattern, pat)
	if err != nil {
		return "", nil, err
	}
	return prefix, func(p string) bool { return matchGlob(parts, strings.Split(p, "/")[1:]) }, nil
}

// globParts checks a clean glob pattern and returns its names and literal prefix.
func globParts(pattern, pat string) ([]string, string, error) {
	parts := strings.Split(pat, "/")[1:]
	if strings.Count(pat, "**") > 4 {
		return nil, "", isoerr.New(isoerr.InvalidRequest, "glob pattern %q has more than 4 \"**\"", pattern)
	}
	for _, p := range parts {
		if _, err := path.Match(p, ""); err != nil {
			return nil, "", isoerr.New(isoerr.InvalidRequest, "bad glob pattern %q: %v", pattern, err)
		}
	}
	prefix := "/"
	for i, p := range parts {
		if i == len(parts)-1 || strings.ContainsAny(p, `*?[\`) {
			break
		}
		prefix = path.Join(prefix, p)
	}
	return parts, prefix, nil
}

// files lists the file entries whose paths pass a filter, in path order, inside q.
// Symlinks are not followed: a file reached through two paths is searched once.
// It also returns how many files it looked at.
func files(ctx context.Context, q querier, ws, prefix string, match func(string) bool) ([]*node, int, error) {
	lo, hi := under(prefix)
	rows, err := q.QueryContext(ctx, `SELECT `+nodeCols+` FROM nodes WHERE ws = ? AND kind = 'file' AND ((path >= ? AND path < ?) OR path = ?) ORDER BY path`, ws, lo, hi, prefix)
	if err != nil {
		return nil, 0, fmt.Errorf("workspace: list files: %w", err)
	}
	defer rows.Close()
	var out []*node
	scanned := 0
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("workspace: list files: %w", err)
		}
		scanned++
		if match(n.path) {
			out = append(out, n)
		}
	}
	return out, scanned, rows.Err()
}

// SearchText finds the lines of the workspace's files that match pattern (text, or a
// regular expression with opts.Regex), in path then line order, as grep -rn does. Binary
// files (a NUL in their first 8000 bytes) are skipped. All of it reads one snapshot.
//
//	res, err := ws.SearchText(ctx, "proj", "TODO", workspace.SearchOptions{Glob: "*.go", ContextLines: 2})
//
// # Errors
//
// invalid_request for a bad name, glob or regular expression; ctx's error when it ends.
//
// # Notes
//
// Regular expressions are Go's (RE2): linear time in the text searched whatever the
// pattern, so no pattern can make a search run away. A line longer than MaxSearchLine is
// matched over its first MaxSearchLine bytes only.
func (s *SQLite) SearchText(ctx context.Context, ws, pattern string, opts SearchOptions) (SearchResult, error) {
	if _, err := check(ws, "/"); err != nil {
		return SearchResult{}, err
	}
	m, err := newMatcher(pattern, opts.Regex, opts.IgnoreCase)
	if err != nil {
		return SearchResult{}, err
	}
	if opts.ContextLines < 0 || opts.ContextLines > MaxContextLines {
		return SearchResult{}, isoerr.New(isoerr.InvalidRequest, "contextLines must be between 0 and %d", MaxContextLines)
	}
	if opts.MaxResults <= 0 {
		opts.MaxResults = DefaultSearchResults
	}
	opts.MaxResults = min(opts.MaxResults, MaxSearchResults)
	prefix, match, err := fileFilter(opts.Glob)
	if err != nil {
		return SearchResult{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return SearchResult{}, fmt.Errorf("workspace: search: %w", err)
	}
	defer tx.Rollback()
	list, scanned, err := files(ctx, tx, ws, prefix, match)
	if err != nil {
		return SearchResult{}, err
	}
	res := &searcher{m: m, k: opts.ContextLines, max: opts.MaxResults, out: SearchResult{Matches: []Match{}}}
	if 2*len(list) >= scanned {
		err = res.streamRange(ctx, tx, ws, prefix, list)
	} else {
		err = res.eachFile(ctx, tx, list)
	}
	if err != nil {
		return SearchResult{}, err
	}
	return res.out, nil
}

// eachFile searches the files of list with one query each: for a glob that selects few
// of the files under its prefix.
func (r *searcher) eachFile(ctx context.Context, tx *sql.Tx, list []*node) error {
	stmt, err := tx.PrepareContext(ctx, `SELECT data FROM chunks WHERE blob = ? ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("workspace: search: %w", err)
	}
	defer stmt.Close()
	for _, n := range list {
		if r.full() {
			r.out.Truncated = true
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !n.blob.Valid {
			r.out.Files++
			continue
		}
		rows, err := stmt.QueryContext(ctx, n.blob.Int64)
		if err != nil {
			return fmt.Errorf("workspace: search %s: %w", n.path, err)
		}
		r.start(n.path)
		for !r.skip && !r.full() && rows.Next() {
			var data sql.RawBytes // valid until the next Next: feed keeps no part of it
			if err := rows.Scan(&data); err != nil {
				rows.Close()
				return fmt.Errorf("workspace: search %s: %w", n.path, err)
			}
			r.chunk(data)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("workspace: search %s: %w", n.path, err)
		}
		r.finish()
	}
	return nil
}

// streamRange searches the files of list with one query over every file under prefix,
// skipping the chunks of those list leaves out: for a glob that selects most of them,
// where one query per file would cost more than the chunks skipped.
func (r *searcher) streamRange(ctx context.Context, tx *sql.Tx, ws, prefix string, list []*node) error {
	want := make(map[string]bool, len(list))
	for _, n := range list {
		want[n.path] = true
	}
	lo, hi := under(prefix)
	rows, err := tx.QueryContext(ctx, `SELECT n.path, c.data FROM nodes n JOIN chunks c ON c.blob = n.blob
		WHERE n.ws = ? AND n.kind = 'file' AND ((n.path >= ? AND n.path < ?) OR n.path = ?) ORDER BY n.path, c.seq`, ws, lo, hi, prefix)
	if err != nil {
		return fmt.Errorf("workspace: search: %w", err)
	}
	defer rows.Close()
	cur, in := "", false
	seen := 0
	for rows.Next() {
		var p string
		var data sql.RawBytes // valid until the next Next: feed keeps no part of it
		if err := rows.Scan(&p, &data); err != nil {
			return fmt.Errorf("workspace: search: %w", err)
		}
		if p != cur {
			if in {
				r.finish()
			}
			if r.full() {
				r.out.Truncated = true
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			cur, in = p, want[p]
			if in {
				seen++
				r.start(p)
			}
		}
		if in && !r.skip {
			r.chunk(data)
			if r.full() {
				r.finish()
				r.out.Truncated = true
				return nil
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("workspace: search: %w", err)
	}
	if in {
		r.finish()
	}
	// Files without content have no chunks: they were searched too.
	r.out.Files += len(list) - seen
	return nil
}

// searcher matches the lines of one file after another, fed a chunk at a time.
type searcher struct {
	m    *matcher
	k    int // context lines
	max  int
	out  SearchResult
	kept int // bytes of text kept in out

	path    string
	first   bool     // no chunk of this file seen yet
	skip    bool     // this file is binary: the rest of it is skipped
	line    int      // lines completed so far in this file
	carry   []byte   // the start of a line whose end has not come yet
	long    bool     // the current line passed MaxSearchLine: the rest of it is skipped
	before  []string // the last k lines (kept form)
	waiting []int    // indexes in out.Matches still collecting lines after them
}

func (r *searcher) full() bool {
	return len(r.out.Matches) >= r.max || r.kept >= maxSearchOutput
}

func (r *searcher) start(p string) {
	r.path, r.line, r.carry, r.long, r.before, r.waiting = p, 0, r.carry[:0], false, r.before[:0], r.waiting[:0]
	r.first, r.skip = true, false
}

// chunk takes the next chunk of the file, first checking that the file is text.
func (r *searcher) chunk(data []byte) {
	if r.first && bytes.IndexByte(data[:min(len(data), binaryProbe)], 0) >= 0 {
		r.skip = true
		return
	}
	r.first = false
	r.feed(data)
}

// finish ends the file and counts it.
func (r *searcher) finish() {
	if r.skip {
		r.out.Skipped++
		return
	}
	r.out.Files++
	r.end()
}

// feed takes the next chunk of the file.
func (r *searcher) feed(data []byte) {
	for len(data) > 0 && !r.full() {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			r.add(data)
			return
		}
		if len(r.carry) > 0 || r.long {
			r.add(data[:i])
			r.flushLine()
			data = data[i+1:]
			continue
		}
		// data[:last+1] is whole lines: skip them at once when none matches and no match
		// waits for its lines after.
		last := bytes.LastIndexByte(data, '\n')
		block := data[:last+1]
		if len(r.waiting) == 0 && !r.m.mayMatch(block) {
			r.line += bytes.Count(block, []byte{'\n'})
			r.keepBefore(block)
		} else {
			for len(block) > 0 && !r.full() {
				j := bytes.IndexByte(block, '\n')
				r.lineDone(block[:j])
				block = block[j+1:]
			}
		}
		data = data[last+1:]
	}
}

// add appends to the line being assembled, up to MaxSearchLine bytes.
func (r *searcher) add(b []byte) {
	room := MaxSearchLine - len(r.carry)
	if len(b) > room {
		b = b[:room]
		r.long = true
	}
	r.carry = append(r.carry, b...)
}

func (r *searcher) flushLine() {
	r.lineDone(r.carry)
	r.carry, r.long = r.carry[:0], false
}

// end finishes a file: its last line may lack a newline.
func (r *searcher) end() {
	if (len(r.carry) > 0 || r.long) && !r.full() {
		r.flushLine()
	}
	r.waiting = r.waiting[:0]
}

// keepBefore makes the last k lines of block (whole lines) the lines before the next one.
func (r *searcher) keepBefore(block []byte) {
	if r.k == 0 {
		return
	}
	block = block[:len(block)-1]
	var tail []string
	for len(tail) < r.k {
		i := bytes.LastIndexByte(block, '\n')
		tail = append(tail, kept(block[i+1:], 0))
		if i < 0 {
			break
		}
		block = block[:i]
	}
	for i, j := 0, len(tail)-1; i < j; i, j = i+1, j-1 {
		tail[i], tail[j] = tail[j], tail[i]
	}
	r.before = append(r.before, tail...)
	if len(r.before) > r.k {
		r.before = append(r.before[:0], r.before[len(r.before)-r.k:]...)
	}
}

// lineDone handles one complete line (without its newline).
func (r *searcher) lineDone(b []byte) {
	r.line++
	text := ""
	if r.k > 0 {
		text = kept(b, 0)
		w := r.waiting[:0]
		for _, i := range r.waiting {
			m := &r.out.Matches[i]
			m.After = append(m.After, text)
			r.kept += len(text)
			if len(m.After) < r.k {
				w = append(w, i)
			}
		}
		r.waiting = w
	}
	if at := r.m.index(b); at >= 0 {
		m := Match{Path: r.path, Line: r.line, Column: utf8.RuneCount(b[:at]) + 1, Text: kept(b, at)}
		if r.k > 0 {
			m.Before = append([]string(nil), r.before...)
			r.waiting = append(r.waiting, len(r.out.Matches))
		}
		r.kept += len(m.Text) + len(m.Path)
		for _, l := range m.Before {
			r.kept += len(l)
		}
		r.out.Matches = append(r.out.Matches, m)
	}
	if r.k > 0 {
		if len(r.before) == r.k {
			r.before = append(r.before[:0], r.before[1:]...)
		}
		r.before = append(r.before, text)
	}
}

// kept is line b as a result keeps it: without a trailing \r, valid UTF-8, and at most
// maxKeptLine bytes, taken around at (where the match starts) when the line is longer.
func kept(b []byte, at int) string {
	b = bytes.TrimSuffix(b, []byte{'\r'})
	if len(b) > maxKeptLine {
		from := max(0, min(at-maxKeptLine/4, len(b)-maxKeptLine))
		b = b[from : from+maxKeptLine]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// FileSearch is what SearchFiles found.
type FileSearch struct {
	Files     []Info `json:"files"`
	Truncated bool   `json:"truncated"` // more files matched than maxResults
}

// SearchFiles finds the files (not directories or symlinks) whose paths match glob, in
// path order: find -type f -path. A pattern without "/" matches names in any directory
// ("*.test.ts"). At most maxResults (0: DefaultSearchResults; at most MaxSearchResults)
// are returned.
//
// # Errors
//
// invalid_request for a bad name or glob.
func (s *SQLite) SearchFiles(ctx context.Context, ws, glob string, maxResults int) (FileSearch, error) {
	if _, err := check(ws, "/"); err != nil {
		return FileSearch{}, err
	}
	if maxResults <= 0 {
		maxResults = DefaultSearchResults
	}
	maxResults = min(maxResults, MaxSearchResults)
	prefix, match, err := fileFilter(glob)
	if err != nil {
		return FileSearch{}, err
	}
	list, _, err := files(ctx, s.db, ws, prefix, match)
	if err != nil {
		return FileSearch{}, err
	}
	out := FileSearch{Files: []Info{}}
	for _, n := range list {
		if len(out.Files) == maxResults {
			out.Truncated = true
			break
		}
		out.Files = append(out.Files, n.info())
	}
	return out, nil
}
