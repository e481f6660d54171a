package codemode

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/evanw/esbuild/pkg/api"

	"github.com/isobox/isobox/isoerr"
)

// Normalize turns what models write into a snippet that loader.Eval runs with the value
// the model meant. Eval already takes an expression, statements (the last expression's
// value is the result), an arrow function (called) and top-level await; Normalize adds:
//
//   - a Markdown code fence around the code (```js, ```ts, ```), which is taken off;
//   - TypeScript, whose types are stripped (esbuild);
//   - `export default X` (X is the result, called if it is a function) and other exports;
//   - a named function declared last and never called (`async function main() {...}`),
//     which is called;
//   - a `return` at the top level, which makes the code the body of an async function;
//   - `module.exports = X`, as export default.
//
// # Errors
//
// invalid_worker_code for code that does not parse, with esbuild's message, line and
// column; for empty code too.
func Normalize(code string) (string, error) {
	src := stripFences(code)
	if strings.TrimSpace(src) == "" {
		return "", isoerr.New(isoerr.InvalidWorkerCode, "the code is empty")
	}
	out, err := transform(src, 0, api.FormatESModule)
	switch {
	case err != nil && strings.Contains(err.Error(), "Top-level return cannot be used"):
		// A top-level return beside await: the code is the body of an async function.
		if out, err = transform("(async () => {\n"+src+"\n})()", 1, api.FormatDefault); err != nil {
			return "", err
		}
	case err != nil:
		return "", err
	case strings.Contains(out, `"<stdin>"(exports`):
		// module.exports = ...: run it as CommonJS and take module.exports.
		cjs := "var module = { exports: {} }, exports = module.exports;\n" + src + "\n;module.exports"
		if out, err = transform(cjs, 1, api.FormatDefault); err != nil {
			return "", err
		}
	case isCommonJS(out):
		// A top-level return without await.
		if out, err = transform("(async () => {\n"+src+"\n})()", 1, api.FormatDefault); err != nil {
			return "", err
		}
	}
	out, def := takeExports(out)
	if def != "" {
		return out + def + ";\n", nil
	}
	if name := uncalledFunction(out); name != "" {
		return out + name + ";\n", nil
	}
	return out, nil
}

// transform strips TypeScript and normalises the module syntax with esbuild. shift is the
// number of lines the caller put before the model's code (error positions are the model's).
func transform(src string, shift int, format api.Format) (string, error) {
	r := api.Transform(src, api.TransformOptions{
		Loader:  api.LoaderTS,
		Format:  format,
		Target:  api.ESNext,
		Charset: api.CharsetUTF8,
	})
	if len(r.Errors) > 0 {
		m := r.Errors[0]
		msg := m.Text
		if loc := m.Location; loc != nil {
			line := max(loc.Line-shift, 1)
			msg = fmt.Sprintf("%s (line %d, column %d)", msg, line, loc.Column+1)
			if t := strings.TrimRight(loc.LineText, " \t"); t != "" && len(t) < 300 {
				msg += fmt.Sprintf("\n  %s\n  %s^", t, strings.Repeat(" ", min(loc.Column, len(t))))
			}
		}
		if len(r.Errors) > 1 {
			msg += fmt.Sprintf("\n(and %d more errors)", len(r.Errors)-1)
		}
		return "", isoerr.New(isoerr.InvalidWorkerCode, "SyntaxError: %s", msg)
	}
	return string(r.Code), nil
}

// isCommonJS: esbuild wrapped the code as a CommonJS module, which it does for a
// top-level return and for module/exports.
func isCommonJS(out string) bool {
	return strings.Contains(out, "var require_stdin = __commonJS(")
}

var fence = regexp.MustCompile("(?s)```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)(?:```|$)")

// stripFences returns the code inside the first Markdown code fence (preferring a
// JavaScript or TypeScript one), or the text itself when it has none.
func stripFences(s string) string {
	t := strings.TrimSpace(s)
	if !strings.Contains(t, "```") {
		return s
	}
	ms := fence.FindAllStringSubmatch(t, -1)
	if len(ms) == 0 {
		return strings.Trim(t, "`")
	}
	for _, m := range ms {
		switch strings.ToLower(m[1]) {
		case "", "js", "javascript", "ts", "typescript", "jsx", "tsx", "mjs", "cjs":
			return m[2]
		}
	}
	return ms[0][2]
}

var exportClause = regexp.MustCompile(`(?s)(?:^|\n)export \{\n([^}]*)\n\};\n*$`)

