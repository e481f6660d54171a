package shell

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
)

func cmdCat(e *env, args []string) int {
	f, err := parseFlags(args, "nu", "")
	if err != nil {
		return e.usage("%v", err)
	}
	w := e.out()
	n := 0
	status := e.eachInput(f.args, func(_ string, r io.Reader) error {
		if !f.has("n") {
			_, err := io.Copy(w, r)
			return err
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, maxInMemory)
		for sc.Scan() {
			n++
			if _, err := fmt.Fprintf(w, "%6d\t%s\n", n, sc.Bytes()); err != nil {
				return wErr{err}
			}
		}
		return sc.Err()
	})
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	return status
}

func cmdHead(e *env, args []string) int {
	f, err := parseFlags(numericShorthand(args), "qv", "nc")
	if err != nil {
		return e.usage("%v", err)
	}
	n, err := f.int("n", 10)
	if err != nil {
		return e.usage("%v", err)
	}
	c, err := f.int("c", -1)
	if err != nil {
		return e.usage("%v", err)
	}
	w := e.out()
	status := e.eachInput(f.args, func(name string, r io.Reader) error {
		if len(f.args) > 1 {
			fmt.Fprintf(w, "==> %s <==\n", name)
		}
		if c >= 0 {
			_, err := io.CopyN(w, r, int64(c))
			if err == io.EOF {
				err = nil
			}
			return err
		}
		br := bufio.NewReader(r)
		for i := 0; i < n; i++ {
			line, err := br.ReadBytes('\n')
			if _, werr := w.Write(line); werr != nil {
				return wErr{werr}
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	return status
}

func cmdTail(e *env, args []string) int {
	f, err := parseFlags(numericShorthand(args), "qvf", "nc")
	if err != nil {
		return e.usage("%v", err)
	}
	if f.has("f") {
		return e.usage("-f is not supported")
	}
	spec, _ := f.value("n")
	if spec == "" {
		spec = "10"
	}
	fromStart := strings.HasPrefix(spec, "+")
	n, err := strconv.Atoi(strings.TrimPrefix(spec, "+"))
	if err != nil || n < 0 {
		return e.usage("invalid number of lines: %q", spec)
	}
	c, err := f.int("c", -1)
	if err != nil {
		return e.usage("%v", err)
	}
	w := e.out()
	status := e.eachInput(f.args, func(name string, r io.Reader) error {
		if len(f.args) > 1 {
			fmt.Fprintf(w, "==> %s <==\n", name)
		}
		if c >= 0 {
			b, err := readAll(r)
			if err != nil {
				return err
			}
			_, err = w.Write(b[max(0, len(b)-c):])
			return err
		}
		br := bufio.NewReader(r)
		if fromStart {
			for i := 1; ; i++ {
				line, err := br.ReadBytes('\n')
				if i >= n {
					if _, werr := w.Write(line); werr != nil {
						return wErr{werr}
					}
				}
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
			}
		}
		// A ring of the last n lines.
		ring := make([][]byte, 0, min(n, 1024))
		next := 0
		size := 0
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 && n > 0 {
				if len(ring) < n {
					ring = append(ring, line)
					size += len(line)
				} else {
					size += len(line) - len(ring[next])
					ring[next] = line
					next = (next + 1) % n
				}
				if size > maxInMemory {
					return fmt.Errorf("the last %d lines are larger than %d bytes", n, maxInMemory)
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		for i := range ring {
			if _, err := w.Write(ring[(next+i)%len(ring)]); err != nil {
				return wErr{err}
			}
		}
		return nil
	})
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	return status
}

func cmdWc(e *env, args []string) int {
	f, err := parseFlags(args, "lwcm", "")
	if err != nil {
		return e.usage("%v", err)
	}
	l, wd, c := f.has("l"), f.has("w"), f.has("c") || f.has("m")
	if !l && !wd && !c {
		l, wd, c = true, true, true
	}
	type count struct{ lines, words, bytes int64 }
	var total count
	w := e.out()
	print := func(cn count, name string) {
		var parts []string
		width := 7
		if (l && !wd && !c || wd && !l && !c || c && !l && !wd) && len(f.args) <= 1 {
			width = 0
		}
		for _, x := range []struct {
			on bool
			n  int64
		}{{l, cn.lines}, {wd, cn.words}, {c, cn.bytes}} {
			if x.on {
				parts = append(parts, fmt.Sprintf("%*d", width, x.n))
			}
		}
		if name != "" {
			parts = append(parts, name)
		}
		fmt.Fprintln(w, strings.Join(parts, " "))
	}
	status := e.eachInput(f.args, func(name string, r io.Reader) error {
		var cn count
		inWord := false
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Read(buf)
			cn.bytes += int64(n)
			for _, b := range buf[:n] {
				if b == '\n' {
					cn.lines++
				}
				sp := b == ' ' || b == '\n' || b == '\t' || b == '\r' || b == '\v' || b == '\f'
				if !sp && !inWord {
					cn.words++
				}
				inWord = !sp
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		total.lines += cn.lines
		total.words += cn.words
		total.bytes += cn.bytes
		if name == "-" {
			name = ""
		}
		print(cn, name)
		return nil
	})
	if len(f.args) > 1 {
		print(total, "total")
	}
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	return status
}

// sortKey is one -k field range.
type sortKey struct{ from, to int }

func cmdSort(e *env, args []string) int {
	f, err := parseFlags(args, "nrufbsVh", "kto")
	if err != nil {
		return e.usage("%v", err)
	}
	if f.has("V") || f.has("h") {
		return e.usage("-V and -h are not supported")
	}
	var keys []sortKey
	for _, k := range f.values["k"] {
		a, b, _ := strings.Cut(k, ",")
		from, err1 := strconv.Atoi(strings.TrimRight(a, "bnr"))
		to := 0
		var err2 error
		if b != "" {
			to, err2 = strconv.Atoi(strings.TrimRight(b, "bnr"))
		}
		if err1 != nil || err2 != nil || from < 1 {
			return e.usage("invalid key %q", k)
		}
		if strings.ContainsAny(a+b, "n") {
			f.bools["n"] = true
		}
		if strings.ContainsAny(a+b, "r") {
			f.bools["r"] = true
		}
		keys = append(keys, sortKey{from, to})
	}
	sep, hasSep := f.value("t")
	var all []string
	var total int
	status := e.eachInput(f.args, func(_ string, r io.Reader) error {
		b, err := readAll(r)
		if err != nil {
			return err
		}
		total += len(b)
		if total > maxInMemory {
			return fmt.Errorf("input larger than %d bytes", maxInMemory)
		}
		all = append(all, lines(b)...)
		return nil
	})
	if status != 0 {
		return status
	}
	fields := func(s string) []string {
		if hasSep {
			return strings.Split(s, sep)
		}
		return strings.Fields(s)
	}
	key := func(s string) string {
		if len(keys) == 0 {
			return s
		}
		var parts []string
		for _, k := range keys {
			fs := fields(s)
			to := k.to
			if to == 0 || to > len(fs) {
				to = len(fs)
			}
			if k.from-1 < to {
				parts = append(parts, strings.Join(fs[k.from-1:to], " "))
			}
		}
		return strings.Join(parts, "\x00")
	}
	num := func(s string) float64 {
		s = strings.TrimSpace(s)
		end := 0
		for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.' || end == 0 && (s[end] == '-' || s[end] == '+')) {
			end++
		}
		v, _ := strconv.ParseFloat(s[:end], 64)
		return v
	}
	compare := func(a, b string) int {
		ka, kb := key(a), key(b)
		if f.has("b") {
			ka, kb = strings.TrimLeft(ka, " \t"), strings.TrimLeft(kb, " \t")
		}
		if f.has("n") {
			if c := cmp.Compare(num(ka), num(kb)); c != 0 {
				return c
			}
			if len(keys) > 0 || f.has("u") {
				return 0
			}
			return strings.Compare(a, b)
		}
		if f.has("f") {
			if c := strings.Compare(strings.ToLower(ka), strings.ToLower(kb)); c != 0 || f.has("u") {
				return c
			}
		}
		if c := strings.Compare(ka, kb); c != 0 || len(keys) > 0 || f.has("u") {
			return c
		}
		return strings.Compare(a, b)
	}
	slices.SortStableFunc(all, func(a, b string) int {
		if f.has("r") {
			return compare(b, a)
		}
		return compare(a, b)
	})
	if f.has("u") {
		all = slices.CompactFunc(all, func(a, b string) bool { return compare(a, b) == 0 })
	}
	var w io.Writer = e.stdout
	if o, ok := f.value("o"); ok {
		var buf bytes.Buffer
		for _, l := range all {
			buf.WriteString(l + "\n")
		}
		if err := e.writeFile(o, &buf, false); err != nil {
			return e.fail(o, err)
		}
		return 0
	}
	bw := bufio.NewWriter(w)
	for _, l := range all {
		bw.WriteString(l)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return e.writeErr(err)
	}
	return 0
}

func cmdUniq(e *env, args []string) int {
	f, err := parseFlags(args, "cdui", "")
	if err != nil {
		return e.usage("%v", err)
	}
	if len(f.args) > 1 {
		return e.usage("an output file is not supported; redirect instead")
	}
	w := e.out()
	status := e.eachInput(f.args, func(_ string, r io.Reader) error {
		br := bufio.NewScanner(r)
		br.Buffer(nil, maxInMemory)
		var prev string
		count := 0
		emit := func() error {
			if count == 0 || f.has("d") && count < 2 || f.has("u") && count > 1 {
				return nil
			}
			var err error
			if f.has("c") {
				_, err = fmt.Fprintf(w, "%7d %s\n", count, prev)
			} else {
				_, err = fmt.Fprintln(w, prev)
			}
			if err != nil {
				return wErr{err}
			}
			return nil
		}
		for br.Scan() {
			line := br.Text()
			same := line == prev
			if f.has("i") {
				same = strings.EqualFold(line, prev)
			}
			if count > 0 && same {
				count++
				continue
			}
			if err := emit(); err != nil {
				return err
			}
			prev, count = line, 1
		}
		if err := br.Err(); err != nil {
			return err
		}
		return emit()
	})
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	return status
}

// ranges parses a cut list: "1,3-5,7-" (1-based, inclusive; 0 is "to the end").
func ranges(spec string) ([][2]int, error) {
	var out [][2]int
	for _, part := range strings.Split(spec, ",") {
		a, b, isRange := strings.Cut(part, "-")
		var lo, hi int
		var err error
		if a == "" {
			lo = 1
		} else if lo, err = strconv.Atoi(a); err != nil || lo < 1 {
			return nil, fmt.Errorf("invalid list %q", spec)
		}
		switch {
		case !isRange:
			hi = lo
		case b == "":
			hi = 0
		default:
			if hi, err = strconv.Atoi(b); err != nil || hi < lo {
				return nil, fmt.Errorf("invalid list %q", spec)
			}
		}
		out = append(out, [2]int{lo, hi})
	}
	return out, nil
}

func inRanges(rs [][2]int, i int) bool {
	for _, r := range rs {
		if i >= r[0] && (r[1] == 0 || i <= r[1]) {
			return true
		}
	}
	return false
}

func cmdCut(e *env, args []string) int {
	f, err := parseFlags(args, "s", "dfcb")
	if err != nil {
		return e.usage("%v", err)
	}
	fl, byField := f.value("f")
	cl, byChar := f.value("c")
	if bl, ok := f.value("b"); ok {
		cl, byChar = bl, true
	}
	if byField == byChar {
		return e.usage("give exactly one of -f, -c or -b")
	}
	spec := fl
	if byChar {
		spec = cl
	}
	rs, err := ranges(spec)
	if err != nil {
		return e.usage("%v", err)
	}
	delim := "\t"
	if d, ok := f.value("d"); ok {
		if utf8.RuneCountInString(d) != 1 {
			return e.usage("the delimiter must be one character")
		}
		delim = d
	}
	w := e.out()
	status := e.eachInput(f.args, func(_ string, r io.Reader) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, maxInMemory)
		for sc.Scan() {
			line := sc.Text()
			var out []string
			if byChar {
				var sb strings.Builder
				for i, r := range []rune(line) {
					if inRanges(rs, i+1) {
						sb.WriteRune(r)
					}
				}
				out = []string{sb.String()}
			} else {
				parts := strings.Split(line, delim)
				if len(parts) == 1 {
					if f.has("s") {
						continue
					}
					out = parts
				} else {
					for i, p := range parts {
						if inRanges(rs, i+1) {
							out = append(out, p)
						}
					}
				}
			}
			if _, err := fmt.Fprintln(w, strings.Join(out, delim)); err != nil {
				return wErr{err}
			}
		}
		return sc.Err()
	})
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	return status
}

// trSet expands a tr set: ranges (a-z), classes ([:upper:]) and escapes (\n).
func trSet(s string) ([]rune, error) {
	classes := map[string]func(rune) bool{
		"upper": unicode.IsUpper, "lower": unicode.IsLower, "digit": unicode.IsDigit,
		"space": unicode.IsSpace, "alpha": unicode.IsLetter, "punct": unicode.IsPunct,
		"alnum": func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) },
		"blank": func(r rune) bool { return r == ' ' || r == '\t' },
	}
	in := []rune(s)
	var out []rune
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c == '[' && i+1 < len(in) && in[i+1] == ':' {
			end := strings.Index(string(in[i:]), ":]")
			if end > 0 {
				name := string(in[i+2 : i+end])
				is, ok := classes[name]
				if !ok {
					return nil, fmt.Errorf("invalid class [:%s:]", name)
				}
				for r := rune(0); r < 128; r++ {
					if is(r) {
						out = append(out, r)
					}
				}
				i += end + 1
				continue
			}
		}
		if c == '\\' && i+1 < len(in) {
			i++
			switch in[i] {
			case 'n':
				c = '\n'
			case 't':
				c = '\t'
			case 'r':
				c = '\r'
			case '\\':
				c = '\\'
			default:
				c = in[i]
			}
		}
		if i+2 < len(in) && in[i+1] == '-' {
			hi := in[i+2]
			if hi < c {
				return nil, fmt.Errorf("invalid range %c-%c", c, hi)
			}
			for r := c; r <= hi; r++ {
				out = append(out, r)
			}
			i += 2
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

func cmdTr(e *env, args []string) int {
	f, err := parseFlags(args, "dscC", "")
	if err != nil {
		return e.usage("%v", err)
	}
	del, squeeze, comp := f.has("d"), f.has("s"), f.has("c") || f.has("C")
	want := 2
	if del && !squeeze || squeeze && !del && len(f.args) == 1 {
		want = 1
	}
	if len(f.args) != want {
		return e.usage("usage: tr [-dsc] SET1 [SET2]")
	}
	set1, err := trSet(f.args[0])
	if err != nil {
		return e.usage("%v", err)
	}
	var set2 []rune
	if len(f.args) == 2 {
		if set2, err = trSet(f.args[1]); err != nil {
			return e.usage("%v", err)
		}
	}
	in1 := map[rune]bool{}
	for _, r := range set1 {
		in1[r] = true
	}
	member := func(r rune) bool { return in1[r] != comp }
	mapping := map[rune]rune{}
	if !del && len(set2) > 0 {
		for i, r := range set1 {
			mapping[r] = set2[min(i, len(set2)-1)]
		}
	}
	sq := map[rune]bool{}
	sqSet := set1
	if len(set2) > 0 {
		sqSet = set2
	}
	for _, r := range sqSet {
		sq[r] = true
	}
	br := bufio.NewReader(e.stdin)
	w := e.out()
	last := rune(-1)
	for {
		r, _, err := br.ReadRune()
		if err != nil {
			break
		}
		if del && member(r) {
			continue
		}
		if !del && len(set2) > 0 && member(r) {
			if m, ok := mapping[r]; ok {
				r = m
			} else if comp {
				r = set2[len(set2)-1]
			}
		}
		if squeeze && r == last && (sq[r] || comp && len(set2) == 0 && member(r)) {
			continue
		}
		last = r
		if _, err := w.WriteRune(r); err != nil {
			return e.writeErr(err)
		}
	}
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	return 0
}

func cmdTac(e *env, args []string) int {
	f, err := parseFlags(args, "", "")
	if err != nil {
		return e.usage("%v", err)
	}
	w := e.out()
	status := e.eachInput(f.args, func(_ string, r io.Reader) error {
		b, err := readAll(r)
		if err != nil {
			return err
		}
		ls := lines(b)
		for i := len(ls) - 1; i >= 0; i-- {
			if _, err := fmt.Fprintln(w, ls[i]); err != nil {
				return wErr{err}
			}
		}
		return nil
	})
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	return status
}

func cmdTee(e *env, args []string) int {
	f, err := parseFlags(args, "a", "")
	if err != nil {
		return e.usage("%v", err)
	}
	var files []*wsFile
	for _, name := range f.args {
		wf, err := e.s.create(e.path(name), name, f.has("a"))
		if err != nil {
			return e.fail(name, err)
		}
		files = append(files, wf)
	}
	status := 0
	buf := make([]byte, 32<<10)
	stdoutOK := true
	for {
		n, rerr := e.stdin.Read(buf)
		if n > 0 {
			if stdoutOK {
				if _, err := e.stdout.Write(buf[:n]); err != nil {
					stdoutOK = false
					status = e.writeErr(err)
				}
			}
			for _, wf := range files {
				if _, err := wf.Write(buf[:n]); err != nil {
					status = e.fail(wf.display, err)
				}
			}
		}
		if rerr != nil {
			break
		}
	}
	for _, wf := range files {
		if err := wf.Close(); err != nil {
			status = e.fail(wf.display, err)
		}
	}
	return status
}

func cmdSeq(e *env, args []string) int {
	f, err := parseFlags(args, "w", "s")
	if err != nil || len(f.args) < 1 || len(f.args) > 3 {
		return e.usage("usage: seq [-s SEP] [FIRST [STEP]] LAST")
	}
	nums := make([]int64, len(f.args))
	for i, a := range f.args {
		if nums[i], err = strconv.ParseInt(a, 10, 64); err != nil {
			return e.usage("invalid number %q (only integers are supported)", a)
		}
	}
	first, step, last := int64(1), int64(1), nums[len(nums)-1]
	if len(nums) >= 2 {
		first = nums[0]
	}
	if len(nums) == 3 {
		step = nums[1]
	}
	if step == 0 {
		return e.usage("the step must not be zero")
	}
	sep, ok := f.value("s")
	if !ok {
		sep = "\n"
	}
	w := e.out()
	n := 0
	for i := first; step > 0 && i <= last || step < 0 && i >= last; i += step {
		if n > 0 {
			w.WriteString(sep)
		}
		w.WriteString(strconv.FormatInt(i, 10))
		if n++; n%4096 == 0 && e.ctx.Err() != nil {
			return 1
		}
	}
	if n > 0 {
		w.WriteString("\n")
	}
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	return 0
}

func cmdYes(e *env, args []string) int {
	s := "y"
	if len(args) > 0 {
		s = strings.Join(args, " ")
	}
	line := []byte(strings.Repeat(s+"\n", max(1, 4096/(len(s)+1))))
	for e.ctx.Err() == nil {
		if _, err := e.stdout.Write(line); err != nil {
			return e.writeErr(err)
		}
	}
	return 1
}

func cmdBasename(e *env, args []string) int {
	if len(args) < 1 || len(args) > 2 {
		return e.usage("usage: basename NAME [SUFFIX]")
	}
	b := path.Base(args[0])
	if len(args) == 2 && b != args[1] {
		b = strings.TrimSuffix(b, args[1])
	}
	fmt.Fprintln(e.stdout, b)
	return 0
}

func cmdDirname(e *env, args []string) int {
	if len(args) < 1 {
		return e.usage("usage: dirname NAME...")
	}
	for _, a := range args {
		fmt.Fprintln(e.stdout, path.Dir(strings.TrimRight(a, "/")+map[bool]string{true: "/", false: ""}[strings.Trim(a, "/") == ""]))
	}
	return 0
}

func cmdEnv(e *env, args []string) int {
	if len(args) > 0 {
		return e.usage("running a command is not supported; only printing the environment")
	}
	w := e.out()
	e.vars.Each(func(name string, vr expand.Variable) bool {
		if vr.Exported && vr.Kind == expand.String {
			fmt.Fprintf(w, "%s=%s\n", name, vr.Str)
		}
		return true
	})
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	return 0
}

func cmdSleep(e *env, args []string) int {
	if len(args) != 1 {
		return e.usage("usage: sleep SECONDS")
	}
	sec, err := strconv.ParseFloat(strings.TrimSuffix(args[0], "s"), 64)
	if err != nil || sec < 0 {
		return e.usage("invalid time interval %q", args[0])
	}
	t := time.NewTimer(time.Duration(sec * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return 0
	case <-e.ctx.Done():
		return 1
	}
}

func cmdType(e *env, args []string) int {
	status := 0
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "-"):
		case commands[a] != nil && a != "isobox-type":
			fmt.Fprintf(e.stdout, "%s is /bin/%s\n", a, a)
		case isBuiltin(a):
			fmt.Fprintf(e.stdout, "%s is a shell builtin\n", a)
		default:
			fmt.Fprintf(e.stderr, "type: %s: not found\n", a)
			status = 1
		}
	}
	return status
}

func isBuiltin(name string) bool { return interp.IsBuiltin(name) }
