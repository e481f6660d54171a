package shell

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/itchyny/gojq"
	"mvdan.cc/sh/v3/expand"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

func cmdJq(e *env, args []string) int {
	// --arg and --argjson take two values: take them out before the getopt.
	vars := []string{}
	vals := []any{}
	var rest []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "--arg", "--argjson":
			if i+2 >= len(args) {
				return e.usage("%s takes a name and a value", a)
			}
			var v any = args[i+2]
			if a == "--argjson" {
				if err := json.Unmarshal([]byte(args[i+2]), &v); err != nil {
					return e.usage("--argjson %s: invalid JSON: %v", args[i+1], err)
				}
			}
			vars, vals = append(vars, "$"+args[i+1]), append(vals, v)
			i += 2
		default:
			rest = append(rest, a)
		}
	}
	f, err := parseFlags(rest, "rcnsejS", "", "raw-output", "compact-output", "null-input", "slurp", "exit-status", "join-output", "sort-keys", "tab")
	if err != nil {
		return e.usage("%v", err)
	}
	if len(f.args) == 0 {
		return e.usage("usage: jq [OPTIONS] FILTER [FILES...]")
	}
	raw := f.has("r") || f.has("raw-output") || f.has("j") || f.has("join-output")
	compact := f.has("c") || f.has("compact-output")
	q, err := gojq.Parse(f.args[0])
	if err != nil {
		return e.errorf("error: %v", err) + 2
	}
	// The inputs, decoded as one stream of JSON values.
	var readers []io.Reader
	files := f.args[1:]
	if len(files) == 0 {
		readers = append(readers, e.stdin)
	}
	for _, name := range files {
		rc, err := e.open(name)
		if err != nil {
			e.fail(name, err)
			return 2
		}
		defer rc.Close()
		readers = append(readers, rc)
	}
	dec := json.NewDecoder(io.LimitReader(io.MultiReader(readers...), maxInMemory))
	dec.UseNumber()
	var decErr error
	next := func() (any, bool) {
		var v any
		if err := dec.Decode(&v); err != nil {
			if err != io.EOF {
				decErr = err
			}
			return nil, false
		}
		return v, true
	}
	inputs := &jqInputs{next: next}
	environ := func() []string {
		var out []string
		e.vars.Each(func(name string, vr expand.Variable) bool {
			if vr.Exported && vr.Kind == expand.String {
				out = append(out, name+"="+vr.Str)
			}
			return true
		})
		return out
	}
	code, err := gojq.Compile(q, gojq.WithVariables(vars), gojq.WithEnvironLoader(environ), gojq.WithInputIter(inputs))
	if err != nil {
		return e.errorf("error: %v", err) + 2
	}
	w := e.out()
	status := 0
	var lastOut any = nil
	produced := false
	run := func(v any) error {
		iter := code.RunWithContext(e.ctx, v, vals...)
		for {
			out, ok := iter.Next()
			if !ok {
				return nil
			}
			if err, ok := out.(error); ok {
				var he *gojq.HaltError
				if errors.As(err, &he) {
					if he.Value() != nil {
						if s, ok := he.Value().(string); ok {
							fmt.Fprint(e.stderr, s)
						} else {
							b, _ := gojq.Marshal(he.Value())
							fmt.Fprintln(e.stderr, string(b))
						}
					}
					status = he.ExitCode()
					return nil
				}
				return err
			}
			lastOut, produced = out, true
			if s, ok := out.(string); ok && raw {
				w.WriteString(s)
			} else {
				b, err := gojq.Marshal(out)
				if err != nil {
					return err
				}
				if !compact {
					var ind bytes.Buffer
					if json.Indent(&ind, b, "", "  ") == nil {
						b = ind.Bytes()
					}
				}
				w.Write(b)
			}
			if !(f.has("j") || f.has("join-output")) {
				if err := w.WriteByte('\n'); err != nil {
					return wErr{err}
				}
			}
		}
	}
	var runErr error
	switch {
	case f.has("n") || f.has("null-input"):
		runErr = run(nil)
	case f.has("s") || f.has("slurp"):
		all := []any{}
		for v, ok := next(); ok; v, ok = next() {
			all = append(all, v)
		}
		if decErr == nil {
			runErr = run(all)
		}
	default:
		for v, ok := next(); ok && runErr == nil && status == 0; v, ok = next() {
			runErr = run(v)
		}
	}
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	if decErr != nil {
		e.errorf("error: invalid JSON input: %v", decErr)
		return 2
	}
	if runErr != nil {
		e.errorf("error: %v", runErr)
		return 5
	}
	if status != 0 {
		return status
	}
	if f.has("e") || f.has("exit-status") {
		if !produced {
			return 4
		}
		if lastOut == nil || lastOut == false {
			return 1
		}
	}
	return 0
}

