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
	"strings"
	"text/tabwriter"
	"time"

	"github.com/isobox/isobox/api"
	"github.com/isobox/isobox/client"
	"github.com/isobox/isobox/isoerr"
)

// remote holds the flags of the commands that talk to a running server.
type remote struct {
	server  string
	tenant  string
	jsonOut bool
}

func (r *remote) register(fs *flag.FlagSet) {
	def := os.Getenv("ISOBOX_URL")
	if def == "" {
		def = client.DefaultURL
	}
	fs.StringVar(&r.server, "server", def, "isobox server URL ($ISOBOX_URL); the API key comes from $ISOBOX_API_KEY")
	fs.StringVar(&r.tenant, "tenant", os.Getenv("ISOBOX_TENANT"), "act for this tenant ($ISOBOX_TENANT; the operator's key only, sent as the header Isobox-Tenant)")
	fs.BoolVar(&r.jsonOut, "json", false, "print JSON")
}

func (r *remote) client(stderr io.Writer) (*client.Client, bool) {
	key := os.Getenv("ISOBOX_API_KEY")
	if key == "" {
		fmt.Fprintln(stderr, "isobox: set ISOBOX_API_KEY to an API key of the server (isobox serve prints the admin key on first start)")
		return nil, false
	}
	c, err := client.New(r.server, key)
	if err != nil {
		fmt.Fprintf(stderr, "isobox: %v\n", err)
		return nil, false
	}
	return c.WithTenant(r.tenant), true
}

// fail prints an error of a remote command and returns exit status 1.
func fail(stderr io.Writer, server string, err error) int {
	var e *isoerr.Error
	if errors.As(err, &e) {
		fmt.Fprintf(stderr, "isobox: %s: %s\n", e.Code, e.Message)
		if e.Stack != "" {
			fmt.Fprintln(stderr, strings.TrimRight(e.Stack, "\n"))
		}
	} else {
		fmt.Fprintf(stderr, "isobox: cannot reach the server at %s: %v\n", server, err)
	}
	return 1
}

// parseRemote parses a remote command's flags; ok is false with the exit status to use.
func parseRemote(fs *flag.FlagSet, args []string, npos int, usage string, stderr io.Writer) ([]string, int, bool) {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0, false
		}
		return nil, 2, false
	}
	if npos >= 0 && len(pos) != npos || npos < 0 && len(pos) < -npos {
		fs.Usage()
		return nil, 2, false
	}
	return pos, 0, true
}

const workersUsage = `Usage:
  isobox workers put [flags] ID MAIN.js [OTHER_MODULES...]   store files as worker ID
  isobox workers put [flags] ID --code WORKER.json            store WorkerCode JSON ("-": stdin)
  isobox workers get ID                                       print a worker with its code
  isobox workers list                                         list the stored workers
  isobox workers rm ID                                        delete a worker
`

func cmdWorkers(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, workersUsage)
		return 2
	}
	switch args[0] {
	case "put":
		return cmdWorkersPut(ctx, args[1:], stdout, stderr)
	case "get":
		return cmdWorkersGet(ctx, args[1:], stdout, stderr)
	case "list", "ls":
		return cmdWorkersList(ctx, args[1:], stdout, stderr)
	case "rm", "delete":
		return cmdWorkersRm(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, workersUsage)
		return 0
	}
	fmt.Fprintf(stderr, "isobox: unknown workers command %q\n\n%s", args[0], workersUsage)
	return 2
}