// takeExports removes the export clause esbuild puts at the end of a module and returns
// the local name of the default export, if any.
func takeExports(out string) (string, string) {
	m := exportClause.FindStringSubmatchIndex(out)
	if m == nil {
		return out, ""
	}
	def := ""
	for _, e := range strings.Split(out[m[2]:m[3]], ",") {
		local, alias, ok := strings.Cut(strings.TrimSpace(e), " as ")
		if ok && strings.TrimSpace(alias) == "default" {
			def = strings.TrimSpace(local)
		}
	}
	rest := out[:m[0]]
	if rest != "" {
		rest += "\n"
	}
	return rest, def
}

var funcDecl = regexp.MustCompile(`^(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)\s*\(`)

// uncalledFunction returns the name of the function the code declares last, when that
// declaration is the last statement and the code does not call it before (hoisted).
func uncalledFunction(out string) string {
	starts := statementStarts(out)
	if len(starts) == 0 {
		return ""
	}
	last := starts[len(starts)-1]
	m := funcDecl.FindStringSubmatch(out[last:])
	if m == nil {
		return ""
	}
	call := regexp.MustCompile(`(?:^|[^\w$.])` + regexp.QuoteMeta(m[1]) + `\s*\(`)
	if call.MatchString(out[:last]) {
		return ""
	}
	return m[1]
}

// statementStarts returns the offsets of the top-level statements of esbuild's output.
// esbuild prints every top-level statement at the start of a line and indents everything
// nested, so a statement starts on each line that begins outside any string, template
// literal, comment or regular expression with a character other than a closing bracket.
func statementStarts(src string) []int {
	var starts []int
	type frame struct {
		template bool // in template text; else in a ${ } expression
		braces   int
	}
	var stack []frame
	prevSig := byte(0) // last significant character outside strings and comments
	prevWord := ""
	lineStart := true
	for i := 0; i < len(src); i++ {
		c := src[i]
		if lineStart {
			lineStart = false
			if len(stack) == 0 && c != '}' && c != ')' && c != ']' && c != ' ' && c != '\t' && c != '\n' {
				starts = append(starts, i)
			}
		}
		if len(stack) > 0 && stack[len(stack)-1].template {
			switch c {
			case '\\':
				i++
			case '`':
				stack = stack[:len(stack)-1]
				prevSig = '`'
			case '$':
				if i+1 < len(src) && src[i+1] == '{' {
					stack[len(stack)-1] = frame{template: true}
					stack = append(stack, frame{})
					i++
					prevSig = '{'
				}
			}
			if i < len(src) && src[i] == '\n' {
				lineStart = true
			}
			continue
		}
		switch {
		case c == '\n':
			lineStart = true
		case c == ' ' || c == '\t' || c == '\r':
		case c == '"' || c == '\'':
			for i++; i < len(src) && src[i] != c && src[i] != '\n'; i++ {
				if src[i] == '\\' {
					i++
				}
			}
			prevSig, prevWord = c, ""
		case c == '`':
			stack = append(stack, frame{template: true})
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return starts
			}
			for _, ch := range src[i : i+2+end+2] {
				if ch == '\n' {
					lineStart = false // a line inside a comment starts no statement
				}
			}
			i += 2 + end + 1
		case c == '/' && regexAllowed(prevSig, prevWord):
			class := false
			for i++; i < len(src) && src[i] != '\n'; i++ {
				if src[i] == '\\' {
					i++
				} else if src[i] == '[' {
					class = true
				} else if src[i] == ']' {
					class = false
				} else if src[i] == '/' && !class {
					break
				}
			}
			prevSig, prevWord = 'a', "" // flags follow; a regexp ends like an identifier
		default:
			if len(stack) > 0 {
				f := &stack[len(stack)-1]
				if c == '{' {
					f.braces++
				} else if c == '}' {
					if f.braces == 0 {
						stack = stack[:len(stack)-1] // back into the template text
						prevSig = '}'
						continue
					}
					f.braces--
				}
			}
			if isWordByte(c) {
				j := i
				for j < len(src) && isWordByte(src[j]) {
					j++
				}
				prevWord = src[i:j]
				i = j - 1
				prevSig = 'a'
			} else {
				prevSig, prevWord = c, ""
			}
		}
	}
	return starts
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// regexAllowed: a "/" after this starts a regular expression, not a division.
func regexAllowed(prev byte, word string) bool {
	if prev == 'a' {
		switch word {
		case "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw",
			"case", "do", "else", "yield", "await":
			return true
		}
		return false
	}
	switch prev {
	case ')', ']', '}', '"', '\'', '`':
		return false
	}
	return true
}