// jqInputs feeds input and inputs from the decoder.
type jqInputs struct{ next func() (any, bool) }

func (j *jqInputs) Next() (any, bool) { return j.next() }

func cmdSha256sum(e *env, args []string) int {
	f, err := parseFlags(args, "bt", "")
	if err != nil {
		return e.usage("%v", err)
	}
	w := e.out()
	status := e.eachInput(f.args, func(name string, r io.Reader) error {
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return err
		}
		_, err := fmt.Fprintf(w, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), name)
		return err
	})
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	return status
}

// diff prints a unified diff of two files ("-" is stdin): status 0 when they are the
// same, 1 when they differ, 2 on trouble.
func cmdDiff(e *env, args []string) int {
	f, err := parseFlags(args, "uqNr", "U")
	if err != nil {
		return e.usage("%v", err)
	}
	if f.has("r") {
		return e.usage("-r is not supported; diff two files")
	}
	if len(f.args) != 2 {
		return e.usage("usage: diff [-u] [-U N] [-q] FILE1 FILE2")
	}
	ctxLines, err := f.int("U", 3)
	if err != nil || ctxLines < 0 {
		return e.usage("invalid context length")
	}
	var texts [2][]string
	for i, name := range f.args {
		rc, err := e.open(name)
		if err != nil {
			if f.has("N") && isoerr.CodeOf(err) == isoerr.NotFound {
				continue
			}
			e.fail(name, err)
			return 2
		}
		b, err := readAll(rc)
		rc.Close()
		if err != nil {
			e.fail(name, err)
			return 2
		}
		texts[i] = lines(b)
	}
	a, b := texts[0], texts[1]
	if slicesEqual(a, b) {
		return 0
	}
	if f.has("q") {
		fmt.Fprintf(e.stdout, "Files %s and %s differ\n", f.args[0], f.args[1])
		return 1
	}
	if int64(len(a))*int64(len(b)) > 25_000_000 {
		e.errorf("the files are too large to compare (%d x %d lines)", len(a), len(b))
		return 2
	}
	w := e.out()
	fmt.Fprintf(w, "--- %s\n+++ %s\n", f.args[0], f.args[1])
	unified(w, a, b, ctxLines)
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	return 1
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// unified writes the hunks of a unified diff of a and b (a longest common subsequence,
// by dynamic programming: the inputs are bounded by the caller).
func unified(w io.Writer, a, b []string, ctxLines int) {
	n, m := len(a), len(b)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte // ' ', '-', '+'
		i, j int  // line indexes in a and b (0-based)
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, op{' ', i, j})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', i, j})
			i++
		default:
			ops = append(ops, op{'+', i, j})
			j++
		}
	}
	// Group the changes into hunks with ctxLines of context.
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		start := max(0, k-ctxLines)
		end := k
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*ctxLines {
				end = min(end+ctxLines, len(ops))
				break
			}
			end = run
		}
		var aN, bN int
		for _, o := range ops[start:end] {
			if o.kind != '+' {
				aN++
			}
			if o.kind != '-' {
				bN++
			}
		}
		aStart, bStart := ops[start].i+1, ops[start].j+1
		if aN == 0 {
			aStart--
		}
		if bN == 0 {
			bStart--
		}
		fmt.Fprintf(w, "@@ -%s +%s @@\n", hunkRange(aStart, aN), hunkRange(bStart, bN))
		for _, o := range ops[start:end] {
			switch o.kind {
			case '+':
				fmt.Fprintf(w, "+%s\n", b[o.j])
			default:
				fmt.Fprintf(w, "%c%s\n", o.kind, a[o.i])
			}
		}
		k = end
	}
}

func hunkRange(start, n int) string {
	if n == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}

