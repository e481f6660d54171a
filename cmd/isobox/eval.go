package main

import (
	"unicode/utf8"

	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/jsnorm"
	"github.com/isobox/isobox/loader"
)

// prenormalise is the snippet as loader.Eval would normalise it (jsnorm.Snippet), made
// before the engine is: in a new process the engine's compilation is already under way on
// another core (internal/prestart), so esbuild's first use (~2.5 ms, most of it parsing its
// own runtime once per process) leaves the critical path. loader.Eval runs normalised code
// (ending in jsnorm.Marker) as it is. Code that does not normalise, or would no longer pass
// Eval's checks once normalised, is returned unchanged: Eval then normalises it and reports
// its error exactly as before.
func prenormalise(src string) string {
	if !utf8.ValidString(src) || len(src) > loader.MaxCodeSize {
		return src
	}
	out, err := jsnorm.Snippet(src, jsnorm.Options{Builtins: engine.BuiltinModules()})
	if err != nil || len(out) > loader.MaxCodeSize {
		return src
	}
	return out
}
