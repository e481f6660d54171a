package shell

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// sed supports the editing people script: s///[gpiN], p, d, q, =, with addresses (a
// line number, $, /regex/, and ranges of them, negated with !), -n, -e, -E, -i.

type sedAddr struct {
	line int            // > 0: a line number
	last bool           // $
	re   *regexp.Regexp // /re/
}

type sedCmd struct {
	a1, a2  *sedAddr
	neg     bool
	op      byte // s p d q =
	re      *regexp.Regexp
	repl    string
	global  bool
	nth     int
	print   bool
	inRange bool
}

func (a *sedAddr) match(n int, last bool, line string) bool {
	switch {
	case a.line > 0:
		return n == a.line
	case a.last:
		return last
	}
	return a.re.MatchString(line)
}

// sedRegexp compiles a sed pattern (basic unless ere).
func sedRegexp(p string, ere, fold bool) (*regexp.Regexp, error) {
	if ere {
		p = eregexp(p)
	} else {
		p = breToRE2(p)
	}
	if fold {
		p = "(?i)" + p
	}
	return regexp.Compile(p)
}

// sedDelimited reads text up to the unescaped delimiter d, starting at s[0]; it returns
// the text (with \d unescaped) and the rest after the delimiter.
func sedDelimited(s string, d byte) (string, string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == d:
			b.WriteByte(d)
			i++
		case s[i] == '\\' && i+1 < len(s):
			b.WriteByte('\\')
			b.WriteByte(s[i+1])
			i++
		case s[i] == d:
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", false
}

func parseSedAddr(s string, ere bool) (*sedAddr, string, error) {
	switch {
	case s == "":
		return nil, s, nil
	case s[0] == '$':
		return &sedAddr{last: true}, s[1:], nil
	case s[0] >= '0' && s[0] <= '9':
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n, _ := strconv.Atoi(s[:i])
		if n == 0 {
			return nil, "", fmt.Errorf("invalid usage of line address 0")
		}
		return &sedAddr{line: n}, s[i:], nil
	case s[0] == '/' || s[0] == '\\' && len(s) > 1:
		d := byte('/')
		if s[0] == '\\' {
			d, s = s[1], s[1:]
		}
		pat, rest, ok := sedDelimited(s[1:], d)
		if !ok {
			return nil, "", fmt.Errorf("unterminated address regex")
		}
		re, err := sedRegexp(pat, ere, false)
		if err != nil {
			return nil, "", err
		}
		return &sedAddr{re: re}, rest, nil
	}
	return nil, s, nil
}

// sedReplacement turns a sed replacement (& and \1..\9, \n) into Go's Expand template.
func sedReplacement(r string) string {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c == '\\' && i+1 < len(r):
			i++
			n := r[i]
			switch {
			case n >= '0' && n <= '9':
				b.WriteString("${" + string(n) + "}")
			case n == 'n':
				b.WriteByte('\n')
			case n == 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(n)
			}
		case c == '&':
			b.WriteString("${0}")
		case c == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func parseSed(script string, ere bool) ([]*sedCmd, error) {
	var cmds []*sedCmd
	s := script
	for {
		s = strings.TrimLeft(s, " \t\n;")
		if s == "" {
			return cmds, nil
		}
		c := &sedCmd{}
		var err error
		if c.a1, s, err = parseSedAddr(s, ere); err != nil {
			return nil, err
		}
		if c.a1 != nil && strings.HasPrefix(s, ",") {
			if c.a2, s, err = parseSedAddr(s[1:], ere); err != nil {
				return nil, err
			}
			if c.a2 == nil {
				return nil, fmt.Errorf("unexpected ','")
			}
		}
		s = strings.TrimLeft(s, " ")
		if strings.HasPrefix(s, "!") {
			c.neg = true
			s = strings.TrimLeft(s[1:], " ")
		}
		if s == "" {
			return nil, fmt.Errorf("missing command")
		}
		c.op, s = s[0], s[1:]
		switch c.op {
		case 'p', 'd', 'q', '=':
		case 's':
			if s == "" {
				return nil, fmt.Errorf("unterminated `s' command")
			}
			d := s[0]
			pat, rest, ok := sedDelimited(s[1:], d)
			if !ok {
				return nil, fmt.Errorf("unterminated `s' command")
			}
			repl, rest, ok := sedDelimited(rest, d)
			if !ok {
				return nil, fmt.Errorf("unterminated `s' command")
			}
			fold := false
			for rest != "" && strings.IndexByte("gpiI0123456789", rest[0]) >= 0 {
				switch f := rest[0]; {
				case f == 'g':
					c.global = true
				case f == 'p':
					c.print = true
				case f == 'i' || f == 'I':
					fold = true
				default:
					j := 0
					for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
						j++
					}
					c.nth, _ = strconv.Atoi(rest[:j])
					rest = rest[j-1:]
				}
				rest = rest[1:]
			}
			s = rest
			if c.re, err = sedRegexp(pat, ere, fold); err != nil {
				return nil, err
			}
			c.repl = sedReplacement(repl)
		default:
			return nil, fmt.Errorf("unknown or unsupported command: `%c' (supported: s p d q =)", c.op)
		}
		s = strings.TrimLeft(s, " \t")
		if s != "" && s[0] != ';' && s[0] != '\n' && s[0] != '}' {
			return nil, fmt.Errorf("extra characters after command")
		}
		cmds = append(cmds, c)
	}
}