func cmdTar(e *env, args []string) int {
	// tar's first argument may be bundled letters without a dash: tar czf out.tgz dir.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = append([]string{"-" + args[0]}, args[1:]...)
	}
	f, err := parseFlags(args, "cxtzvk", "fC", "gzip")
	if err != nil {
		return e.usage("%v", err)
	}
	modes := 0
	for _, m := range []string{"c", "x", "t"} {
		if f.has(m) {
			modes++
		}
	}
	if modes != 1 {
		return e.usage("give exactly one of -c, -x or -t")
	}
	gz := f.has("z") || f.has("gzip")
	archive, _ := f.value("f")
	if archive == "" {
		archive = "-"
	}
	dir, _ := f.value("C")
	if dir == "" {
		dir = "."
	}
	sub := *e
	sub.dir = e.path(dir)
	if f.has("c") {
		if len(f.args) == 0 {
			return e.usage("refusing to create an empty archive")
		}
		if archive == "-" {
			return tarCreate(&sub, e.stdout, f.args, gz, f.has("v"), e.stderr)
		}
		if err := e.writable(); err != nil {
			return e.fail(archive, err)
		}
		wf, err := e.s.create(e.path(archive), archive, false)
		if err != nil {
			return e.fail(archive, err)
		}
		status := tarCreate(&sub, wf, f.args, gz, f.has("v"), e.stderr)
		if err := wf.Close(); err != nil {
			return e.fail(archive, err)
		}
		return status
	}
	rc, err := e.open(archive)
	if err != nil {
		return e.fail(archive, err)
	}
	defer rc.Close()
	var r io.Reader = rc
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return e.errorf("%s: %v", archive, err)
		}
		r = zr
	}
	if f.has("x") {
		if err := e.writable(); err != nil {
			return e.fail(archive, err)
		}
	}
	tr := tar.NewReader(r)
	w := e.out()
	defer w.Flush()
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return 0
		}
		if err != nil {
			return e.errorf("%s: %v", archive, err)
		}
		if f.has("t") {
			fmt.Fprintln(w, h.Name)
			continue
		}
		if f.has("v") {
			fmt.Fprintln(w, h.Name)
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name == "" {
			continue
		}
		p := wsPath(sub.dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = e.s.store.Mkdir(e.ctx, e.s.ws, p, true)
		case tar.TypeReg:
			_, err = e.s.store.Write(e.ctx, e.s.ws, p, tr, workspace.WriteOptions{})
		case tar.TypeSymlink:
			e.s.store.Remove(e.ctx, e.s.ws, p, false)
			err = e.s.store.Symlink(e.ctx, e.s.ws, h.Linkname, p)
		default:
			fmt.Fprintf(e.stderr, "tar: %s: skipping an entry of type %c\n", h.Name, h.Typeflag)
		}
		if err != nil {
			return e.fail(h.Name, err)
		}
	}
}

