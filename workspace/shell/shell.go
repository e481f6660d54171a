// Package shell runs a POSIX shell script over a workspace: the script is interpreted in
// Go (mvdan.cc/sh), and every command it can run (ls, cat, grep, sed, jq, tar, ...) is
// implemented here over the workspace's files. It never starts a host process, never opens
// a host file and never sees the host's environment: "/" is the workspace's root.
//
//	res, err := shell.Run(ctx, store, "proj", "grep -rl TODO . | wc -l", shell.Options{})
//	fmt.Print(res.Stdout) // "12\n"
package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/workspace"
)

// Defaults of Options' zero fields.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultMaxSteps  = 1_000_000
	DefaultMaxOutput = 1 << 20
	// MaxScript is the longest script Run accepts.
	MaxScript = 256 << 10
)

// Internal bounds (RATIONALE §24 has the numbers).
const (
	maxPipes    = 64       // pipelines running at once in one run
	maxFrames   = 20_000   // Go stack frames of one goroutine: deep shell recursion
	maxVarBytes = 16 << 20 // bytes of all shell variables
	maxInMemory = 64 << 20 // input a command holds whole (sort, diff, jq, tac)
	// maxBraceWords bounds the words all brace expansions of a script (or of one eval)
	// make together.
	maxBraceWords = 1 << 16
)

// Options bound and configure one run. Zero fields take the defaults.
type Options struct {
	// Dir is the working directory inside the workspace ("/" when empty); it must exist.
	Dir string
	// Env is the environment: the script sees these variables and nothing of the host's
	// (HOME defaults to "/", PWD is Dir).
	Env map[string]string
	// Timeout bounds the wall time of the run (DefaultTimeout); the context's deadline
	// bounds it too. Past it: wall_time_exceeded.
	Timeout time.Duration
	// MaxSteps bounds the commands the run executes (builtins and function calls count):
	// the CPU budget of an interpreter in this process. Past it: cpu_limit_exceeded.
	MaxSteps int64
	// MaxOutput bounds stdout plus stderr, in bytes (DefaultMaxOutput). Past it the run
	// stops: output_limit_exceeded, with the output up to the limit in the Result.
	MaxOutput int64
	// ReadOnly refuses every write to the workspace (a read-only binding).
	ReadOnly bool
}

// Result is what a script produced. ExitCode is the script's exit status (127: command
// not found, 2: usage or syntax error); it is -1 when the run was stopped by a limit.
type Result struct {
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	ExitCode int    `json:"exitCode"`
}

