package main

import (
	"context"
	"fmt"
	"io"
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
