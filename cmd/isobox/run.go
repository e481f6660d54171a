package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/bundle"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/engine/js"
	"github.com/isobox/isobox/internal/jsnorm"
	"github.com/isobox/isobox/internal/jsvalue"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
)

// common holds the flags that run and eval share.
type common struct {
	cpuMs, wallMs, memoryMB int
	jsonOut                 bool
	cacheDir                string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.IntVar(&c.cpuMs, "cpu-ms", 0, "CPU time limit per invocation in ms (default 50, max 30000)")
	fs.IntVar(&c.wallMs, "wall-ms", 0, "wall-time limit per invocation in ms (default 30000)")
	fs.IntVar(&c.memoryMB, "memory-mb", 0, "memory limit of the sandbox in MiB (default 128)")
	fs.BoolVar(&c.jsonOut, "json", false, "print one JSON object with the whole outcome")
	fs.StringVar(&c.cacheDir, "cache-dir", "", `compilation cache directory ("off" disables; default $XDG_CACHE_HOME/isobox)`)
}

func (c *common) limits() engine.Limits {
	return engine.Limits{
		CPU:    time.Duration(c.cpuMs) * time.Millisecond,
		Wall:   time.Duration(c.wallMs) * time.Millisecond,
		Memory: uint64(c.memoryMB) << 20,
	}
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parseInterleaved parses flags that may come before or after the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// newLoader makes the engine and loader of a one-shot command (run, eval). It skips the
// base image: making it costs more than the one sandbox such a command starts.
func newLoader(ctx context.Context, c *common) (*loader.Loader, func(), error) {
	// One sandbox per process: it starts from the base image when an earlier process kept
	// it in the cache directory (the first one makes and keeps it), else cold.
	e, err := engine.New(ctx, engine.Config{CacheDir: c.cacheDir, NoImage: c.cacheDir == "off"})
	if err != nil {
		return nil, nil, err
	}
	l, err := loader.New(loader.Config{Engine: e})
	if err != nil {
		e.Close(ctx)
		return nil, nil, err
	}
	return l, func() { l.Close(ctx); e.Close(ctx) }, nil
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	url := fs.String("url", "http://localhost/", "URL of the request given to fetch")
	method := fs.String("method", "GET", "HTTP method of the request (GET or POST, or any other)")
	body := fs.String("body", "", "request body")
	call := fs.String("call", "", "call this RPC method instead of fetch")
	callArgs := fs.String("args", "[]", "RPC arguments as a JSON array")
	var envs, headers, compat multiFlag
	fs.Var(&envs, "env", "KEY=VALUE put into the worker's env (repeatable)")
	fs.Var(&compat, "compatibility-flag", "compatibility flag of the worker, e.g. nodejs_compat for the Node.js built-ins (repeatable)")
	fs.Var(&headers, "header", "'Name: value' request header (repeatable)")
	registry := fs.String("npm-registry", "", "for a project DIR: the npm registry (default $ISOBOX_NPM_REGISTRY, .npmrc, registry.npmjs.org)")
	inline := fs.Bool("inline", false, "for a project DIR: bundle its packages into the main module (see isobox bundle)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: isobox run [flags] MAIN.js [OTHER_MODULES...]\n       isobox run [flags] MAIN.py\n       isobox run [flags] MAIN.wasm\n       isobox run [flags] DIR\n\nMAIN.wasm is a WebAssembly worker (WASI preview 1): a command (it exports _start) gets the\nrequest body on stdin and answers on stdout, a reactor's exports are --call methods.\nA DIR with a package.json is installed and bundled first (see isobox bundle); another DIR\nruns its main.py, src/main.py, entry.py or src/entry.py as a Python worker. A Python\nworker (MAIN.py) has every .py file under MAIN's folder as a module, so that it imports\nits siblings by name.\n\nLoads the files as one worker and calls its fetch handler, or an RPC method. MAIN.js (or\n.ts) is the main module; the files it imports by relative path are found on disk, and\nevery module is named by its path relative to MAIN's folder. Other files (text, data)\nmay be listed too.\n\nFlags:")
		fs.PrintDefaults()
	}
	files, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "isobox: the main module is missing: give MAIN.js (and its other modules)")
		fs.Usage()
		return 2
	}
	var code loader.WorkerCode
	if len(files) == 1 && isProject(files[0]) {
		b, err := bundleProject(ctx, files[0], *registry, c.cacheDir, bundle.Project{Inline: *inline, CompatibilityFlags: compat})
		if err != nil {
			fmt.Fprintf(stderr, "isobox: %v\n", err)
			return 1
		}
		code = loader.FromAPI(b.Code)
	} else {
		if code, err = readAnyWorker(files); err != nil {
			fmt.Fprintf(stderr, "isobox: %v\n", err)
			return 2
		}
	}
	code.Limits = &loader.Limits{CPUMs: c.cpuMs, WallMs: c.wallMs, MemoryMB: c.memoryMB}
	if len(compat) > 0 {
		code.CompatibilityFlags = compat
	}
	if len(envs) > 0 {
		code.Env = map[string]any{}
		for _, kv := range envs {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				fmt.Fprintf(stderr, "isobox: --env wants KEY=VALUE, got %q\n", kv)
				return 2
			}
			code.Env[k] = v
		}
	}
	l, closeAll, err := newLoader(ctx, &c)
	if err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 1
	}
	defer closeAll()
	stub := l.Load(code)
	defer stub.Close(ctx)

	kind := loader.KindFetch
	var res *loader.Result
	if *call != "" {
		kind = loader.KindCall
		res, err = stub.Call(ctx, *call, json.RawMessage(*callArgs))
	} else {
		var rd io.Reader
		if *body != "" {
			rd = strings.NewReader(*body)
		}
		req, rerr := http.NewRequestWithContext(ctx, strings.ToUpper(*method), *url, rd)
		if rerr != nil {
			fmt.Fprintf(stderr, "isobox: bad request: %v\n", rerr)
			return 2
		}
		for _, h := range headers {
			k, v, ok := strings.Cut(h, ":")
			if !ok {
				fmt.Fprintf(stderr, "isobox: --header wants 'Name: value', got %q\n", h)
				return 2
			}
			req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		res, err = stub.Fetch(ctx, req)
	}
	return report(kind, res, err, &c, stdout, stderr)
}

