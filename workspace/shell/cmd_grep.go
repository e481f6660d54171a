package shell

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"github.com/isobox/isobox/workspace"
)

// breToRE2 translates a POSIX basic regular expression to Go's syntax: in a BRE, \( \)
// \{ \} \| \+ \? are the operators and ( ) { } | + ? are literal.
func breToRE2(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			switch n := s[i]; n {
			case '(', ')', '{', '}', '|', '+', '?':
				b.WriteByte(n)
			case '<', '>':
				b.WriteString(`\b`)
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
		case c == '[':
			// Copy a bracket expression as it is.
			j := i + 1
			if j < len(s) && s[j] == '^' {
				j++
			}
			if j < len(s) && s[j] == ']' {
				j++
			}
			for j < len(s) && s[j] != ']' {
				if s[j] == '[' && j+1 < len(s) && s[j+1] == ':' {
					if k := strings.Index(s[j:], ":]"); k > 0 {
						j += k + 2
						continue
					}
				}
				j++
			}
			if j >= len(s) {
				b.WriteString(regexp.QuoteMeta(s[i:]))
				return b.String()
			}
			b.WriteString(s[i : j+1])
			i = j
		case strings.IndexByte("(){}|+?", c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '*' && (i == 0 || s[i-1] == '^' && i == 1):
			b.WriteString(`\*`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// eregexp translates an extended regular expression: \< and \> are word boundaries.
func eregexp(s string) string {
	return strings.NewReplacer(`\<`, `\b`, `\>`, `\b`).Replace(s)
}

func cmdEgrep(e *env, args []string) int { return cmdGrep(e, append([]string{"-E"}, args...)) }
func cmdFgrep(e *env, args []string) int { return cmdGrep(e, append([]string{"-F"}, args...)) }

func cmdGrep(e *env, args []string) int {
	f, err := parseFlags(args, "rRlLnivcEFwxoqsHhIZ", "efmABC", "include=", "exclude=", "exclude-dir=", "color=", "colour=")
	if err != nil {
		return e.usage("%v", err)
	}
	patterns := f.values["e"]
	files := f.args
	if len(patterns) == 0 {
		if len(files) == 0 {
			return e.usage("usage: grep [OPTION]... PATTERN [FILE]...")
		}
		patterns, files = []string{files[0]}, files[1:]
	}
	if pf, ok := f.value("f"); ok {
		rc, err := e.open(pf)
		if err != nil {
			e.fail(pf, err)
			return 2
		}
		b, err := readAll(rc)
		rc.Close()
		if err != nil {
			e.fail(pf, err)
			return 2
		}
		patterns = append(patterns, lines(b)...)
	}
	var alts []string
	for _, p := range patterns {
		for _, q := range strings.Split(p, "\n") {
			switch {
			case f.has("F"):
				q = regexp.QuoteMeta(q)
			case f.has("E"):
				q = eregexp(q)
			default:
				q = breToRE2(q)
			}
			if f.has("w") {
				q = `\b(?:` + q + `)\b`
			}
			if f.has("x") {
				q = `^(?:` + q + `)$`
			}
			alts = append(alts, "(?:"+q+")")
		}
	}
	expr := strings.Join(alts, "|")
	if f.has("i") {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return e.usage("invalid pattern: %v", err)
	}
	maxCount, err := f.int("m", -1)
	if err != nil {
		return e.usage("%v", err)
	}
	after, err1 := f.int("A", 0)
	before, err2 := f.int("B", 0)
	ctxN, err3 := f.int("C", 0)
	if err1 != nil || err2 != nil || err3 != nil {
		return e.usage("invalid context length")
	}
	after, before = max(after, ctxN), max(before, ctxN)
	recursive := f.has("r") || f.has("R")
	if recursive && len(files) == 0 {
		files = []string{"."}
	}
	include, exclude := f.values["include"], f.values["exclude"]
	excludeDir := f.values["exclude-dir"]
	for _, g := range append(append(append([]string{}, include...), exclude...), excludeDir...) {
		if _, err := path.Match(g, ""); err != nil {
			return e.usage("bad glob %q", g)
		}
	}
	matchAny := func(globs []string, name string) bool {
		for _, g := range globs {
			if ok, _ := path.Match(g, name); ok {
				return true
			}
		}
		return false
	}

	// The inputs: files as given, directories walked when recursive.
	type input struct{ name, display string }
	var inputs []input
	status := 1
	errs := false
	for _, name := range files {
		if name == "-" {
			inputs = append(inputs, input{"-", "(standard input)"})
			continue
		}
		info, err := e.stat(name)
		if err != nil {
			if !f.has("s") {
				e.fail(name, err)
			}
			errs = true
			continue
		}
		if info.Type != workspace.Dir {
			inputs = append(inputs, input{name, name})
			continue
		}
		if !recursive {
			if !f.has("s") {
				e.errorf("%s: Is a directory", name)
			}
			errs = true
			continue
		}
		err = e.walk(name, -1, func(display string, in workspace.Info, _ int) (bool, error) {
			if in.Type == workspace.Dir {
				return !matchAny(excludeDir, in.Name) || display == name, nil
			}
			if in.Type != workspace.File {
				return false, nil
			}
			if len(include) > 0 && !matchAny(include, in.Name) || matchAny(exclude, in.Name) {
				return false, nil
			}
			inputs = append(inputs, input{display, display})
			return false, nil
		})
		if err != nil {
			e.fail(name, err)
			errs = true
		}
	}
	if len(files) == 0 {
		inputs = []input{{"-", "(standard input)"}}
	}
	showName := (len(inputs) > 1 || recursive) && !f.has("h") || f.has("H")

	w := e.out()
	for _, in := range inputs {
		if e.ctx.Err() != nil {
			return 2
		}
		rc, err := e.open(in.name)
		if err != nil {
			if !f.has("s") {
				e.fail(in.name, err)
			}
			errs = true
			continue
		}
		n, err := grepOne(re, rc, w, f, in.display, showName, maxCount, before, after)
		rc.Close()
		if err != nil {
			if isWriteErr(err) {
				return e.writeErr(err)
			}
			e.fail(in.name, err)
			errs = true
			continue
		}
		if n > 0 {
			status = 0
			if f.has("q") {
				break
			}
		}
		if f.has("L") && n == 0 {
			fmt.Fprintln(w, in.display)
		}
	}
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	if errs && !(f.has("q") && status == 0) {
		return 2
	}
	return status
}

// grepOne searches one input and returns how many lines matched.
func grepOne(re interface {
	MatchString(string) bool
	FindAllString(string, int) []string
}, r io.Reader, w lineWriter, f *flags, name string, showName bool, maxCount, before, after int) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxInMemory)
	invert, count, list, quiet, only := f.has("v"), f.has("c"), f.has("l") || f.has("L"), f.has("q"), f.has("o")
	silent := count || list || quiet
	n := 0
	lineNo := 0
	var prev []string // the last lines before a match (-B)
	trailing := 0     // lines still to print after a match (-A)
	lastPrinted := 0
	prefix := func(no int, sep string) string {
		p := ""
		if showName {
			p = name + sep
		}
		if f.has("n") {
			p += fmt.Sprintf("%d%s", no, sep)
		}
		return p
	}
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if maxCount >= 0 && n >= maxCount {
			break
		}
		if re.MatchString(line) != invert {
			n++
			if silent {
				if list || quiet {
					break
				}
				continue
			}
			if (before > 0 || after > 0) && lastPrinted > 0 && lineNo-len(prev) > lastPrinted+1 {
				w.WriteString("--\n")
			}
			for i, p := range prev {
				w.WriteString(prefix(lineNo-len(prev)+i, "-") + p + "\n")
			}
			prev = prev[:0]
			if only && !invert {
				for _, m := range re.FindAllString(line, -1) {
					w.WriteString(prefix(lineNo, ":") + m + "\n")
				}
			} else if _, err := w.WriteString(prefix(lineNo, ":") + line + "\n"); err != nil {
				return n, wErr{err}
			}
			lastPrinted = lineNo
			trailing = after
			continue
		}
		if silent {
			continue
		}
		if trailing > 0 {
			trailing--
			w.WriteString(prefix(lineNo, "-") + line + "\n")
			lastPrinted = lineNo
			continue
		}
		if before > 0 {
			prev = append(prev, line)
			if len(prev) > before {
				prev = prev[1:]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return n, err
	}
	switch {
	case count:
		if showName {
			fmt.Fprintf(w, "%s:%d\n", name, n)
		} else {
			fmt.Fprintf(w, "%d\n", n)
		}
	case f.has("l") && n > 0:
		fmt.Fprintln(w, name)
	}
	return n, nil
}

// walk visits name and, for a directory, everything under it in name order, depth
// first: fn gets each entry's display path (name joined with the names under it), its
// info and depth (0 for name), and says whether to descend into a directory. maxDepth
// < 0 is unbounded.
func (e *env) walk(name string, maxDepth int, fn func(display string, in workspace.Info, depth int) (bool, error)) error {
	info, err := e.stat(name)
	if err != nil {
		return err
	}
	var visit func(display, p string, in workspace.Info, depth int) error
	visit = func(display, p string, in workspace.Info, depth int) error {
		if err := e.ctx.Err(); err != nil {
			return err
		}
		descend, err := fn(display, in, depth)
		if err != nil || !descend || in.Type != workspace.Dir || maxDepth >= 0 && depth >= maxDepth {
			return err
		}
		list, err := e.s.readDirPath(p)
		if err != nil {
			return err
		}
		for _, c := range list {
			child := display + "/" + c.Name
			if strings.HasSuffix(display, "/") {
				child = display + c.Name
			}
			if err := visit(child, c.Path, c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return visit(name, e.path(name), info, 0)
}
