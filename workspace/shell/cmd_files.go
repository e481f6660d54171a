package shell

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

func cmdLs(e *env, args []string) int {
	f, err := parseFlags(args, "laAR1dhtrSF", "")
	if err != nil {
		return e.usage("%v", err)
	}
	names := f.args
	if len(names) == 0 {
		names = []string{"."}
	}
	long, all := f.has("l"), f.has("a") || f.has("A")
	w := e.out()
	sortList := func(list []workspace.Info) {
		switch {
		case f.has("t"):
			slices.SortStableFunc(list, func(a, b workspace.Info) int { return b.Modified.Compare(a.Modified) })
		case f.has("S"):
			slices.SortStableFunc(list, func(a, b workspace.Info) int { return int(b.Size - a.Size) })
		}
		if f.has("r") {
			slices.Reverse(list)
		}
	}
	entry := func(in workspace.Info, name string) {
		if f.has("F") {
			switch in.Type {
			case workspace.Dir:
				name += "/"
			case workspace.Symlink:
				name += "@"
			}
		}
		if !long {
			fmt.Fprintln(w, name)
			return
		}
		mode := "-rw-r--r--"
		switch in.Type {
		case workspace.Dir:
			mode = "drwxr-xr-x"
		case workspace.Symlink:
			mode = "lrwxrwxrwx"
			name += " -> " + in.Target
		}
		size := strconv.FormatInt(in.Size, 10)
		if f.has("h") {
			size = human(in.Size)
		}
		fmt.Fprintf(w, "%s 1 user user %8s %s %s\n", mode, size, in.Modified.Format("Jan _2 15:04"), name)
	}
	status := 0
	var files []workspace.Info
	var fileNames []string
	var dirs []string
	for _, n := range names {
		in, err := e.s.store.Lstat(e.ctx, e.s.ws, e.path(n))
		if err != nil && e.path(n) == "/" && isoerr.CodeOf(err) == isoerr.NotFound {
			in, err = workspace.Info{Path: "/", Type: workspace.Dir}, nil
		}
		if err == nil && in.Type == workspace.Symlink && !long {
			if t, terr := e.stat(n); terr == nil {
				in = t
			}
		}
		if err != nil {
			e.fail(fmt.Sprintf("cannot access '%s'", n), err)
			status = 2
			continue
		}
		if in.Type == workspace.Dir && !f.has("d") {
			dirs = append(dirs, n)
			continue
		}
		files = append(files, in)
		fileNames = append(fileNames, n)
	}
	for i, in := range files {
		entry(in, fileNames[i])
	}
	var listDir func(n string, header bool) error
	listDir = func(n string, header bool) error {
		list, err := e.s.readDirPath(e.path(n))
		if err != nil {
			return err
		}
		if !all {
			list = slices.DeleteFunc(list, func(in workspace.Info) bool { return strings.HasPrefix(in.Name, ".") })
		}
		sortList(list)
		if header {
			fmt.Fprintf(w, "%s:\n", n)
		}
		if long {
			var total int64
			for _, in := range list {
				total += (in.Size + 1023) / 1024
			}
			fmt.Fprintf(w, "total %d\n", total)
		}
		if f.has("a") && !f.has("A") {
			entry(workspace.Info{Type: workspace.Dir}, ".")
			entry(workspace.Info{Type: workspace.Dir}, "..")
		}
		for _, in := range list {
			entry(in, in.Name)
		}
		if f.has("R") {
			for _, in := range list {
				if in.Type == workspace.Dir {
					fmt.Fprintln(w)
					if err := listDir(strings.TrimSuffix(n, "/")+"/"+in.Name, true); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	for i, d := range dirs {
		if i > 0 || len(files) > 0 {
			fmt.Fprintln(w)
		}
		if err := listDir(d, len(names) > 1 || f.has("R")); err != nil {
			e.fail(d, err)
			status = 2
		}
	}
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	return status
}

func human(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10)
	}
	v := float64(n)
	for _, u := range []string{"K", "M", "G", "T"} {
		v /= 1024
		if v < 1024 {
			if v < 10 {
				return fmt.Sprintf("%.1f%s", v, u)
			}
			return fmt.Sprintf("%.0f%s", v, u)
		}
	}
	return fmt.Sprintf("%.0fP", v/1024)
}

// findExpr is find's test list: all must hold (find's implicit -a); "!" negates the
// next test.
type findTest struct {
	neg bool
	fn  func(display string, in workspace.Info, depth int) bool
}

func cmdFind(e *env, args []string) int {
	var roots []string
	i := 0
	for ; i < len(args) && !strings.HasPrefix(args[i], "-") && args[i] != "!" && args[i] != "("; i++ {
		roots = append(roots, args[i])
	}
	if len(roots) == 0 {
		roots = []string{"."}
	}
	maxDepth, minDepth := -1, 0
	var tests []findTest
	neg := false
	del := false
	for ; i < len(args); i++ {
		a := args[i]
		next := func() (string, bool) {
			if i+1 >= len(args) {
				return "", false
			}
			i++
			return args[i], true
		}
		switch a {
		case "!", "-not":
			neg = !neg
			continue
		case "-print":
			continue
		case "-delete":
			del = true
			continue
		case "-name", "-iname", "-path", "-ipath", "-wholename":
			pat, ok := next()
			if !ok {
				return e.usage("missing argument to %s", a)
			}
			if _, err := path.Match(pat, ""); err != nil {
				return e.usage("bad pattern %q", pat)
			}
			fold := a == "-iname" || a == "-ipath"
			byPath := a != "-name" && a != "-iname"
			if fold {
				pat = strings.ToLower(pat)
			}
			tests = append(tests, findTest{neg, func(display string, in workspace.Info, _ int) bool {
				s := path.Base(display)
				if byPath {
					s = display
				}
				if fold {
					s = strings.ToLower(s)
				}
				ok, _ := path.Match(pat, s)
				return ok
			}})
		case "-type":
			t, ok := next()
			kinds := map[string]workspace.Kind{"f": workspace.File, "d": workspace.Dir, "l": workspace.Symlink}
			k, known := kinds[t]
			if !ok || !known {
				return e.usage("-type takes f, d or l")
			}
			tests = append(tests, findTest{neg, func(_ string, in workspace.Info, _ int) bool { return in.Type == k }})
		case "-maxdepth", "-mindepth":
			v, ok := next()
			n, err := strconv.Atoi(v)
			if !ok || err != nil || n < 0 {
				return e.usage("%s takes a number", a)
			}
			if a == "-maxdepth" {
				maxDepth = n
			} else {
				minDepth = n
			}
		case "-empty":
			tests = append(tests, findTest{neg, func(display string, in workspace.Info, _ int) bool {
				if in.Type == workspace.Dir {
					l, err := e.s.readDirPath(in.Path)
					return err == nil && len(l) == 0
				}
				return in.Type == workspace.File && in.Size == 0
			}})
		case "-size":
			v, ok := next()
			if !ok || len(v) < 1 {
				return e.usage("-size takes a size")
			}
			sign := 0
			if v[0] == '+' || v[0] == '-' {
				sign = map[byte]int{'+': 1, '-': -1}[v[0]]
				v = v[1:]
			}
			unit := int64(512)
			if len(v) > 0 {
				if u, ok := map[byte]int64{'c': 1, 'k': 1024, 'M': 1 << 20, 'G': 1 << 30}[v[len(v)-1]]; ok {
					unit = u
					v = v[:len(v)-1]
				}
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return e.usage("bad size %q", args[i])
			}
			tests = append(tests, findTest{neg, func(_ string, in workspace.Info, _ int) bool {
				units := (in.Size + unit - 1) / unit
				switch sign {
				case 1:
					return units > n
				case -1:
					return units < n
				}
				return units == n
			}})
		default:
			return e.usage("unknown or unsupported expression %q (supported: -name -iname -path -type -maxdepth -mindepth -empty -size -print -delete !)", a)
		}
		neg = false
	}
	if del {
		if err := e.writable(); err != nil {
			return e.fail("-delete", err)
		}
	}
	w := e.out()
	status := 0
	var toDelete []string
	for _, root := range roots {
		err := e.walk(root, maxDepth, func(display string, in workspace.Info, depth int) (bool, error) {
			if depth < minDepth {
				return true, nil
			}
			for _, t := range tests {
				if t.fn(display, in, depth) == t.neg {
					return true, nil
				}
			}
			if del {
				toDelete = append(toDelete, display)
				return true, nil
			}
			if _, err := fmt.Fprintln(w, display); err != nil {
				return false, wErr{err}
			}
			return true, nil
		})
		if err != nil {
			if isWriteErr(err) {
				return e.writeErr(err)
			}
			e.fail(root, err)
			status = 1
		}
	}
	for i := len(toDelete) - 1; i >= 0; i-- {
		if err := e.s.store.Remove(e.ctx, e.s.ws, e.path(toDelete[i]), false); err != nil {
			e.fail(toDelete[i], err)
			status = 1
		}
	}
	if err := w.Flush(); err != nil {
		return e.writeErr(err)
	}
	return status
}

func cmdMkdir(e *env, args []string) int {
	f, err := parseFlags(args, "pv", "m")
	if err != nil {
		return e.usage("%v", err)
	}
	if len(f.args) == 0 {
		return e.usage("missing operand")
	}
	if err := e.writable(); err != nil {
		return e.fail("mkdir", err)
	}
	status := 0
	for _, d := range f.args {
		if err := e.s.store.Mkdir(e.ctx, e.s.ws, e.path(d), f.has("p")); err != nil {
			if isoerr.CodeOf(err) == isoerr.Conflict && !f.has("p") {
				e.errorf("cannot create directory '%s': File exists", d)
			} else {
				e.fail(fmt.Sprintf("cannot create directory '%s'", d), err)
			}
			status = 1
		}
	}
	return status
}

func cmdRm(e *env, args []string) int {
	f, err := parseFlags(args, "rRfvdi", "")
	if err != nil {
		return e.usage("%v", err)
	}
	if f.has("i") {
		return e.usage("-i is not supported (no terminal)")
	}
	if len(f.args) == 0 && !f.has("f") {
		return e.usage("missing operand")
	}
	if err := e.writable(); err != nil {
		return e.fail("rm", err)
	}
	status := 0
	for _, n := range f.args {
		p := e.path(n)
		in, err := e.s.store.Lstat(e.ctx, e.s.ws, p)
		if err != nil {
			if !(f.has("f") && isoerr.CodeOf(err) == isoerr.NotFound) {
				e.fail(fmt.Sprintf("cannot remove '%s'", n), err)
				status = 1
			}
			continue
		}
		if in.Type == workspace.Dir && !f.has("r") && !f.has("R") && !f.has("d") {
			e.errorf("cannot remove '%s': Is a directory", n)
			status = 1
			continue
		}
		if err := e.s.store.Remove(e.ctx, e.s.ws, p, f.has("r") || f.has("R")); err != nil {
			e.fail(fmt.Sprintf("cannot remove '%s'", n), err)
			status = 1
		}
	}
	return status
}

func cmdRmdir(e *env, args []string) int {
	f, err := parseFlags(args, "p", "")
	if err != nil || len(f.args) == 0 {
		return e.usage("usage: rmdir DIR...")
	}
	if err := e.writable(); err != nil {
		return e.fail("rmdir", err)
	}
	status := 0
	for _, n := range f.args {
		in, err := e.stat(n)
		if err == nil && in.Type != workspace.Dir {
			e.errorf("failed to remove '%s': Not a directory", n)
			status = 1
			continue
		}
		if err == nil {
			err = e.s.store.Remove(e.ctx, e.s.ws, e.path(n), false)
		}
		if err != nil {
			e.fail(fmt.Sprintf("failed to remove '%s'", n), err)
			status = 1
		}
	}
	return status
}

// destination resolves cp's and mv's target: into dst when it is a directory.
func (e *env) destination(src, dst string, many bool) (string, error) {
	in, err := e.stat(dst)
	if err == nil && in.Type == workspace.Dir {
		return path.Join(e.path(dst), path.Base(e.path(src))), nil
	}
	if many {
		return "", fmt.Errorf("target '%s' is not a directory", dst)
	}
	return e.path(dst), nil
}

func cmdCp(e *env, args []string) int {
	f, err := parseFlags(args, "rRafpvnT", "")
	if err != nil {
		return e.usage("%v", err)
	}
	if len(f.args) < 2 {
		return e.usage("missing destination operand")
	}
	if err := e.writable(); err != nil {
		return e.fail("cp", err)
	}
	srcs, dst := f.args[:len(f.args)-1], f.args[len(f.args)-1]
	rec := f.has("r") || f.has("R") || f.has("a")
	status := 0
	for _, s := range srcs {
		to, err := e.destination(s, dst, len(srcs) > 1)
		if err != nil {
			return e.errorf("%v", err)
		}
		if f.has("n") {
			if _, err := e.s.store.Lstat(e.ctx, e.s.ws, to); err == nil {
				continue
			}
		}
		if in, err := e.stat(s); err == nil && in.Type == workspace.Dir && !rec {
			e.errorf("-r not specified; omitting directory '%s'", s)
			status = 1
			continue
		}
		if err := e.s.store.Copy(e.ctx, e.s.ws, e.path(s), to, rec); err != nil {
			e.fail(fmt.Sprintf("cannot copy '%s'", s), err)
			status = 1
		}
	}
	return status
}

func cmdMv(e *env, args []string) int {
	f, err := parseFlags(args, "fvnT", "")
	if err != nil {
		return e.usage("%v", err)
	}
	if len(f.args) < 2 {
		return e.usage("missing destination operand")
	}
	if err := e.writable(); err != nil {
		return e.fail("mv", err)
	}
	srcs, dst := f.args[:len(f.args)-1], f.args[len(f.args)-1]
	status := 0
	for _, s := range srcs {
		to, err := e.destination(s, dst, len(srcs) > 1)
		if err != nil {
			return e.errorf("%v", err)
		}
		if f.has("n") {
			if _, err := e.s.store.Lstat(e.ctx, e.s.ws, to); err == nil {
				continue
			}
		}
		if err := e.s.store.Rename(e.ctx, e.s.ws, e.path(s), to); err != nil {
			e.fail(fmt.Sprintf("cannot move '%s'", s), err)
			status = 1
		}
	}
	return status
}

func cmdTouch(e *env, args []string) int {
	f, err := parseFlags(args, "cam", "")
	if err != nil {
		return e.usage("%v", err)
	}
	if len(f.args) == 0 {
		return e.usage("missing file operand")
	}
	if err := e.writable(); err != nil {
		return e.fail("touch", err)
	}
	status := 0
	for _, n := range f.args {
		if _, err := e.stat(n); err != nil && f.has("c") {
			continue
		}
		if in, err := e.stat(n); err == nil && in.Type == workspace.Dir {
			continue
		}
		// An empty append creates a missing file and dates an existing one now.
		if err := e.writeFile(n, strings.NewReader(""), true); err != nil {
			e.fail(fmt.Sprintf("cannot touch '%s'", n), err)
			status = 1
		}
	}
	return status
}

func cmdLn(e *env, args []string) int {
	f, err := parseFlags(args, "sfnv", "")
	if err != nil {
		return e.usage("%v", err)
	}
	if !f.has("s") {
		return e.usage("only symbolic links are supported (ln -s)")
	}
	if len(f.args) != 2 {
		return e.usage("usage: ln -s TARGET LINK")
	}
	if err := e.writable(); err != nil {
		return e.fail("ln", err)
	}
	link := e.path(f.args[1])
	if in, err := e.stat(f.args[1]); err == nil && in.Type == workspace.Dir {
		link = path.Join(link, path.Base(f.args[0]))
	}
	if f.has("f") {
		e.s.store.Remove(e.ctx, e.s.ws, link, false)
	}
	if err := e.s.store.Symlink(e.ctx, e.s.ws, f.args[0], link); err != nil {
		return e.fail(fmt.Sprintf("failed to create symbolic link '%s'", f.args[1]), err)
	}
	return 0
}

func cmdReadlink(e *env, args []string) int {
	f, err := parseFlags(args, "fen", "")
	if err != nil || len(f.args) != 1 {
		return e.usage("usage: readlink [-f] NAME")
	}
	if f.has("f") || f.has("e") {
		in, err := e.stat(f.args[0])
		if err != nil {
			return 1
		}
		fmt.Fprintln(e.stdout, in.Path)
		return 0
	}
	t, err := e.s.store.Readlink(e.ctx, e.s.ws, e.path(f.args[0]))
	if err != nil {
		return 1
	}
	fmt.Fprintln(e.stdout, t)
	return 0
}

func cmdStat(e *env, args []string) int {
	f, err := parseFlags(args, "L", "c", "format=")
	if err != nil || len(f.args) == 0 {
		return e.usage("usage: stat [-c FORMAT] FILE...")
	}
	format, ok := f.value("c")
	if v, ok2 := f.value("format"); ok2 {
		format, ok = v, true
	}
	status := 0
	for _, n := range f.args {
		var in workspace.Info
		var err error
		if f.has("L") {
			in, err = e.stat(n)
		} else {
			in, err = e.s.store.Lstat(e.ctx, e.s.ws, e.path(n))
		}
		if err != nil {
			e.fail(fmt.Sprintf("cannot stat '%s'", n), err)
			status = 1
			continue
		}
		if !ok {
			fmt.Fprintf(e.stdout, "  File: %s\n  Size: %d\tType: %s\nModify: %s\n", n, in.Size, in.Type, in.Modified.Format("2006-01-02 15:04:05.000000000 -0700"))
			continue
		}
		r := strings.NewReplacer("%n", n, "%s", strconv.FormatInt(in.Size, 10), "%F", string(in.Type),
			"%Y", strconv.FormatInt(in.Modified.Unix(), 10), "%%", "%")
		fmt.Fprintln(e.stdout, r.Replace(format))
	}
	return status
}
