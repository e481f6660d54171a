package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"mvdan.cc/sh/v3/expand"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

// env is what a command runs with.
type env struct {
	s      *session
	ctx    context.Context
	dir    string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	vars   expand.Environ
	name   string
}

// command runs with its arguments (without its name) and returns its exit status.
type command func(e *env, args []string) int

// commands are every command a script can run besides the interpreter's builtins (cd,
// echo, printf, test, read, pwd, true, false, ...). Filled by init to break the cycle
// with xargs, which runs them.
var commands map[string]command

func init() {
	commands = map[string]command{
		"ls": cmdLs, "cat": cmdCat, "head": cmdHead, "tail": cmdTail, "grep": cmdGrep,
		"egrep": cmdEgrep, "fgrep": cmdFgrep,
		"find": cmdFind, "wc": cmdWc, "sort": cmdSort, "uniq": cmdUniq, "cut": cmdCut,
		"tr": cmdTr, "sed": cmdSed, "jq": cmdJq, "mkdir": cmdMkdir, "rm": cmdRm, "rmdir": cmdRmdir,
		"cp": cmdCp, "mv": cmdMv, "touch": cmdTouch, "tee": cmdTee, "diff": cmdDiff,
		"sha256sum": cmdSha256sum, "tar": cmdTar, "gzip": cmdGzip, "gunzip": cmdGunzip,
		"zcat": cmdZcat, "xargs": cmdXargs, "basename": cmdBasename, "dirname": cmdDirname,
		"seq": cmdSeq, "yes": cmdYes, "tac": cmdTac, "ln": cmdLn, "readlink": cmdReadlink,
		"stat": cmdStat, "env": cmdEnv, "isobox-type": cmdType, "sleep": cmdSleep,
	}
}

// errorf prints "name: message" on stderr and returns status 1.
func (e *env) errorf(format string, args ...any) int {
	fmt.Fprintf(e.stderr, e.name+": "+format+"\n", args...)
	return 1
}

// usage reports a bad invocation: status 2.
func (e *env) usage(format string, args ...any) int {
	fmt.Fprintf(e.stderr, e.name+": "+format+"\n", args...)
	return 2
}

// fail reports err about name, with the workspace's message when it has one.
func (e *env) fail(name string, err error) int {
	if errors.Is(err, errOutputLimit) || e.ctx.Err() != nil {
		return 1
	}
	switch isoerr.CodeOf(err) {
	case isoerr.NotFound:
		return e.errorf("%s: No such file or directory", name)
	case "":
		return e.errorf("%s: %v", name, err)
	}
	return e.errorf("%s: %v", name, plain(err))
}

// writeErr reports a failed write to stdout: a closed pipe ends the command quietly
// with 141 (a shell's SIGPIPE), anything else is an error.
func (e *env) writeErr(err error) int {
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, errOutputLimit) || e.ctx.Err() != nil {
		return 141
	}
	return e.errorf("write error: %v", err)
}

// path is the workspace path of a command's argument.
func (e *env) path(name string) string { return wsPath(e.dir, name) }

// stat describes the entry named by a command's argument.
func (e *env) stat(name string) (workspace.Info, error) {
	info, err := e.s.store.Stat(e.ctx, e.s.ws, e.path(name))
	if err != nil && e.path(name) == "/" && isoerr.CodeOf(err) == isoerr.NotFound {
		return workspace.Info{Path: "/", Type: workspace.Dir}, nil
	}
	return info, err
}

// open opens a command's input: a file, or stdin for "-".
func (e *env) open(name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(e.stdin), nil
	}
	return e.s.openRead(e.path(name))
}

// writeFile replaces (or appends to) a file with r's content.
func (e *env) writeFile(name string, r io.Reader, appendTo bool) error {
	if e.s.opts.ReadOnly {
		return isoerr.New(isoerr.ReadOnly, "the workspace is read-only")
	}
	_, err := e.s.store.Write(e.ctx, e.s.ws, e.path(name), r, workspace.WriteOptions{Append: appendTo})
	return err
}

// writable refuses a change to a read-only workspace.
func (e *env) writable() error {
	if e.s.opts.ReadOnly {
		return isoerr.New(isoerr.ReadOnly, "the workspace is read-only")
	}
	return nil
}

