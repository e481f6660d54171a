package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/bundle"
	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/codemode/config"
	"github.com/isobox/isobox/codemode/mcpconn"
	"github.com/isobox/isobox/engine"
	"github.com/isobox/isobox/internal/npm"
	"github.com/isobox/isobox/loader"
	"github.com/isobox/isobox/mcpserver"
	"github.com/isobox/isobox/workspace"
)

const mcpUsage = `Usage: isobox mcp [flags]

Serves isobox as an MCP server over stdio (stdin and stdout carry the protocol; logs go
to stderr), for Claude Desktop and other MCP clients. Tools: run_code (a JavaScript or
TypeScript snippet in a fresh sandbox) and, with --codemode-config, execute (Code Mode:
the model writes code that calls the tools of the configured MCP servers and OpenAPI
documents; see codemode/README.md for the file). With --workspace NAME, execute's code
also gets the state namespace over workspace NAME of the data directory's
workspaces.db (files, search, replace, diff, archives, exec; --workspace-readonly: only
what reads), the same store isobox serve keeps; with --data alone, execute takes a
workspace argument naming any of them.

Flags:
`

func cmdMCP(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return serveMCP(ctx, args, os.Stdin, stdout, stderr)
}

// serveMCP runs `isobox mcp` with the protocol on stdin and stdout, until stdin ends or
// ctx is done.
func serveMCP(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("codemode-config", "", "Code Mode connector file (JSON: mcpServers, openapi)")
	cacheDir := fs.String("cache-dir", "", `compilation cache directory ("off" disables; default $XDG_CACHE_HOME/isobox)`)
	npmRegistry := fs.String("npm-registry", "", "npm registry of the codemode config's modules (default $ISOBOX_NPM_REGISTRY, ~/.npmrc, "+npm.DefaultRegistry+")")
	cpuMs := fs.Int("cpu-ms", 0, "CPU per run in ms (default 1000)")
	wallMs := fs.Int("wall-ms", 0, "wall time per run in ms, tool calls included (default 60000)")
	memMB := fs.Int("memory-mb", 0, "memory per sandbox in MiB (default 128)")
	maxCalls := fs.Int("max-tool-calls", 0, "tool calls per execute run (default 100)")
	data := fs.String("data", "", "data directory whose workspaces execute may use (default with --workspace: "+defaultDataDir()+")")
	wsName := fs.String("workspace", "", "the workspace execute's state namespace works on (in --data)")
	wsReadOnly := fs.Bool("workspace-readonly", false, "with --workspace: only the state tools that read")
	fs.Usage = func() {
		fmt.Fprint(stderr, mcpUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || (*wsReadOnly && *wsName == "") {
		fs.Usage()
		return 2
	}
	var pinned *api.Binding
	if *wsName != "" {
		if err := api.CheckWorkspaceName(*wsName); err != nil {
			fmt.Fprintf(stderr, "isobox: --workspace: %v\n", err)
			return 2
		}
		pinned = &api.Binding{Workspace: *wsName, ReadOnly: *wsReadOnly}
		if *data == "" {
			*data = defaultDataDir()
		}
	}
	var store workspace.Store
	if *data != "" {
		if err := os.MkdirAll(*data, 0o700); err != nil {
			fmt.Fprintf(stderr, "isobox: %v\n", err)
			return 1
		}
		ws, err := workspace.Open(filepath.Join(*data, "workspaces.db"), workspace.Limits{})
		if err != nil {
			fmt.Fprintf(stderr, "isobox: %v\n", err)
			return 1
		}
		defer ws.Close()
		store = ws
	}
	e, err := engine.New(ctx, engine.Config{CacheDir: *cacheDir})
	if err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 1
	}
	defer e.Close(context.Background())
	l, err := loader.New(loader.Config{Engine: e, Workspaces: store})
	if err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 1
	}
	defer l.Close(context.Background())
	cs, err := openCodemode(ctx, *cfgPath, stderr, serveBundler(*npmRegistry, *cacheDir))
	if err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 1
	}
	defer cs.Close()
	s, err := mcpserver.New(mcpserver.Config{Loader: l, Connectors: cs, Version: version, Workspaces: store, Workspace: pinned,
		Limits: codemode.Limits{CPUMs: *cpuMs, WallMs: *wallMs, MemoryMB: *memMB, MaxToolCalls: *maxCalls}})
	if err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 1
	}
	if names := cs.Names(); len(names) > 0 {
		fmt.Fprintf(stderr, "isobox: mcp: serving run_code and execute over %v on stdio\n", names)
	}
	if pinned != nil {
		fmt.Fprintf(stderr, "isobox: mcp: execute works on workspace %q of %s (read-only: %v)\n", pinned.Workspace, *data, pinned.ReadOnly)
	}
	err = s.Run(ctx, &mcp.IOTransport{Reader: io.NopCloser(stdin), Writer: nopWriteCloser{stdout}})
	if err != nil && ctx.Err() == nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(stderr, "isobox: mcp: %v\n", err)
		return 1
	}
	return 0
}

// openCodemode opens the connectors of a --codemode-config file ("" for none), logging to
// stderr; b installs and bundles its modules. isobox serve takes the same flag.
func openCodemode(ctx context.Context, path string, stderr io.Writer, b *bundle.Bundler) (*codemode.Connectors, error) {
	if path == "" {
		return codemode.NewConnectors(), nil
	}
	mcpconn.Version = version
	return config.Load(ctx, path, config.Options{Log: stderr, Bundler: b})
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
