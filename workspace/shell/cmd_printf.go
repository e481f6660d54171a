package shell

import (
	"fmt"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// cmdPrintf is printf(1): the interpreter's builtin lacks precisions, "*", -v and the
// floating-point conversions, so a script's printf runs here (the call handler renames
// it). -v cannot set the shell's variable from here: it is refused.
func cmdPrintf(e *env, args []string) int {
	e.name = "printf"
	if len(args) > 0 && args[0] == "-v" {
		return e.usage("-v is not supported (use var=$(printf ...))")
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return e.usage("usage: printf FORMAT [ARGUMENT]...")
	}
	if err := checkPrintf(args); err != nil {
		return e.usage("%v", err)
	}
	format, rest := args[0], args[1:]
	var b strings.Builder
	status := 0
	for {
		used, stop, err := printfOnce(&b, format, &rest)
		if err != nil {
			e.errorf("%v", err)
			status = 1
		}
		if stop || !used || len(rest) == 0 || b.Len() > maxInMemory {
			break
		}
	}
	if _, err := e.stdout.Write([]byte(b.String())); err != nil {
		return e.writeErr(err)
	}
	return status
}

// printfOnce formats format once, taking arguments from rest; used says whether it
// took any (the format is reused while arguments remain), stop whether \c ended it.
func printfOnce(b *strings.Builder, format string, rest *[]string) (used, stop bool, err error) {
	next := func() (string, bool) {
		if len(*rest) == 0 {
			return "", false
		}
		a := (*rest)[0]
		*rest = (*rest)[1:]
		used = true
		return a, true
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c == '\\' {
			s, n, st := escape(format[i+1:], false)
			b.WriteString(s)
			i += n
			if st {
				return used, true, err
			}
			continue
		}
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(format) && format[i+1] == '%' {
			b.WriteByte('%')
			i++
			continue
		}
		// %[flags][width][.precision]verb
		j := i + 1
		for j < len(format) && strings.IndexByte("-+ #0", format[j]) >= 0 {
			j++
		}
		spec := format[i:j]
		num := func() {
			if j < len(format) && format[j] == '*' {
				a, _ := next()
				n, _ := strconv.Atoi(strings.TrimSpace(a))
				spec += strconv.Itoa(n)
				j++
				return
			}
			k := j
			for j < len(format) && format[j] >= '0' && format[j] <= '9' {
				j++
			}
			spec += format[k:j]
		}
		num()
		if j < len(format) && format[j] == '.' {
			spec += "."
			j++
			num()
		}
		if j >= len(format) {
			return used, false, fmt.Errorf("%q: missing format character", format[i:])
		}
		verb := format[j]
		i = j
		arg, _ := next()
		switch verb {
		case 's':
			fmt.Fprintf(b, spec+"s", arg)
		case 'b':
			s, _, st := escape(arg, true)
			fmt.Fprintf(b, spec+"s", s)
			if st {
				return used, true, err
			}
		case 'q':
			q, qerr := syntax.Quote(arg, syntax.LangBash)
			if qerr != nil {
				q = strconv.Quote(arg)
			}
			fmt.Fprintf(b, spec+"s", q)
		case 'c':
			if arg != "" {
				fmt.Fprintf(b, spec+"c", []rune(arg)[0])
			}
		case 'd', 'i', 'u', 'x', 'X', 'o':
			n, perr := printfInt(arg)
			if perr != nil {
				err = perr
			}
			v := map[byte]string{'d': "d", 'i': "d", 'u': "d", 'x': "x", 'X': "X", 'o': "o"}[verb]
			fmt.Fprintf(b, spec+v, n)
		case 'f', 'F', 'e', 'E', 'g', 'G':
			f := 0.0
			if arg != "" {
				var perr error
				if f, perr = strconv.ParseFloat(strings.TrimSpace(arg), 64); perr != nil {
					err = fmt.Errorf("%q: invalid number", arg)
				}
			}
			if verb == 'F' {
				verb = 'f'
			}
			fmt.Fprintf(b, spec+string(verb), f)
		default:
			return used, false, fmt.Errorf("%%%c: invalid directive", verb)
		}
	}
	return used, false, err
}

// printfInt reads a printf integer argument: decimal, 0x hex, 0 octal, or 'c (a
// character's code).
func printfInt(a string) (int64, error) {
	a = strings.TrimSpace(a)
	if a == "" {
		return 0, nil
	}
	if a[0] == '\'' || a[0] == '"' {
		if len(a) > 1 {
			return int64([]rune(a[1:])[0]), nil
		}
		return 0, nil
	}
	n, err := strconv.ParseInt(a, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: invalid number", a)
	}
	return n, nil
}

// escape decodes one backslash escape at the start of s (the text after the
// backslash), or, when all, every escape of s. It returns the text, the bytes of s it
// consumed (one escape) and whether \c asked to stop.
func escape(s string, all bool) (string, int, bool) {
	var b strings.Builder
	i := 0
	for i < len(s) {
		if all {
			if s[i] != '\\' || i+1 >= len(s) {
				b.WriteByte(s[i])
				i++
				continue
			}
			i++
		}
		if i >= len(s) {
			b.WriteByte('\\')
			break
		}
		c := s[i]
		i++
		switch c {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '\\':
			b.WriteByte('\\')
		case 'c':
			return b.String(), i, true
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i - 1
			if c == '0' && all {
				j = i // \0NNN in %b
			}
			k := j
			for k < len(s) && k-j < 3 && s[k] >= '0' && s[k] <= '7' {
				k++
			}
			v, _ := strconv.ParseUint(s[j:k], 8, 8)
			b.WriteByte(byte(v))
			i = max(k, i)
		case 'x':
			k := i
			for k < len(s) && k-i < 2 && strings.IndexByte("0123456789abcdefABCDEF", s[k]) >= 0 {
				k++
			}
			if k == i {
				b.WriteString(`\x`)
				break
			}
			v, _ := strconv.ParseUint(s[i:k], 16, 8)
			b.WriteByte(byte(v))
			i = k
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
		if !all {
			return b.String(), i, false
		}
	}
	return b.String(), i, false
}
