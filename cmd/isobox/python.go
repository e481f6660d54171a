package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/loader"
)

// evalPython is isobox eval --lang python: the snippet runs in a new Python sandbox, restored
// from the Python base image kept in the cache directory (the first run makes it). The
// result is printed as JSON (None when the snippet has no value); --json prints the same
// outcome object as JavaScript's eval.
func evalPython(ctx context.Context, src string, c *common, stdout, stderr io.Writer) int {
	lim := c.limits()
	var res *engine.Result
	err := lim.Validate()
	if err == nil {
		res, err = runPython(ctx, src, c, lim)
	}
	return reportPython(res, err, c, stdout, stderr)
}

// reportPython prints the outcome of a Python snippet: as report does with --json or an
// error, else the logs on stderr and the value (None for none) on stdout.
func reportPython(res *engine.Result, err error, c *common, stdout, stderr io.Writer) int {
	if res == nil {
		res = &engine.Result{}
	}
	if c.jsonOut || err != nil {
		return report(loader.KindEval, &loader.Result{Result: *res, Cold: true}, err, c, stdout, stderr)
	}
	for _, l := range res.Logs {
		if l.Level == "log" || l.Level == "info" {
			fmt.Fprintln(stderr, l.Message)
		} else {
			fmt.Fprintf(stderr, "%s: %s\n", l.Level, l.Message)
		}
	}
	if len(res.Value) == 0 {
		fmt.Fprintln(stdout, "None")
	} else {
		fmt.Fprintln(stdout, strings.TrimSpace(string(res.Value)))
	}
	return 0
}

func runPython(ctx context.Context, src string, c *common, lim engine.Limits) (*engine.Result, error) {
	e, err := engine.New(ctx, engine.Config{CacheDir: c.cacheDir, NoImage: true})
	if err != nil {
		return nil, err
	}
	defer e.Close(ctx)
	sb, err := e.NewPythonSandbox(ctx, engine.SandboxConfig{Memory: lim.Memory})
	if err != nil {
		return nil, err
	}
	defer sb.Close(ctx)
	return sb.Eval(ctx, lim, src)
}

// readAnyWorker reads the worker that files name on the command line (isobox run, isobox
// workers put): a Python worker for a MAIN.py or a folder with a Python main module
// (readPythonWorker), else JavaScript modules (readWorker).
func readAnyWorker(files []string) (loader.WorkerCode, error) {
	if main, ok := pythonMain(files[0]); ok && len(files) == 1 {
		return readPythonWorker(main, nil)
	}
	if strings.HasSuffix(files[0], ".py") {
		return readPythonWorker(files[0], files[1:])
	}
	return readWorker(files)
}

// pythonMains are the main modules `isobox run DIR` looks for in a folder without a
// package.json, in this order (src/entry.py is the layout of Cloudflare's Python Workers).
var pythonMains = []string{"main.py", "src/main.py", "entry.py", "src/entry.py"}

// pythonMain returns the Python main module of dir, if dir is a folder that has one.
func pythonMain(dir string) (string, bool) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", false
	}
	for _, m := range pythonMains {
		p := filepath.Join(dir, filepath.FromSlash(m))
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, true
		}
	}
	return "", false
}

// Bounds on the .py files `isobox run` gathers beside a Python main module.
const (
	maxPythonFiles = 1000
	maxPythonDepth = 8
)

// readPythonWorker turns a Python main module and its folder into WorkerCode: every .py
// file under main's folder (skipping hidden folders, __pycache__, virtual environments and
// node_modules) is a module, named by its path relative to that folder, so that the main
// module imports its siblings and packages by name. Other files given (extra) are added as
// readWorker would (named relative to main's folder).
func readPythonWorker(main string, extra []string) (loader.WorkerCode, error) {
	code, err := readWorker(append([]string{main}, extra...))
	if err != nil {
		return code, err
	}
	root := filepath.Dir(main)
	n := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || name == "__pycache__" || name == "node_modules" ||
				name == "venv" || name == "site-packages" || strings.Count(rel, string(filepath.Separator)) >= maxPythonDepth) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(d.Name(), ".py") {
			return nil
		}
		name := filepath.ToSlash(rel)
		if _, have := code.Modules[name]; have {
			return nil
		}
		if n++; n > maxPythonFiles {
			return fmt.Errorf("%s has more than %d .py files: give isobox run a smaller folder", root, maxPythonFiles)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		code.Modules[name] = loader.Module{Type: engine.ModulePy, Content: b}
		return nil
	})
	return code, err
}
