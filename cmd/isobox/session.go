package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/images"
	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/session"
)

// openSessions opens the sessions kept under the data directory (<data>/sessions).
func openSessions(ctx context.Context, dataDir, cacheDir string) (*session.Manager, func(), error) {
	if dataDir == "" {
		dataDir = defaultDataDir()
	}
	store, err := images.NewDir(filepath.Join(dataDir, "sessions"))
	if err != nil {
		return nil, nil, err
	}
	e, err := engine.New(ctx, engine.Config{CacheDir: cacheDir})
	if err != nil {
		return nil, nil, err
	}
	m, err := session.New(session.Config{Engine: e, Images: store})
	if err != nil {
		e.Close(ctx)
		return nil, nil, err
	}
	return m, func() { m.Close(ctx); e.Close(ctx) }, nil
}

// evalInSession runs `isobox eval --session NAME`: the session is resumed from the data
// directory, the code runs in the session's language, and the session's new state is
// written back before the command returns. A session that does not exist is not_found:
// `isobox session create` makes one. lang is --lang when it was given ("" when not): it
// must be the session's.
func evalInSession(ctx context.Context, name, src string, c *common, dataDir, lang string, stdout, stderr io.Writer) int {
	m, closeAll, err := openSessions(ctx, dataDir, c.cacheDir)
	if err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 1
	}
	defer closeAll()
	info, err := m.Get(ctx, name)
	if err != nil {
		return failLocal(stderr, err)
	}
	if lang != "" && lang != info.Language {
		fmt.Fprintf(stderr, "isobox: session %q is a %s session: drop --lang or give --lang %s\n", name, info.Language, info.Language)
		return 2
	}
	res, err := m.Eval(ctx, name, src, c.limits())
	if info.Language == api.LanguagePython {
		return reportPython(res, err, c, stdout, stderr)
	}
	r := &loader.Result{Result: *res}
	return report(loader.KindEval, r, err, c, stdout, stderr)
}

// cliLanguage is the language --lang names (api.LanguageJavaScript or api.LanguagePython),
// "" for any other value.
func cliLanguage(lang string) string {
	switch lang {
	case "js", "javascript", "ts", "typescript":
		return api.LanguageJavaScript
	case "python", "py":
		return api.LanguagePython
	}
	return ""
}

func cmdSession(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("session", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", "", "data directory (default $XDG_DATA_HOME/isobox)")
	cacheDir := fs.String("cache-dir", "", "compilation cache directory")
	jsonOut := fs.Bool("json", false, "print JSON")
	var lim loader.Limits
	fs.IntVar(&lim.CPUMs, "cpu-ms", 0, "create: CPU time limit of each eval in ms (default 50, max 30000)")
	fs.IntVar(&lim.WallMs, "wall-ms", 0, "create: wall-time limit of each eval in ms (default 30000)")
	fs.IntVar(&lim.MemoryMB, "memory-mb", 0, "create: memory limit of the session in MiB (default 128)")
	lang := fs.String("lang", "js", `create: the session's language, "js" (JavaScript or TypeScript) or "python"`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage:\n  isobox session create [--lang js|python] [--cpu-ms N] [--wall-ms N] [--memory-mb N] NAME\n  isobox session list\n  isobox session fork FROM TO\n  isobox session drop NAME\n\nA session keeps its globals from one `isobox eval --session NAME` to the next; it is kept\nin the data directory, written after every eval. The limits given at creation apply to\nevery eval (an eval's --cpu-ms and --wall-ms can lower them, not raise them).\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	want := map[string]int{"create": 2, "list": 1, "fork": 3, "drop": 2}
	if len(pos) == 0 || want[pos[0]] != len(pos) {
		fs.Usage()
		return 2
	}
	langSet := false
	fs.Visit(func(f *flag.Flag) { langSet = langSet || f.Name == "lang" })
	if pos[0] != "create" && (lim != (loader.Limits{}) || langSet) {
		fmt.Fprintln(stderr, "isobox: --lang, --cpu-ms, --wall-ms and --memory-mb apply to session create only")
		return 2
	}
	language := cliLanguage(*lang)
	if language == "" {
		fmt.Fprintf(stderr, "isobox: --lang must be js or python, got %q\n", *lang)
		return 2
	}
	m, closeAll, err := openSessions(ctx, *dataDir, *cacheDir)
	if err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 1
	}
	defer closeAll()
	switch pos[0] {
	case "create":
		if _, err := m.Create(ctx, pos[1], session.Options{Limits: lim, Language: language}); err != nil {
			return failLocal(stderr, err)
		}
	case "list":
		list, err := m.List(ctx)
		if err != nil {
			return failLocal(stderr, err)
		}
		if *jsonOut {
			_ = json.NewEncoder(stdout).Encode(list)
			return 0
		}
		for _, s := range list {
			fmt.Fprintln(stdout, s.Name)
		}
	case "fork":
		if _, err := m.Fork(ctx, pos[1], pos[2]); err != nil {
			return failLocal(stderr, err)
		}
	case "drop":
		if err := m.Drop(ctx, pos[1]); err != nil {
			return failLocal(stderr, err)
		}
	}
	return 0
}

// failLocal prints an error of a local command and returns exit status 1.
func failLocal(stderr io.Writer, err error) int {
	e := isoerr.As(err)
	fmt.Fprintf(stderr, "isobox: %s: %s\n", e.Code, e.Message)
	return 1
}