// eachInput calls fn with each input (the files, or stdin when there are none); a file
// that cannot be opened is reported and makes the status 1.
func (e *env) eachInput(files []string, fn func(name string, r io.Reader) error) int {
	if len(files) == 0 {
		files = []string{"-"}
	}
	status := 0
	for _, f := range files {
		rc, err := e.open(f)
		if err != nil {
			e.fail(f, err)
			status = 1
			continue
		}
		err = fn(f, rc)
		rc.Close()
		if err != nil {
			if isWriteErr(err) {
				return e.writeErr(err)
			}
			e.fail(f, err)
			status = 1
		}
	}
	return status
}

// wErr marks an error as one of writing the output.
type wErr struct{ error }

func (w wErr) Unwrap() error { return w.error }

func isWriteErr(err error) bool {
	var w wErr
	return errors.As(err, &w)
}

// lineWriter buffers a command's stdout and tags its errors as write errors.
type lineWriter struct {
	*bufio.Writer
}

func (e *env) out() lineWriter { return lineWriter{bufio.NewWriterSize(e.stdout, 32<<10)} }

func (w lineWriter) Flush() error {
	if err := w.Writer.Flush(); err != nil {
		return wErr{err}
	}
	return nil
}

// readAll reads a command's whole input, at most maxInMemory bytes.
func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxInMemory+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInMemory {
		return nil, fmt.Errorf("input larger than %d bytes", maxInMemory)
	}
	return b, nil
}

// lines splits text into lines without their newlines (a last line without one counts).
func lines(b []byte) []string {
	s := string(b)
	if s == "" {
		return nil
	}
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n")
}

// flags is a small getopt: short options, grouped (-rn), with values attached (-n5) or
// next (-n 5), long options (--name, --name=value), and "--" ending them.
type flags struct {
	bools  map[string]bool
	values map[string][]string
	args   []string
}

func (f *flags) has(name string) bool { return f.bools[name] }

func (f *flags) value(name string) (string, bool) {
	v := f.values[name]
	if len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

func (f *flags) int(name string, def int) (int, error) {
	v, ok := f.value(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("invalid number %q for -%s", v, name)
	}
	return n, nil
}

// parseFlags parses args: boolOpts and valueOpts list the known options (one letter,
// or longer for --long ones). Options may follow operands unless strict (xargs, find).
func parseFlags(args []string, boolOpts, valueOpts string, long ...string) (*flags, error) {
	f := &flags{bools: map[string]bool{}, values: map[string][]string{}}
	isBool := func(n string) bool {
		return len(n) == 1 && strings.Contains(boolOpts, n) || slices.Contains(long, n)
	}
	isValue := func(n string) bool {
		return len(n) == 1 && strings.Contains(valueOpts, n) || slices.Contains(long, n+"=")
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			f.args = append(f.args, args[i+1:]...)
			return f, nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			switch {
			case isValue(name):
				if !hasVal {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("option --%s needs a value", name)
					}
					i++
					val = args[i]
				}
				f.values[name] = append(f.values[name], val)
			case isBool(name) && !hasVal:
				f.bools[name] = true
			default:
				return nil, fmt.Errorf("unknown option %s", a)
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				n := a[j : j+1]
				switch {
				case isBool(n):
					f.bools[n] = true
				case isValue(n):
					val := a[j+1:]
					if val == "" {
						if i+1 >= len(args) {
							return nil, fmt.Errorf("option -%s needs a value", n)
						}
						i++
						val = args[i]
					}
					f.values[n] = append(f.values[n], val)
					j = len(a)
				default:
					return nil, fmt.Errorf("unknown option -%s", n)
				}
			}
		default:
			f.args = append(f.args, a)
		}
	}
	return f, nil
}

// numericShorthand turns "-5" into "-n", "5" (head -5, tail -5).
func numericShorthand(args []string) []string {
	out := make([]string, 0, len(args)+1)
	for _, a := range args {
		if len(a) > 1 && a[0] == '-' && a[1] >= '0' && a[1] <= '9' {
			if _, err := strconv.Atoi(a[1:]); err == nil {
				out = append(out, "-n", a[1:])
				continue
			}
		}
		out = append(out, a)
	}
	return out
}