// selected reports whether c applies to line n.
func (c *sedCmd) selected(n int, last bool, line string) bool {
	var hit bool
	switch {
	case c.a1 == nil:
		hit = true
	case c.a2 == nil:
		hit = c.a1.match(n, last, line)
	case c.inRange:
		hit = true
		if c.a2.line > 0 && n >= c.a2.line || c.a2.line == 0 && c.a2.match(n, last, line) {
			c.inRange = false
		}
	case c.a1.match(n, last, line):
		hit = true
		c.inRange = !(c.a2.line > 0 && c.a2.line <= n || c.a2.last && last)
	}
	return hit != c.neg
}

// substitute applies an s command; it reports whether it replaced anything.
func (c *sedCmd) substitute(line string) (string, bool) {
	ms := c.re.FindAllStringSubmatchIndex(line, -1)
	if len(ms) == 0 {
		return line, false
	}
	var b []byte
	prev := 0
	done := false
	for i, m := range ms {
		if c.nth > 0 && i+1 < c.nth || done {
			continue
		}
		b = append(b, line[prev:m[0]]...)
		b = c.re.ExpandString(b, c.repl, line, m)
		prev = m[1]
		if !c.global {
			done = true
		}
	}
	if prev == 0 && len(b) == 0 && c.nth > len(ms) {
		return line, false
	}
	return string(append(b, line[prev:]...)), true
}

// run edits one stream; it reports whether q stopped it.
func sedRun(cmds []*sedCmd, r io.Reader, w io.Writer, quiet bool) error {
	br := bufio.NewReader(r)
	next, err := br.ReadString('\n')
	n := 0
	for next != "" {
		line := next
		if err != nil {
			next = ""
		} else {
			next, err = br.ReadString('\n')
		}
		n++
		last := next == ""
		nl := strings.HasSuffix(line, "\n")
		line = strings.TrimSuffix(line, "\n")
		deleted, quit := false, false
	cmds:
		for _, c := range cmds {
			if !c.selected(n, last, line) {
				continue
			}
			switch c.op {
			case 'p':
				if _, err := io.WriteString(w, line+"\n"); err != nil {
					return wErr{err}
				}
			case 'd':
				deleted = true
				break cmds
			case 'q':
				quit = true
				break cmds
			case '=':
				fmt.Fprintf(w, "%d\n", n)
			case 's':
				var did bool
				line, did = c.substitute(line)
				if did && c.print {
					io.WriteString(w, line+"\n")
				}
			}
		}
		if !deleted && !quiet {
			end := "\n"
			if !nl {
				end = ""
			}
			if _, err := io.WriteString(w, line+end); err != nil {
				return wErr{err}
			}
		}
		if quit {
			return nil
		}
	}
	if err != nil && err != io.EOF {
		return err
	}
	return nil
}

func cmdSed(e *env, args []string) int {
	f, err := parseFlags(args, "nEri", "ef", "quiet", "regexp-extended", "in-place")
	if err != nil {
		return e.usage("%v", err)
	}
	scripts := f.values["e"]
	if sf, ok := f.value("f"); ok {
		rc, err := e.open(sf)
		if err != nil {
			return e.fail(sf, err)
		}
		b, err := readAll(rc)
		rc.Close()
		if err != nil {
			return e.fail(sf, err)
		}
		scripts = append(scripts, string(b))
	}
	files := f.args
	if len(scripts) == 0 {
		if len(files) == 0 {
			return e.usage("usage: sed [-nEi] [-e] SCRIPT [FILE]...")
		}
		scripts, files = files[:1], files[1:]
	}
	ere := f.has("E") || f.has("r") || f.has("regexp-extended")
	quiet := f.has("n") || f.has("quiet")
	cmds, err := parseSed(strings.Join(scripts, "\n"), ere)
	if err != nil {
		return e.usage("-e expression: %v", err)
	}
	if f.has("i") || f.has("in-place") {
		if len(files) == 0 {
			return e.usage("no input files for -i")
		}
		status := 0
		for _, name := range files {
			for _, c := range cmds {
				c.inRange = false
			}
			rc, err := e.open(name)
			if err != nil {
				e.fail(name, err)
				status = 1
				continue
			}
			var buf bytes.Buffer
			err = sedRun(cmds, io.LimitReader(rc, maxInMemory), &buf, quiet)
			rc.Close()
			if err == nil {
				err = e.writeFile(name, &buf, false)
			}
			if err != nil {
				e.fail(name, err)
				status = 1
			}
		}
		return status
	}
	w := e.out()
	var all []io.Reader
	status := 0
	if len(files) == 0 {
		all = append(all, e.stdin)
	}
	for _, name := range files {
		rc, err := e.open(name)
		if err != nil {
			e.fail(name, err)
			status = 2
			continue
		}
		defer rc.Close()
		all = append(all, rc)
	}
	// sed treats its inputs as one stream ($ is the last line of the last file).
	if err := sedRun(cmds, io.MultiReader(all...), w, quiet); err != nil {
		if isWriteErr(err) {
			return e.writeErr(err)
		}
		return e.errorf("%v", err)
	}
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	return status
}