// Run runs script in workspace ws of store and returns what it wrote and its exit status.
// A script that fails (a command exits nonzero, a file is missing, a quota is exceeded,
// the script does not parse) is a Result with a nonzero ExitCode, not an error.
//
// # Errors
//
// invalid_request for a bad workspace name, a missing Dir or a script longer than
// MaxScript; wall_time_exceeded, cpu_limit_exceeded and output_limit_exceeded when a
// limit stops the run (the Result then holds the output so far and ExitCode -1);
// canceled when ctx is canceled.
func Run(ctx context.Context, store workspace.Store, ws, script string, opts Options) (Result, error) {
	if len(script) > MaxScript {
		return Result{ExitCode: -1}, isoerr.New(isoerr.InvalidRequest, "the script is %d bytes; the limit is %d", len(script), MaxScript)
	}
	dir, err := workspace.Clean(opts.Dir)
	if err != nil {
		return Result{ExitCode: -1}, err
	}
	if opts.Dir != "" && !strings.HasPrefix(opts.Dir, "/") {
		dir, _ = workspace.Clean("/" + opts.Dir)
	}
	info, err := store.Stat(ctx, ws, dir)
	if err != nil && (dir != "/" || isoerr.CodeOf(err) != isoerr.NotFound) {
		return Result{ExitCode: -1}, fmt.Errorf("shell: working directory: %w", err)
	}
	if err == nil && info.Type != workspace.Dir {
		return Result{ExitCode: -1}, isoerr.New(isoerr.InvalidRequest, "working directory %s is not a directory", dir)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxSteps <= 0 {
		opts.MaxSteps = DefaultMaxSteps
	}
	if opts.MaxOutput <= 0 {
		opts.MaxOutput = DefaultMaxOutput
	}

	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	runCtx, cancelTimeout := context.WithTimeoutCause(runCtx, opts.Timeout,
		isoerr.New(isoerr.WallTimeExceeded, "the script ran past its wall-time limit of %s", opts.Timeout))
	defer cancelTimeout()

	s := &session{ctx: runCtx, stop: stop, store: store, ws: ws, opts: opts}
	out := &outLimit{max: opts.MaxOutput, stop: stop}
	stdout, stderr := &capWriter{lim: out}, &capWriter{lim: out}

	file, perr := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(script), "")
	if perr == nil {
		perr = s.check(file)
	}
	if perr != nil {
		fmt.Fprintf(stderr, "sh: %v\n", perr)
		return s.result(stdout, stderr, 2, nil)
	}

	env := map[string]string{"HOME": "/", "PATH": "/bin", "SHELL": "/bin/sh"}
	maps.Copy(env, opts.Env)
	env["PWD"] = dir
	// The interpreter makes process substitution's FIFOs in $TMPDIR on the host; check
	// refuses it, and a directory that cannot exist makes sure no FIFO is ever made.
	env["TMPDIR"] = "/proc/isobox-no-fifos"

	pairs := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		pairs = append(pairs, k+"="+env[k])
	}
	r, err := interp.New(
		interp.Env(expand.ListEnviron(pairs...)),
		func(r *interp.Runner) error { r.Dir = dir; return nil }, // interp.Dir would stat the host
		interp.StdIO(nil, stdout, stderr),
		interp.CallHandler(s.call),
		interp.ExecHandlers(func(interp.ExecHandlerFunc) interp.ExecHandlerFunc { return s.exec }),
		interp.OpenHandler(s.open),
		interp.StatHandler(s.stat),
		interp.ReadDirHandler2(s.readDir),
		interp.AccessHandler(s.access),
	)
	if err != nil {
		return Result{ExitCode: -1}, fmt.Errorf("shell: %w", err)
	}
	runErr := r.Run(runCtx, file)
	s.closeFiles(stderr)
	code := 0
	var se *shellError
	switch st, isStatus := interp.IsExitStatus(runErr); {
	case runErr == nil:
	case errors.As(context.Cause(runCtx), &se) || errors.As(runErr, &se):
		// A bound that ends the script as a shell would (deep recursion, too many
		// pipelines): its message and status, not a run error.
		fmt.Fprintf(stderr, "sh: %s\n", se.msg)
		code = se.code
	case isStatus:
		code = int(st)
	case context.Cause(runCtx) == nil:
		fmt.Fprintf(stderr, "sh: %v\n", runErr)
		code = 1
	}
	if code == 0 && s.lostWrite.Load() {
		code = 1
	}
	return s.result(stdout, stderr, code, ctx.Err())
}

// result decides which failure ends the run: a limit's typed error (the run's context
// cause), the caller's cancellation, or none.
func (s *session) result(stdout, stderr *capWriter, code int, parentErr error) (Result, error) {
	res := Result{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: code}
	cause := context.Cause(s.ctx)
	var ie *isoerr.Error
	switch {
	case errors.As(cause, &ie):
		res.ExitCode = -1
		return res, ie
	case parentErr != nil:
		res.ExitCode = -1
		return res, isoerr.New(isoerr.Canceled, "the script was canceled: %v", parentErr)
	}
	return res, nil
}

// shellError is a handler's fatal error that is the script's failure, not the run's:
// reported on stderr with an exit code.
type shellError struct {
	msg  string
	code int
}

func (e *shellError) Error() string { return e.msg }

// fail stops the whole run with se: every goroutine of the script sees it at its next
// statement.
func (s *session) fail(se *shellError) error {
	s.stop(se)
	return se
}

// session is one run's state, shared by the handlers.
type session struct {
	ctx   context.Context
	stop  context.CancelCauseFunc
	store workspace.Store
	ws    string
	opts  Options
	steps atomic.Int64

	mu    sync.Mutex
	pipes map[io.Writer]bool // pipeline write ends seen, while open
	files []*wsFile          // files opened for writing, closed at the end of the run

	// lostWrite is set when a redirection's commit failed as it closed, where no
	// command's status could report it: the script then does not exit 0.
	lostWrite atomic.Bool
	// ownRedirect holds the positions of simple commands with redirections of their own
	// (echo x > f, not a command inside { ...; } > f), seen by check.
	ownRedirect map[syntax.Pos]bool
}

