package main

import (
	"github.com/isobox/isobox/internal/confine"
	"github.com/isobox/isobox/internal/npm"

	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/isobox/isobox/egress"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/isobox/isobox/internal/sandboxproc"
	"github.com/isobox/isobox/meter"
	"github.com/isobox/isobox/server"
	"github.com/isobox/isobox/tenant/quota"
)

// sandboxWorkerCommand is one sandbox worker process of `isobox serve`: this binary again,
// as the hidden `isobox sandbox-worker`, with an empty environment (ISOBOX_API_KEY and
// whatever else the server was given stay in the server; the directories it needs come
// over the socket).
func sandboxWorkerCommand() *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, "sandbox-worker")
	cmd.Env = []string{}
	return cmd
}

// cmdSandboxWorker is the hidden `isobox sandbox-worker`: a sandbox process of `isobox
// serve`, serving its supervisor on fd 3. It ignores SIGINT and SIGTERM (a terminal's ^C
// reaches the whole process group): the supervisor ends it by closing the socket, after
// its calls have finished, or kills it.
func cmdSandboxWorker(stderr io.Writer) int {
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	// Once its engine is up, the process confines itself: no_new_privs, rlimits, Landlock
	// (read-write only under its cache and images directories), seccomp (no sockets, no
	// exec, no new processes). A layer the kernel lacks is reported, not fatal.
	hook := func(dirs []string) error {
		if len(dirs) == 0 { // no compilation cache and no images: confine to an empty folder
			d, err := os.MkdirTemp("", "isobox-worker")
			if err != nil {
				return err
			}
			dirs = []string{d}
		}
		rep, err := confine.Apply(confine.Policy{CacheDir: dirs[0], ReadWrite: dirs[1:], ReadOnly: []string{"/proc/self"}})
		if err != nil {
			return err
		}
		if missing := rep.Missing(); len(missing) > 0 {
			fmt.Fprintf(stderr, "isobox sandbox-worker: confinement layers off: %s\n", rep)
		}
		return nil
	}
	if err := sandboxproc.ServeWorkerFD(context.Background(), hook); err != nil {
		fmt.Fprintf(stderr, "isobox sandbox-worker: %v\n", err)
		return 1
	}
	return 0
}

// defaultDataDir is $XDG_DATA_HOME/isobox, or ~/.local/share/isobox.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "isobox")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "isobox")
	}
	return "isobox-data"
}