// readWorker turns files into WorkerCode: the first is the main module, the others are
// named by their path relative to its folder; the type follows the extension. The relative
// imports of every JavaScript and TypeScript module are followed on disk, recursively (by
// the engine's resolution rules, engine.ResolveCandidates), so that the files a worker
// imports need not be listed; an import that climbs out of the main module's folder is an
// error.
func readWorker(files []string) (loader.WorkerCode, error) {
	code := loader.WorkerCode{Modules: map[string]loader.Module{}}
	root := filepath.Dir(files[0])
	var queue []string
	add := func(name, file string) error {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if _, dup := code.Modules[name]; dup {
			return fmt.Errorf("two modules are named %q", name)
		}
		code.Modules[name] = loader.Module{Type: moduleType(name), Content: b}
		queue = append(queue, name)
		return nil
	}
	for i, f := range files {
		rel, err := filepath.Rel(root, f)
		if err != nil || strings.HasPrefix(rel, "..") {
			rel = filepath.Base(f)
		}
		name := filepath.ToSlash(rel)
		if err := add(name, f); err != nil {
			return code, err
		}
		if i == 0 {
			code.MainModule = name
		}
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if t := code.Modules[name].Type; t != engine.ModuleJS && t != engine.ModuleCJS {
			continue
		}
		imports, err := jsnorm.Imports(name, string(code.Modules[name].Content))
		if err != nil {
			continue // the loader reports the syntax error, with the rest of the worker
		}
		for _, imp := range imports {
			if !strings.HasPrefix(imp.Path, "./") && !strings.HasPrefix(imp.Path, "../") {
				continue // a built-in module, or a bare name the loader reports
			}
			if joined := path.Join(path.Dir(name), imp.Path); joined == ".." || strings.HasPrefix(joined, "../") {
				return code, fmt.Errorf("%s imports %q, which is outside %s (the main module's folder): isobox run loads only files under it", name, imp.Path, root)
			}
			for _, cand := range engine.ResolveCandidates(name, imp.Path) {
				if _, have := code.Modules[cand]; have {
					break
				}
				file := filepath.Join(root, filepath.FromSlash(cand))
				if st, err := os.Stat(file); err != nil || !st.Mode().IsRegular() {
					continue
				}
				if err := add(cand, file); err != nil {
					return code, err
				}
				break
			}
		}
	}
	return code, nil
}