func cmdWorkersPut(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("workers put", flag.ContinueOnError)
	var r remote
	r.register(fs)
	codeFile := fs.String("code", "", `WorkerCode JSON file ("-" for stdin) instead of module files`)
	cpuMs := fs.Int("cpu-ms", 0, "CPU time limit per invocation in ms (default 50, max 30000)")
	wallMs := fs.Int("wall-ms", 0, "wall-time limit per invocation in ms (default 30000)")
	memoryMB := fs.Int("memory-mb", 0, "memory limit of the sandbox in MiB (default 128)")
	var envs multiFlag
	fs.Var(&envs, "env", "KEY=VALUE put into the worker's env (repeatable)")
	pos, code, ok := parseRemote(fs, args, -1, "isobox workers put [flags] ID (MAIN.js [OTHER_MODULES...] | MAIN.py | DIR | --code WORKER.json)", stderr)
	if !ok {
		return code
	}
	id, files := pos[0], pos[1:]
	var wc api.WorkerCode
	switch {
	case *codeFile != "" && len(files) > 0, *codeFile == "" && len(files) == 0:
		fmt.Fprintln(stderr, "isobox: give module files or --code WORKER.json, not both")
		return 2
	case *codeFile != "":
		var b []byte
		var err error
		if *codeFile == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(*codeFile)
		}
		if err == nil {
			err = json.Unmarshal(b, &wc)
		}
		if err != nil {
			fmt.Fprintf(stderr, "isobox: --code: %v\n", err)
			return 2
		}
	default:
		lc, err := readAnyWorker(files)
		if err != nil {
			fmt.Fprintf(stderr, "isobox: %v\n", err)
			return 2
		}
		wc = lc.API()
	}
	if *cpuMs != 0 || *wallMs != 0 || *memoryMB != 0 {
		wc.Limits = &api.Limits{CPUMs: *cpuMs, WallMs: *wallMs, MemoryMB: *memoryMB}
	}
	for _, kv := range envs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			fmt.Fprintf(stderr, "isobox: --env wants KEY=VALUE, got %q\n", kv)
			return 2
		}
		if wc.Env == nil {
			wc.Env = map[string]any{}
		}
		wc.Env[k] = v
	}
	c, ok := r.client(stderr)
	if !ok {
		return 2
	}
	w, err := c.PutWorker(ctx, id, wc)
	if err != nil {
		return fail(stderr, r.server, err)
	}
	if r.jsonOut {
		printJSONLine(stdout, w)
	} else {
		fmt.Fprintf(stdout, "stored worker %s (%d bytes, %s)\n", w.ID, w.Size, w.Hash)
	}
	return 0
}

func cmdWorkersGet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("workers get", flag.ContinueOnError)
	var r remote
	r.register(fs)
	pos, code, ok := parseRemote(fs, args, 1, "isobox workers get ID", stderr)
	if !ok {
		return code
	}
	c, ok := r.client(stderr)
	if !ok {
		return 2
	}
	w, err := c.GetWorker(ctx, pos[0])
	if err != nil {
		return fail(stderr, r.server, err)
	}
	printJSON(stdout, w)
	return 0
}

func cmdWorkersList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("workers list", flag.ContinueOnError)
	var r remote
	r.register(fs)
	_, code, ok := parseRemote(fs, args, 0, "isobox workers list [--json]", stderr)
	if !ok {
		return code
	}
	c, ok := r.client(stderr)
	if !ok {
		return 2
	}
	var all []api.Worker
	for after := ""; ; {
		page, err := c.ListWorkers(ctx, client.ListOptions{After: after, Limit: 1000})
		if err != nil {
			return fail(stderr, r.server, err)
		}
		all = append(all, page.Workers...)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if r.jsonOut {
		printJSONLine(stdout, all)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSIZE\tUPDATED\tHASH")
	for _, w := range all {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.19s\n", w.ID, w.Size, w.UpdatedAt.Local().Format(time.DateTime), w.Hash)
	}
	tw.Flush()
	return 0
}

func cmdWorkersRm(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return removeOne(args, stdout, stderr, "workers rm", "isobox workers rm ID", "deleted worker",
		func(c *client.Client, id string) error { return c.DeleteWorker(ctx, id) })
}

// removeOne is a command that names one object and removes (or revokes) it: `isobox
// workers rm ID`, `tenants rm NAME`, `keys revoke ID`. It prints done and the name.
func removeOne(args []string, stdout, stderr io.Writer, name, usage, done string, remove func(c *client.Client, id string) error) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var r remote
	r.register(fs)
	pos, code, ok := parseRemote(fs, args, 1, usage, stderr)
	if !ok {
		return code
	}
	c, ok := r.client(stderr)
	if !ok {
		return 2
	}
	if err := remove(c, pos[0]); err != nil {
		return fail(stderr, r.server, err)
	}
	fmt.Fprintf(stdout, "%s %s\n", done, pos[0])
	return 0
}