func tarCreate(e *env, out io.Writer, names []string, gz, verbose bool, stderr io.Writer) int {
	bw := bufio.NewWriterSize(out, 64<<10)
	var w io.Writer = bw
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(bw)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, name := range names {
		err := e.walk(name, -1, func(display string, in workspace.Info, _ int) (bool, error) {
			h := &tar.Header{Name: strings.TrimPrefix(display, "./"), ModTime: in.Modified, Mode: 0o644}
			if verbose {
				fmt.Fprintln(stderr, h.Name)
			}
			switch in.Type {
			case workspace.Dir:
				h.Typeflag, h.Mode, h.Name = tar.TypeDir, 0o755, strings.TrimSuffix(h.Name, "/")+"/"
				if h.Name == "./" || h.Name == "/" {
					return true, nil
				}
				return true, tw.WriteHeader(h)
			case workspace.Symlink:
				h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, in.Target, 0o777
				return false, tw.WriteHeader(h)
			}
			h.Typeflag, h.Size = tar.TypeReg, in.Size
			rc, _, err := e.s.store.Read(e.ctx, e.s.ws, in.Path)
			if err != nil {
				return false, err
			}
			defer rc.Close()
			if err := tw.WriteHeader(h); err != nil {
				return false, wErr{err}
			}
			if _, err := io.Copy(tw, rc); err != nil {
				return false, err
			}
			return false, nil
		})
		if err != nil {
			if isWriteErr(err) {
				return e.writeErr(err)
			}
			return e.fail(name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return e.writeErr(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return e.writeErr(err)
		}
	}
	if err := bw.Flush(); err != nil {
		return e.writeErr(err)
	}
	return 0
}

func cmdGunzip(e *env, args []string) int { return cmdGzip(e, append([]string{"-d"}, args...)) }
func cmdZcat(e *env, args []string) int   { return cmdGzip(e, append([]string{"-dc"}, args...)) }

func cmdGzip(e *env, args []string) int {
	f, err := parseFlags(args, "dckfn123456789", "")
	if err != nil {
		return e.usage("%v", err)
	}
	decompress, toStdout := f.has("d"), f.has("c") || len(f.args) == 0
	code := func(r io.Reader, w io.Writer) error {
		if decompress {
			zr, err := gzip.NewReader(r)
			if err != nil {
				return err
			}
			_, err = io.Copy(w, zr)
			return err
		}
		zw := gzip.NewWriter(w)
		if _, err := io.Copy(zw, r); err != nil {
			return err
		}
		return zw.Close()
	}
	if toStdout {
		return e.eachInput(f.args, func(_ string, r io.Reader) error { return code(r, e.stdout) })
	}
	if err := e.writable(); err != nil {
		return e.fail("gzip", err)
	}
	status := 0
	for _, name := range f.args {
		target := name + ".gz"
		if decompress {
			if !strings.HasSuffix(name, ".gz") {
				e.errorf("%s: unknown suffix -- ignored", name)
				status = 1
				continue
			}
			target = strings.TrimSuffix(name, ".gz")
		}
		rc, err := e.open(name)
		if err != nil {
			e.fail(name, err)
			status = 1
			continue
		}
		wf, err := e.s.create(e.path(target), target, false)
		if err == nil {
			err = code(rc, wf)
			if cerr := wf.Close(); err == nil {
				err = cerr
			}
		}
		rc.Close()
		if err == nil && !f.has("k") {
			err = e.s.store.Remove(e.ctx, e.s.ws, e.path(name), false)
		}
		if err != nil {
			e.fail(name, err)
			status = 1
		}
	}
	return status
}

// xargs runs one of this package's commands with arguments read from stdin.
func cmdXargs(e *env, args []string) int {
	// Options end at the command's name.
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		if (args[i] == "-n" || args[i] == "-I" || args[i] == "-d" || args[i] == "-L") && i+1 < len(args) {
			i++
		}
		i++
	}
	if i < len(args) && args[i] == "--" {
		i++
	}
	f, err := parseFlags(args[:i], "0rt", "nIdLP")
	if err != nil {
		return e.usage("%v", err)
	}
	cmdArgs := args[i:]
	if len(cmdArgs) == 0 {
		cmdArgs = []string{"echo"}
	}
	b, err := readAll(e.stdin)
	if err != nil {
		return e.errorf("%v", err)
	}
	var items []string
	repl, hasI := f.value("I")
	switch d, hasD := f.value("d"); {
	case f.has("0"):
		items = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	case hasD:
		d = strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\0`, "\x00").Replace(d)
		items = strings.Split(strings.TrimSuffix(string(b), d), d)
	case hasI:
		items = lines(b)
	default:
		items = strings.Fields(string(b))
	}
	items = slicesDeleteEmpty(items, hasI || f.has("0"))
	n, err := f.int("n", 0)
	if err != nil || n < 0 {
		return e.usage("invalid -n")
	}
	if l, err := f.int("L", 0); err == nil && l > 0 {
		n = l
	}
	if hasI {
		n = 1
	}
	if len(items) == 0 && f.has("r") {
		return 0
	}
	run := func(argv []string) int {
		if f.has("t") {
			fmt.Fprintln(e.stderr, strings.Join(argv, " "))
		}
		if argv[0] == "echo" {
			_, err := fmt.Fprintln(e.stdout, strings.Join(argv[1:], " "))
			if err != nil {
				return e.writeErr(err)
			}
			return 0
		}
		cmd, ok := commands[argv[0]]
		if !ok {
			fmt.Fprintf(e.stderr, "xargs: %s: command not found (xargs runs only the shell's own commands)\n", argv[0])
			return 127
		}
		if n := e.s.steps.Add(1); n > e.s.opts.MaxSteps {
			e.s.stop(isoerr.New(isoerr.CPULimitExceeded, "the script ran more than %d commands", e.s.opts.MaxSteps))
			return 1
		}
		sub := *e
		sub.name = argv[0]
		sub.stdin = strings.NewReader("")
		return cmd(&sub, argv[1:])
	}
	status := 0
	if n == 0 {
		n = max(len(items), 1)
	}
	for start := 0; start < len(items) || start == 0; start += n {
		batch := items[start:min(start+n, len(items))]
		var argv []string
		if hasI {
			for _, a := range cmdArgs {
				argv = append(argv, strings.ReplaceAll(a, repl, strings.Join(batch, " ")))
			}
		} else {
			argv = append(append([]string{}, cmdArgs...), batch...)
		}
		switch c := run(argv); {
		case c == 127 || c == 141:
			return c
		case c == 255:
			return 124
		case c != 0:
			status = 123
		}
		if e.ctx.Err() != nil || len(items) == 0 {
			break
		}
	}
	return status
}

func slicesDeleteEmpty(items []string, keepEmpty bool) []string {
	out := items[:0]
	for _, it := range items {
		if it != "" || keepEmpty && false {
			out = append(out, it)
		}
	}
	return out
}