func moduleType(name string) engine.ModuleType {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".js", ".mjs", ".ts", ".mts", ".tsx", ".jsx":
		return engine.ModuleJS
	case ".cjs", ".cts":
		return engine.ModuleCJS
	case ".json":
		return engine.ModuleJSON
	case ".txt", ".md", ".html", ".css", ".csv", ".svg", ".xml":
		return engine.ModuleText
	case ".wasm":
		return engine.ModuleWasm
	case ".py":
		return engine.ModulePy
	}
	return engine.ModuleData
}

func cmdEval(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	sessionName := fs.String("session", "", "run in this session (made by isobox session create): its variables are kept for the next eval")
	dataDir := fs.String("data", "", "data directory for sessions (default $XDG_DATA_HOME/isobox)")
	lang := fs.String("lang", "js", `language of CODE: "js" (JavaScript or TypeScript) or "python"; with --session, the session's`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: isobox eval [flags] 'CODE'\n\nRuns a snippet in a fresh sandbox (or a session's): an expression, statements (the last\nvalue is the result), an async arrow function (called), TypeScript, top-level await or\nreturn. '-' reads the code from stdin. Values JSON cannot hold print in JavaScript\nnotation (undefined, 1n, Map(1) {1 => 2}); --json gives them tagged ({\"$type\": ...}).\nWith --lang python the snippet is Python: its last expression's value is the result.\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	src := pos[0]
	if src == "-" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			fmt.Fprintf(stderr, "isobox: reading stdin: %v\n", err)
			return 2
		}
		src = string(b)
	}
	language := cliLanguage(*lang)
	if language == "" {
		fmt.Fprintf(stderr, "isobox: --lang must be js or python, got %q\n", *lang)
		return 2
	}
	if *sessionName != "" {
		// The session's language decides; --lang, when given, must agree with it.
		given := ""
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "lang" {
				given = language
			}
		})
		return evalInSession(ctx, *sessionName, src, &c, *dataDir, given, stdout, stderr)
	}
	if language == api.LanguagePython {
		return evalPython(ctx, src, &c, stdout, stderr)
	}
	src = prenormalise(src)
	l, closeAll, err := newLoader(ctx, &c)
	if err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 1
	}
	defer closeAll()
	res, err := l.Eval(ctx, src, loader.EvalOptions{Limits: c.limits()})
	return report(loader.KindEval, res, err, &c, stdout, stderr)
}

// report prints an outcome: as JSON with --json, else the body or result on stdout and the
// console output and any error on stderr.
func report(kind loader.Kind, res *loader.Result, err error, c *common, stdout, stderr io.Writer) int {
	out := loader.NewOutcome(kind, res, err)
	if c.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(out)
	} else {
		for _, l := range out.Logs {
			if l.Level == "log" || l.Level == "info" {
				fmt.Fprintln(stderr, l.Message)
			} else {
				fmt.Fprintf(stderr, "%s: %s\n", l.Level, l.Message)
			}
		}
		if err == nil {
			switch kind {
			case loader.KindFetch:
				_, _ = io.WriteString(stdout, string(res.Body))
			case loader.KindCall:
				if len(out.Result) == 0 {
					fmt.Fprintln(stdout, "undefined")
				} else {
					fmt.Fprintln(stdout, string(out.Result))
				}
			case loader.KindEval:
				text, rerr := jsvalue.Render(out.Result)
				if rerr != nil {
					text = string(out.Result)
				}
				fmt.Fprintln(stdout, text)
			}
		}
	}
	if err != nil {
		if !c.jsonOut {
			e := isoerr.As(err)
			fmt.Fprintf(stderr, "isobox: %s: %s\n", e.Code, e.Message)
			if e.Stack != "" {
				fmt.Fprintln(stderr, strings.TrimRight(e.Stack, "\n"))
			}
		}
		return 1
	}
	return 0
}

func cmdVersion(stdout io.Writer) int {
	fmt.Fprintf(stdout, "isobox %s (QuickJS-ng v0.15.1 wasm build %s)\n", buildVersion(), js.BuildID())
	return 0
}