func cmdInvoke(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	var r remote
	r.register(fs)
	url := fs.String("url", "http://localhost/", "URL of the request given to fetch")
	method := fs.String("method", "GET", "HTTP method of the request")
	body := fs.String("body", "", "request body")
	call := fs.String("call", "", "call this RPC method instead of fetch")
	callArgs := fs.String("args", "[]", "RPC arguments as a JSON array")
	var headers multiFlag
	fs.Var(&headers, "header", "'Name: value' request header (repeatable)")
	pos, code, ok := parseRemote(fs, args, 1, "isobox invoke [flags] ID\n\nCalls stored worker ID on the server: its fetch handler, or an RPC method with --call.\nThe body or result goes to stdout, console output to stderr (--json: the whole outcome).", stderr)
	if !ok {
		return code
	}
	c, ok := r.client(stderr)
	if !ok {
		return 2
	}
	var out *api.Outcome
	var err error
	if *call != "" {
		if !json.Valid([]byte(*callArgs)) {
			fmt.Fprintln(stderr, "isobox: --args must be a JSON array")
			return 2
		}
		out, err = c.CallJSON(ctx, pos[0], *call, json.RawMessage(*callArgs))
	} else {
		fr := api.FetchRequest{Method: strings.ToUpper(*method), URL: *url, Body: *body}
		for _, h := range headers {
			k, v, ok := strings.Cut(h, ":")
			if !ok {
				fmt.Fprintf(stderr, "isobox: --header wants 'Name: value', got %q\n", h)
				return 2
			}
			if fr.Headers == nil {
				fr.Headers = map[string]string{}
			}
			fr.Headers[http.CanonicalHeaderKey(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
		out, err = c.Fetch(ctx, pos[0], fr)
	}
	if out == nil {
		return fail(stderr, r.server, err)
	}
	if r.jsonOut {
		printJSONLine(stdout, out) // one line, as run --json prints it
		if err != nil {
			return 1
		}
		return 0
	}
	for _, l := range out.Logs {
		if l.Level == "log" || l.Level == "info" {
			fmt.Fprintln(stderr, l.Message)
		} else {
			fmt.Fprintf(stderr, "%s: %s\n", l.Level, l.Message)
		}
	}
	if err != nil {
		return fail(stderr, r.server, err)
	}
	switch {
	case *call != "" && len(out.Result) == 0:
		fmt.Fprintln(stdout, "undefined")
	case *call != "":
		fmt.Fprintln(stdout, string(out.Result))
	case out.Body != nil && out.BodyEncoding == "base64":
		fmt.Fprintln(stderr, "isobox: the body is not UTF-8; printed as base64 (use --json for the whole outcome)")
		fmt.Fprintln(stdout, *out.Body)
	case out.Body != nil:
		io.WriteString(stdout, *out.Body)
	}
	return 0
}

func cmdLogs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	var r remote
	r.register(fs)
	follow := fs.Bool("f", false, "follow: print new lines as invocations produce them, until interrupted")
	pos, code, ok := parseRemote(fs, args, 1, "isobox logs [-f] ID\n\nPrints the recent console output of stored worker ID kept by the server, or follows it.", stderr)
	if !ok {
		return code
	}
	c, ok := r.client(stderr)
	if !ok {
		return 2
	}
	print := func(e api.LogEntry) {
		if r.jsonOut {
			b, _ := json.Marshal(e)
			fmt.Fprintf(stdout, "%s\n", b)
			return
		}
		fmt.Fprintf(stdout, "%s %-5s %s\n", e.Time.Local().Format("2006-01-02T15:04:05.000"), e.Level, e.Message)
	}
	if !*follow {
		logs, err := c.Logs(ctx, pos[0], 0)
		if err != nil {
			return fail(stderr, r.server, err)
		}
		for _, e := range logs {
			print(e)
		}
		return 0
	}
	var last uint64
	for {
		stream, err := c.FollowLogs(ctx, pos[0], last)
		if err != nil {
			if ctx.Err() != nil {
				return 0
			}
			return fail(stderr, r.server, err)
		}
		for {
			e, err := stream.Next()
			if err != nil {
				break
			}
			last = e.Seq
			print(e)
		}
		stream.Close()
		if ctx.Err() != nil {
			return 0
		}
		// The server ended the stream (it shut down, or this follower fell behind).
		fmt.Fprintln(stderr, "isobox: the log stream ended; reconnecting")
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(time.Second):
		}
	}
}

// printJSONLine prints v as one line of JSON: what --json prints, for other programs.
func printJSONLine(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// printJSON prints v as indented JSON, for people (workers get).
func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