// newLogger is the server's logger: slog on w at level (debug, info, warn, error) in format
// (text, json).
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8787", "address to listen on")
	data := fs.String("data", defaultDataDir(), "data directory (SQLite database)")
	cacheDir := fs.String("cache-dir", "", `compilation cache directory ("off" disables; default $XDG_CACHE_HOME/isobox)`)
	maxBodyMB := fs.Int("max-body-mb", 32, "largest request body accepted, in MiB")
	budgetMB := fs.Int("memory-budget-mb", 1024, "memory kept by warm idle workers, in MiB (their private pages); past it the least recently used hibernate to DATA/images")
	shutdown := fs.Duration("shutdown-timeout", 30*time.Second, "how long in-flight invocations may finish after SIGINT/SIGTERM")
	codemodeConfig := fs.String("codemode-config", "", "Code Mode connector file (JSON: mcpServers, openapi) for POST /v1/codemode/execute and /mcp")
	egressFile := fs.String("egress-policy", "", "JSON egress policy for workers without a globalOutbound of their own (default: no network)")
	logLevel := fs.String("log-level", "info", "`level` of the log on stderr: debug, info, warn or error (one line per request at info; health checks and metrics scrapes at debug)")
	npmRegistry := fs.String("npm-registry", "", "npm registry of the projects PUT with files, POST /v1/bundle and the codemode config's modules (default $ISOBOX_NPM_REGISTRY, ~/.npmrc, "+npm.DefaultRegistry+")")
	logFormat := fs.String("log-format", "text", "`format` of the log on stderr: text or json")
	rings := fs.Bool("sandbox-rings", true, "carry calls to and from sandbox processes through shared-memory rings that are checked for a while before sleeping (up to 1 ms for the only call in flight; a lone call crosses in ~10–50 µs instead of ~150–250 µs); false: through their sockets")
	defaultProcs := runtime.NumCPU()
	if !confine.Implemented {
		defaultProcs = 0 // a worker process confines itself, which only Linux can do
	}
	procs := fs.Int("sandbox-processes", defaultProcs, "run sandboxes in this many supervised worker processes (no secrets, no store; killed and replaced when a call overruns its deadline); 0 runs them inside the server process. Linux only: elsewhere the default is 0")
	quotaFile := fs.String("quotas", "", "JSON quotas of every tenant without its own (concurrentInvocations, invocationsPerMinute, cpuMsPerDay, memoryMBPerSandbox, storageBytes, egressBytesPerDay, uniqueWorkersPerDay; absent: no limit)")
	quotaConcurrent := fs.Int64("quota-concurrent", 0, "concurrent invocations of every tenant without its own quotas (0: no limit; overrides --quotas)")
	quotaPerMinute := fs.Int64("quota-per-minute", 0, "invocations per minute of every tenant without its own quotas (0: no limit; overrides --quotas)")
	priceFile := fs.String("price-sheet", "", "JSON price sheet of GET /v1/usage/cost (default: Cloudflare's published Dynamic Workers prices)")
	margin := fs.Duration("watchdog-margin", 100*time.Millisecond, "how far past its wall-time limit a call in a worker process may run before the process is killed")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: isobox serve [flags]\n\nServes the HTTP API. On first start it creates an admin API key and prints it once on\nstdout (only its hash is stored); ISOBOX_API_KEY in the environment sets the admin key\ninstead. SIGINT or SIGTERM shut it down gracefully.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if *maxBodyMB < 1 {
		fmt.Fprintln(stderr, "isobox: --max-body-mb must be at least 1")
		return 2
	}
	if *procs < 0 || *procs > 1024 {
		fmt.Fprintln(stderr, "isobox: --sandbox-processes must be between 0 and 1024")
		return 2
	}
	if *procs > 0 && !confine.Implemented {
		fmt.Fprintf(stderr, "isobox: --sandbox-processes needs Linux, where a worker process can be confined (this is %s); 0 runs sandboxes in the server process\n", runtime.GOOS)
		return 2
	}
	if *margin <= 0 {
		fmt.Fprintln(stderr, "isobox: --watchdog-margin must be positive")
		return 2
	}
	if *budgetMB < 1 {
		fmt.Fprintln(stderr, "isobox: --memory-budget-mb must be at least 1")
		return 2
	}
	logger, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 2
	}
	var policy *egress.Policy
	if *egressFile != "" {
		b, err := os.ReadFile(*egressFile)
		if err == nil {
			policy, err = egress.ParsePolicy(b)
		}
		if err != nil {
			fmt.Fprintf(stderr, "isobox: --egress-policy: %v\n", err)
			return 2
		}
	}
	var quotas quota.Limits
	if *quotaFile != "" {
		if quotas, err = quota.Load(*quotaFile); err != nil {
			fmt.Fprintf(stderr, "isobox: --quotas: %v\n", err)
			return 2
		}
	}
	if *quotaConcurrent != 0 {
		quotas.Concurrent = *quotaConcurrent
	}
	if *quotaPerMinute != 0 {
		quotas.InvocationsPerMinute = *quotaPerMinute
	}
	if err := quotas.Validate(); err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 2
	}
	var prices *meter.PriceSheet
	if *priceFile != "" {
		p, err := meter.LoadPriceSheet(*priceFile)
		if err != nil {
			fmt.Fprintf(stderr, "isobox: --price-sheet: %v\n", err)
			return 2
		}
		prices = &p
	}
	bundler := serveBundler(*npmRegistry, *cacheDir)
	cs, err := openCodemode(ctx, *codemodeConfig, stderr, bundler)
	if err != nil {
		fmt.Fprintf(stderr, "isobox: --codemode-config: %v\n", err)
		return 1
	}
	defer cs.Close()
	s, err := server.New(server.Config{
		Codemode:        cs,
		EgressPolicy:    policy,
		Addr:            *addr,
		DataDir:         *data,
		CacheDir:        *cacheDir,
		AdminKey:        os.Getenv("ISOBOX_API_KEY"),
		MaxBodyBytes:    int64(*maxBodyMB) << 20,
		MemoryBudget:    uint64(*budgetMB) << 20,
		ShutdownTimeout: *shutdown,
		Logger:          logger,

		SandboxProcesses:  *procs,
		SandboxSocketOnly: !*rings,
		SandboxCommand:    sandboxWorkerCommand,
		WatchdogMargin:    *margin,
		Bundler:           bundler,
		Quotas:            quotas,
		PriceSheet:        prices,
	})
	if err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		s.Shutdown(ctx)
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 1
	}
	if key := s.NewAdminKey(); key != "" {
		fmt.Fprintln(stderr, "isobox: created the admin API key. It is printed once, on stdout; only its hash is kept.")
		fmt.Fprintln(stdout, key)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		fmt.Fprintln(stderr, "isobox: warning: listening beyond loopback without TLS; API keys cross the network in clear. Put a TLS proxy in front.")
	}
	fmt.Fprintf(stderr, "isobox: serving the HTTP API on http://%s (data in %s)\n", ln.Addr(), *data)
	if err := s.Serve(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return 1
	}
	fmt.Fprintln(stderr, "isobox: stopped")
	return 0
}