// check refuses what cannot be run inside this process safely: background jobs (they
// would outlive the run), process substitution (a host FIFO) and ~user (the host's user
// database).
func (s *session) check(file *syntax.File) error {
	var err error
	braceWords := 0
	syntax.Walk(file, func(n syntax.Node) bool {
		if err != nil {
			return false
		}
		switch n := n.(type) {
		case *syntax.Stmt:
			if n.Background || n.Disown {
				err = fmt.Errorf("%s: background jobs (&) are not supported", n.Pos())
			}
			if ce, ok := n.Cmd.(*syntax.CallExpr); ok && len(n.Redirs) > 0 && len(ce.Args) > 0 {
				s.mu.Lock()
				if s.ownRedirect == nil {
					s.ownRedirect = map[syntax.Pos]bool{}
				}
				s.ownRedirect[ce.Args[0].Pos()] = true
				s.mu.Unlock()
			}
		case *syntax.ProcSubst:
			err = fmt.Errorf("%s: process substitution is not supported", n.Pos())
		case *syntax.CoprocClause:
			err = fmt.Errorf("%s: coproc is not supported", n.Pos())
		case *syntax.Word:
			if lit, ok := firstLit(n); ok && len(lit) > 1 && lit[0] == '~' && lit[1] != '/' {
				err = fmt.Errorf("%s: ~user is not supported (only ~ and ~/)", n.Pos())
			}
			// Brace expansion materialises every word at once ({1..9999}{1..9999}): bound
			// the script's total before it runs.
			w := *n
			if syntax.SplitBraces(&w) {
				if braceWords += braceCount(&w); braceWords > maxBraceWords {
					err = fmt.Errorf("%s: brace expansions would make more than %d words", n.Pos(), maxBraceWords)
				}
			}
		case *syntax.Assign:
			if n.Value != nil {
				if lit, ok := firstLit(n.Value); ok && strings.Contains(lit, ":~") && !strings.Contains(lit, ":~/") {
					err = fmt.Errorf("%s: ~user is not supported (only ~ and ~/)", n.Pos())
				}
			}
		}
		return true
	})
	return err
}

// braceCount is how many words brace expansion makes of w (its braces split).
func braceCount(w *syntax.Word) int {
	n := 1
	for _, p := range w.Parts {
		b, ok := p.(*syntax.BraceExp)
		if !ok {
			continue
		}
		c := 0
		if b.Sequence {
			c = seqCount(b.Elems)
		} else {
			for _, e := range b.Elems {
				c += braceCount(e)
			}
		}
		n = min(n*max(c, 1), maxBraceWords+1)
	}
	return n
}

// seqCount is the length of the sequence {x..y[..step]}.
func seqCount(elems []*syntax.Word) int {
	if len(elems) < 2 {
		return 1
	}
	lit := func(i int) string { return elems[i].Lit() }
	lo, err1 := strconv.Atoi(lit(0))
	hi, err2 := strconv.Atoi(lit(1))
	if err1 != nil || err2 != nil {
		if len(lit(0)) == 1 && len(lit(1)) == 1 {
			lo, hi = int(lit(0)[0]), int(lit(1)[0])
		} else {
			return 1
		}
	}
	step := 1
	if len(elems) > 2 {
		if st, err := strconv.Atoi(lit(2)); err == nil && st != 0 {
			step = max(st, -st)
		}
	}
	return min(max(hi-lo, lo-hi)/step+1, maxBraceWords+1)
}

func firstLit(w *syntax.Word) (string, bool) {
	if len(w.Parts) == 0 {
		return "", false
	}
	l, ok := w.Parts[0].(*syntax.Lit)
	if !ok {
		return "", false
	}
	return l.Value, true
}

