// Package shortgc turns the garbage collector off, under a memory ceiling, in the isobox
// processes that live for one command (isobox eval and isobox run), from package
// initialisation on.
//
// Such a process allocates tens of MiB while it starts (package initialisation, decoding and
// validating QuickJS's wasm) and exits milliseconds later; collecting that garbage cost about
// a fifth of `isobox eval '1+1'` (RATIONALE §50). With the collector
// off the process's peak memory grew by about 1 MiB. The ceiling keeps a command that does
// allocate (a large result, a long script) collected as usual once the Go heap reaches it.
//
// Importing the package (blank) is the whole API. It depends on nothing that initialises
// slowly, so Go runs its init before the heavy packages of the binary (the package
// initialisation order is by import path among those whose imports are ready). An explicit
// GOGC or GOMEMLIMIT in the environment wins.
package shortgc

import (
	"os"
	"runtime/debug"
)

// Ceiling is the Go memory limit while the collector is off: above it the collector runs
// as usual.
const Ceiling = 256 << 20

func init() {
	if !ShortLived(os.Args) {
		return
	}
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(Ceiling)
	debug.SetGCPercent(-1)
}

// ShortLived reports whether the command line (os.Args) is one of the commands that run
// one piece of code and exit: eval and run.
func ShortLived(args []string) bool {
	if len(args) < 2 {
		return false
	}
	switch args[1] {
	case "eval", "run":
		return true
	}
	return false
}
