// Command isobox runs code that AI models write in sandboxes that start in well under a
// millisecond. It is a thin layer of flags over the library packages.
//
//	isobox run [flags] MAIN.js [OTHER_MODULES...]
//	isobox eval [flags] 'CODE'
//	isobox bench [--json]
//	isobox serve [--addr 127.0.0.1:8787] [--data DIR]
//	isobox workers put|get|list|rm ... / isobox invoke ID / isobox logs [-f] ID
//	isobox ws ls|cat|put|rm|grep|exec|pull|push ...
//	isobox tenants list|get|put|rm ... / isobox keys list|create|revoke|rotate ...
//	isobox version (or --version)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	// Off with the garbage collector in eval and run, from init on (see the package).
	_ "github.com/isobox/isobox/internal/shortgc"
)

const usage = `isobox runs AI-written code in fast, isolated sandboxes.

Usage:
  isobox run [flags] MAIN.js [OTHER_MODULES...]   load files as one worker and call it
  isobox run [flags] DIR                          install, bundle and call a project (package.json)
  isobox bundle [-o FILE] DIR                     print a project's bundled WorkerCode JSON
  isobox eval [flags] 'CODE'                      run a snippet, print its value as JSON
  isobox session create|list|fork|drop ...        manage sessions (eval --session NAME runs in one)
  isobox bench [--json]                           measure start-up, calls and memory
  isobox serve [flags]                            serve the HTTP API (SQLite data dir, API keys)
  isobox mcp [--codemode-config FILE]             serve isobox as an MCP server on stdio
  isobox workers put|get|list|rm ...              manage the workers stored on a server
  isobox invoke [flags] ID                        call a stored worker (fetch, or --call METHOD)
  isobox logs [-f] ID                             print or follow a stored worker's console output
  isobox ws ls|cat|put|rm|grep|exec|pull|push ... use the workspaces of a server (files, shell, tar.gz)
  isobox tenants list|get|put|rm ...              manage a server's tenants (the operator's key)
  isobox keys list|create|revoke|rotate ...       manage the API keys of a tenant (scope admin)
  isobox usage [--by day|worker] [--cost]         print a server's usage records or their cost
  isobox version (or --version)                   print the version and engine build

Run 'isobox COMMAND -h' for the flags of a command. workers, invoke, logs, ws, usage, tenants
and keys talk to the server at --server or $ISOBOX_URL (default http://127.0.0.1:8787) with
$ISOBOX_API_KEY; the operator's key acts for the tenant of --tenant or $ISOBOX_TENANT.
`

// version is set at build time with -ldflags "-X main.version=..."; when it is not, the
// module version of the build (go install ...@v1.2.3) stands in.
var version = "dev"

// buildVersion is the version that `isobox version` prints: version or the module's, with
// the VCS commit the binary was built from when the build recorded one.
func buildVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return formatVersion(version, bi)
}

func formatVersion(v string, bi *debug.BuildInfo) string {
	if bi == nil {
		return v
	}
	if mv := bi.Main.Version; v == "dev" && mv != "" && mv != "(devel)" {
		v = mv
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return v
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "-dirty"
	}
	return v + " commit " + rev
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit code: 0 success, 1 the code
// failed (an isobox error), 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "bundle":
		return cmdBundle(ctx, args[1:], stdout, stderr)
	case "eval":
		return cmdEval(ctx, args[1:], stdout, stderr)
	case "bench":
		return cmdBench(ctx, args[1:], stdout, stderr)
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "mcp":
		return cmdMCP(ctx, args[1:], stdout, stderr)
	case "workers":
		return cmdWorkers(ctx, args[1:], stdout, stderr)
	case "invoke":
		return cmdInvoke(ctx, args[1:], stdout, stderr)
	case "logs":
		return cmdLogs(ctx, args[1:], stdout, stderr)
	case "session":
		return cmdSession(ctx, args[1:], stdout, stderr)
	case "ws":
		return cmdWS(ctx, args[1:], stdout, stderr)
	case "tenants":
		return cmdTenants(ctx, args[1:], stdout, stderr)
	case "keys":
		return cmdKeys(ctx, args[1:], stdout, stderr)
	case "usage":
		return cmdUsage(ctx, args[1:], stdout, stderr)
	case "sandbox-worker": // hidden: a sandbox process of isobox serve
		return cmdSandboxWorker(stderr)
	case "version", "--version", "-version":
		return cmdVersion(stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "isobox: unknown command %q\n\n%s", args[0], usage)
	return 2
}