// call runs before every simple command, builtins and function calls included: it
// counts steps, bounds recursion, pipelines and variables, and ends a pipeline's writer
// whose reader has gone (the SIGPIPE a shell would get).
func (s *session) call(ctx context.Context, args []string) ([]string, error) {
	n := s.steps.Add(1)
	if n > s.opts.MaxSteps {
		err := isoerr.New(isoerr.CPULimitExceeded, "the script ran more than %d commands", s.opts.MaxSteps)
		s.stop(err)
		return nil, err
	}
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	// One level of shell recursion adds a few dozen frames: checking every 16 commands
	// bounds the stack within a few hundred frames of maxFrames, at a sixteenth the cost.
	var pc [1]uintptr
	if n%16 == 0 && runtime.Callers(maxFrames, pc[:]) > 0 {
		return nil, s.fail(&shellError{msg: args[0] + ": maximum function nesting level exceeded", code: 2})
	}
	hc := interp.HandlerCtx(ctx)
	if brokenPipe(hc.Stdout) {
		return []string{"exit", "141"}, nil
	}
	if err := s.trackPipe(hc.Stdout); err != nil {
		return nil, err
	}
	if sb, ok := hc.Stdout.(*strings.Builder); ok && sb.Len() > maxVarBytes {
		return nil, s.substTooLarge()
	}
	{
		var total int
		hc.Env.Each(func(name string, vr expand.Variable) bool {
			total += len(name) + len(vr.Str)
			for _, v := range vr.List {
				total += 16 + len(v) // a string header and its bytes
			}
			for k, v := range vr.Map {
				total += 32 + len(k) + len(v)
			}
			return total <= maxVarBytes
		})
		if total > maxVarBytes {
			err := isoerr.New(isoerr.MemoryLimitExceeded, "the script's variables hold more than %d bytes", maxVarBytes)
			s.stop(err)
			return nil, err
		}
	}
	if refused := s.checkRuntime(hc.Dir, args); refused != nil {
		return refused, nil
	}
	switch args[0] {
	case "echo", "pwd":
		// Builtins whose own redirection is a workspace file run through exec, which
		// commits the file when they end: a refused write is then their failure. Inside a
		// compound command's redirection they stay builtins, so its output is committed
		// once, when it closes.
		s.mu.Lock()
		own := s.ownRedirect[hc.Pos]
		s.mu.Unlock()
		if own && (isWSFile(hc.Stdout) || isWSFile(hc.Stderr)) {
			return append([]string{"isobox-builtin"}, args...), nil
		}
	case "type", "hash":
		// Both look commands up in the host's PATH: answer from ours.
		return append([]string{"isobox-type"}, args[1:]...), nil
	case "command":
		if len(args) > 1 && (args[1] == "-v" || args[1] == "-V") {
			return append([]string{"isobox-type"}, args[2:]...), nil
		}
	}
	return args, nil
}

// checkRuntime applies check to the code a command parses at run time: eval's string,
// trap's action and a sourced file (run as eval of the content that was checked, so it
// cannot change in between). It returns the command to run instead when refused.
func (s *session) checkRuntime(dir string, args []string) []string {
	for len(args) > 1 && (args[0] == "builtin" || args[0] == "command" && !strings.HasPrefix(args[1], "-")) {
		args = args[1:]
	}
	var src string
	var replace []string
	switch args[0] {
	case "printf":
		// The builtin lacks precisions, "*" and %f; ours is cmdPrintf. Either formats in
		// memory before writing: a width of 10^9 would be 1 GB.
		if err := checkPrintf(args[1:]); err != nil {
			return []string{"isobox-refuse", "2", "printf: " + err.Error()}
		}
		return append([]string{"isobox-printf"}, args[1:]...)
	case "eval":
		src = strings.Join(args[1:], " ")
	case "trap":
		if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
			src = args[1]
		}
	case "source", ".":
		if len(args) != 2 {
			return []string{"isobox-refuse", "2", args[0] + ": only `" + args[0] + " FILE` is supported"}
		}
		rc, err := s.openRead(wsPath(dir, args[1]))
		if err != nil {
			return []string{"isobox-refuse", "1", args[0] + ": " + args[1] + ": " + plain(err).Error()}
		}
		b, err := io.ReadAll(io.LimitReader(rc, MaxScript+1))
		rc.Close()
		if err != nil || len(b) > MaxScript {
			return []string{"isobox-refuse", "1", args[0] + ": " + args[1] + ": not readable, or longer than the script limit"}
		}
		src, replace = string(b), []string{"eval", string(b)}
	default:
		return nil
	}
	file, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(src), "")
	if err == nil {
		err = s.check(file)
	}
	if err != nil && file != nil {
		return []string{"isobox-refuse", "2", args[0] + ": " + err.Error()}
	}
	return replace
}

// printfDirective finds printf's width and precision.
var printfDirective = regexp.MustCompile(`%[-+ #0']*(\d+|\*)?(?:\.(\d+|\*)?)?`)

// maxPrintfWidth bounds printf's widths and precisions.
const maxPrintfWidth = 1 << 20

func checkPrintf(args []string) error {
	if len(args) >= 2 && args[0] == "-v" {
		args = args[2:]
	}
	if len(args) == 0 {
		return nil
	}
	star := false
	for _, m := range printfDirective.FindAllStringSubmatch(args[0], -1) {
		for _, n := range m[1:] {
			if n == "*" {
				star = true
			} else if v, err := strconv.Atoi(n); n != "" && (err != nil || v > maxPrintfWidth) {
				return fmt.Errorf("a width or precision above %d is not supported", maxPrintfWidth)
			}
		}
	}
	if star {
		for _, a := range args[1:] {
			if v, err := strconv.Atoi(strings.TrimSpace(a)); err == nil && (v > maxPrintfWidth || v < -maxPrintfWidth) {
				return fmt.Errorf("a width or precision above %d is not supported", maxPrintfWidth)
			}
		}
	}
	return nil
}

// trackPipe counts the pipelines running at once: each pipeline's writer runs on its
// own goroutine with its own pipe, so a recursive pipeline (f() { f | f; }) is bounded
// here rather than by the host's file descriptors.
func (s *session) trackPipe(w io.Writer) error {
	if !isPipe(w) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pipes == nil {
		s.pipes = map[io.Writer]bool{}
	}
	if s.pipes[w] {
		return nil
	}
	for p := range s.pipes {
		if pipeClosed(p) {
			delete(s.pipes, p)
		}
	}
	if len(s.pipes) >= maxPipes {
		return s.fail(&shellError{msg: fmt.Sprintf("more than %d pipelines running at once", maxPipes), code: 2})
	}
	s.pipes[w] = true
	return nil
}

// exec runs one of the commands of this package; anything else is not found (no host
// process is ever started).
func (s *session) exec(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	if args[0] == "isobox-builtin" && len(args) > 1 && (args[1] == "echo" || args[1] == "pwd") {
		err := hc.Builtin(ctx, args[1:])
		if ferr := s.flushRedirects(hc, args[1]); ferr != nil && err == nil {
			err = interp.NewExitStatus(1)
		}
		return err
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(hc.Stderr, "sh: %s: command not found\n", args[0])
		return interp.NewExitStatus(127)
	}
	e := &env{s: s, ctx: s.ctx, dir: hc.Dir, stdin: hc.Stdin, stdout: hc.Stdout, stderr: hc.Stderr, vars: hc.Env, name: args[0]}
	if sb, ok := hc.Stdout.(*strings.Builder); ok {
		e.stdout = &substWriter{sb: sb, s: s}
	}
	if e.stdin == nil {
		e.stdin = strings.NewReader("")
	}
	code := cmd(e, args[1:])
	if err := s.flushRedirects(hc, args[0]); err != nil && code == 0 {
		code = 1
	}
	if code != 0 {
		return interp.NewExitStatus(uint8(code))
	}
	return nil
}

// flushRedirects commits what a command wrote to redirected files now, so a quota or
// size error is that command's failure; it reports the error on stderr and returns it.
func (s *session) flushRedirects(hc interp.HandlerContext, name string) error {
	var first error
	for _, w := range []io.Writer{hc.Stdout, hc.Stderr} {
		if f, ok := w.(*wsFile); ok {
			if err := f.flush(); err != nil {
				fmt.Fprintf(hc.Stderr, "%s: %s: %v\n", name, f.display, err)
				if first == nil {
					first = err
				}
			}
		}
	}
	return first
}

func isWSFile(w io.Writer) bool {
	_, ok := w.(*wsFile)
	return ok
}

// wsPath resolves name (absolute, or relative to dir) to a workspace path. The shell's
// "/" is the workspace's root, and ".." stops there.
func wsPath(dir, name string) string {
	if !strings.HasPrefix(name, "/") {
		name = dir + "/" + name
	}
	return path.Clean("/" + name)
}

// substWriter is a command's stdout inside $(...): the interpreter collects it in
// memory, so it gets the variables' bound.
type substWriter struct {
	sb *strings.Builder
	s  *session
}

func (w *substWriter) Write(p []byte) (int, error) {
	if w.sb.Len()+len(p) > maxVarBytes {
		return 0, w.s.substTooLarge()
	}
	return w.sb.Write(p)
}

func (s *session) substTooLarge() error {
	err := isoerr.New(isoerr.MemoryLimitExceeded, "a command substitution $(...) collected more than %d bytes", maxVarBytes)
	s.stop(err)
	return err
}

// outLimit is the output budget stdout and stderr share.
type outLimit struct {
	mu   sync.Mutex
	used int64
	max  int64
	stop context.CancelCauseFunc
}

// capWriter keeps one stream's output, within the shared budget.
type capWriter struct {
	lim *outLimit
	buf strings.Builder
}

var errOutputLimit = errors.New("output limit exceeded")

func (w *capWriter) Write(p []byte) (int, error) {
	l := w.lim
	l.mu.Lock()
	defer l.mu.Unlock()
	room := l.max - l.used
	if int64(len(p)) <= room {
		w.buf.Write(p)
		l.used += int64(len(p))
		return len(p), nil
	}
	if room > 0 {
		w.buf.Write(p[:room])
		l.used += room
	}
	l.stop(isoerr.New(isoerr.OutputLimitExceeded, "the script wrote more than %d bytes to stdout and stderr", l.max))
	return int(max(room, 0)), errOutputLimit
}

func (w *capWriter) String() string {
	w.lim.mu.Lock()
	defer w.lim.mu.Unlock()
	return w.buf.String()
}
