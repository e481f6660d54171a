package engine

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/runtime/weburl"
)

// The host-call contract: every operation the sandbox's code can ask of the host is one
// entry of hostOps (synchronous, through the glue's "call" import: host.call / host.bytes
// in runtime/js, call_host in glue.c) or of asyncOps (started with the synchronous op
// "op_start", answered later by an "op" message to the runtime's dispatcher). Each entry
// names its payload and answer; dispatch is a lookup by name, and an op that is not in the
// table is a TypeError. The tables are the single source of the contract:
//
//   - runtime/doc.go carries their text (TestHostOpsDocumented renders it and fails when
//     the package comment differs; go test ./engine -run TestHostOpsDocumented -update
//     rewrites it);
//   - TestHostCallSites checks that every host.call/host.bytes/host.startOp of runtime/js
//     and every call_host of glue.c names an entry, and that every entry is called;
//   - TestGlueNumbering checks the glue's imports and its ib_call numbering (OP_*)
//     against hostImports and glueOps.
//
// Payloads and answers are bytes (JSON unless said otherwise) so that the same contract
// can be carried over a socket between a sandbox process and its supervisor: an entry's
// capability says which ones need what only the supervisor holds.

// hostOp is one host operation.
type hostOp struct {
	name string
	// in and out describe the payload and the answer (for async ops: the resolved value).
	in, out string
	doc     string
	// capability is what the op needs beyond the sandbox's own state: "" for none (it can
	// be answered wherever the sandbox runs), else the SandboxConfig field it uses.
	capability string
	sync       func(sb *Sandbox, in []byte) ([]byte, error)             // hostOps
	async      func(sb *Sandbox, id int, payload json.RawMessage) error // asyncOps
}

// hostOps are the synchronous operations, by wire name; crypto.subtle's key operations
// (cryptoOps, engine/crypto.go), the codecs of compression streams (codecOps,
// engine/compress.go) and the WebAssembly global (wasmJSOps, engine/wasmjs.go) follow the
// table.
var hostOps = append([]hostOp{
	{name: "console", in: `JSON {"level":"log|info|warn|error|debug","message":string}`, out: "empty",
		doc: "Records one console line, within the invocation's log budget (Limits.Logs).", sync: (*Sandbox).opConsole},
	{name: "random", in: "decimal byte count, 0..65536", out: "that many random bytes",
		doc: "crypto.getRandomValues; a count out of range throws RangeError.", sync: (*Sandbox).opRandom},
	digestOp("SHA-1", sha1.New),
	digestOp("SHA-256", sha256.New),
	digestOp("SHA-384", sha512.New384),
	digestOp("SHA-512", sha512.New),
	{name: "url_parse", in: `JSON {"input":string,"base"?:string}`, out: "JSON URLRecord",
		doc: "Parses a URL (WHATWG URL standard, package runtime/weburl); a failure throws TypeError.", sync: (*Sandbox).opURLParse},
	{name: "url_set", in: `JSON {"href":string,"prop":string,"value":string}`, out: "JSON URLRecord",
		doc: "Runs one URL setter on href.", sync: (*Sandbox).opURLSet},
	{name: "timer_set", in: `JSON {"id":n,"ms":n}`, out: "empty",
		doc: "Arms one-shot timer id; it fires as a \"timer\" message ms milliseconds later.", sync: (*Sandbox).opTimerSet},
	{name: "timer_clear", in: `JSON {"id":n}`, out: "empty", doc: "Disarms timer id.", sync: (*Sandbox).opTimerClear},
	{name: "op_start", in: `JSON {"id":n,"kind":string,"payload":any}`, out: "empty",
		doc: "Starts asynchronous operation id of one of the kinds below; its outcome arrives as an \"op\" message " +
			`{"type":"op","id":n,"ok":bool,"value":any,"error":{"name","message"}}. A payload it refuses throws at once.`,
		sync: (*Sandbox).opStart},
	{name: "op_wait", in: `JSON {"timeoutMs":n} (negative: no timeout)`, out: `JSON {"id":n,"ok":bool,"value":any,"error":{"name","message"}} or empty`,
		doc: "Python's event loop: blocks until an asynchronous operation of the invocation completes and answers its outcome " +
			"(as the \"op\" message), or answers empty when timeoutMs passes. At the wall-time deadline or cancellation the guest " +
			"stops; with nothing pending and no timeout the invocation ends with no_response. Time blocked is not CPU time.",
		sync: (*Sandbox).opWait},
	{name: "op_cancel", in: `JSON {"id":n}`, out: "empty",
		doc: "Drops asynchronous operation id (AbortSignal): its context is canceled and its outcome never delivered.", sync: (*Sandbox).opCancel},
	{name: "body_end", in: `JSON {"handle":n,"error"?:string}`, out: "empty",
		doc: "Ends the streamed request body of fetch handle (the fetch's op id), or aborts it with error.", capability: "Outbound",
		sync: (*Sandbox).opBodyEnd},
	{name: "body_cancel", in: `JSON {"handle":n}`, out: "empty",
		doc: "Closes the response body of fetch handle unread.", capability: "Outbound", sync: (*Sandbox).opBodyCancel},
	{name: "body", in: "the response body's bytes", out: "empty",
		doc:  "Sets the invocation's response body; over Limits.Output it throws RangeError and the invocation ends with output_limit_exceeded.",
		sync: (*Sandbox).opBody},
	{name: "response_head", in: "JSON completion header {ok,status,statusText,headers} of a Response with a stream body", out: "empty",
		doc: "Sends the response's head to Request.Sink (only when the fetch message said \"stream\"); the body follows with response_chunk, " +
			"and the completion says \"streamed\".", sync: (*Sandbox).opResponseHead},
	{name: "response_chunk", in: "the next bytes of the response body", out: "empty",
		doc: "Writes one chunk to Request.Sink (blocking: backpressure). Past Limits.Output it throws RangeError and the invocation ends " +
			"with output_limit_exceeded; a sink that fails throws TypeError.", sync: (*Sandbox).opResponseChunk},
	{name: "complete", in: "JSON completion header {ok,code?,error?,status?,statusText?,headers?,result?}", out: "empty",
		doc: "Reports the invocation's outcome; ctx.waitUntil work may still run (\"settled\" follows).", sync: (*Sandbox).opComplete},
	{name: "complete_settled", in: "as complete", out: "empty",
		doc: "complete and settled at once: no waitUntil work is left.", sync: (*Sandbox).opCompleteSettled},
	{name: "settled", in: "empty", out: "empty", doc: "Every ctx.waitUntil promise has settled.", sync: (*Sandbox).opSettled},
	{name: "module_resolve", in: "base module name, NUL, specifier", out: "the resolved module name",
		doc:  "Resolves an import or require() against the worker's module map (glue.c's module loader and require()); a missing module throws TypeError.",
		sync: (*Sandbox).opModuleResolve},
	{name: "module_source", in: "module name", out: "ES module source text",
		doc:  "The source of a module as an ES module (glue.c's module loader); CommonJS, JSON, text and data modules are wrapped.",
		sync: (*Sandbox).opModuleSource},
	{name: "require_source", in: "module name", out: `JSON {"type":"js|cjs|json|text|data","source":string}`,
		doc: "The source of a module for require() (a data module's in base64); a missing module throws Error.", sync: (*Sandbox).opRequireSource},
	{name: "memory_limit", in: "empty", out: "decimal byte count",
		doc: "The sandbox's memory limit: node:buffer refuses, as a RangeError, an allocation that could never fit in it.", sync: (*Sandbox).opMemoryLimit},
}, slices.Concat(cryptoOps, codecOps, wasmJSOps())...)

// asyncOps are the kinds of op_start, by wire name; the filesystem operations of env
// bindings (fsOps, engine/fs.go) follow the table.
var asyncOps = append([]hostOp{
	{name: "fetch", in: `JSON {"method","url","headers":[[name,value]...],"body":base64|null,"bodyStream"?:bool,"redirect":"follow|manual|error"}`,
		out: `JSON {"status":n,"statusText","headers":[[name,value]...],"url","redirected":bool,"bodyHandle":n}`,
		doc: "Sends a request through SandboxConfig.Outbound (the egress gateway). The response body stays on the host: " +
			"read it with body_read, drop it with body_cancel (bodyHandle is the fetch's op id). With bodyStream the request body " +
			"follows through body_write and body_end. It fails with TypeError without outbound access, over Limits.SubRequests, or when the request fails.",
		capability: "Outbound", async: (*Sandbox).startFetch},
	{name: "body_read", in: `JSON {"handle":n}`, out: `JSON {"chunk":base64,"done":bool}`,
		doc:        "Reads the next chunk (at most 64 KiB) of a fetch's response body; past Limits.Output it fails with TypeError.",
		capability: "Outbound", async: (*Sandbox).startBodyRead},
	{name: "body_write", in: `JSON {"handle":n,"chunk":base64}`, out: "true",
		doc:        "Writes one chunk of a fetch's streamed request body; resolves once the transport took it (backpressure).",
		capability: "Outbound", async: (*Sandbox).startBodyWrite},
	{name: "tool", in: `JSON {"name":string,"args":any}`, out: "the tool's JSON result",
		doc: "Calls SandboxConfig.Tools (Code Mode); the tool's error rejects with its message. Calls run concurrently; " +
			"after a successful answer the invocation waits for the calls still running.",
		capability: "Tools", async: (*Sandbox).startTool},
}, fsOps...)

// hostImport is one function of the "isobox" wasm module: what the glue imports
// (engine/js/build/glue.c, IMPORT(...)).
type hostImport struct {
	name            string
	params, results []api.ValueType
	doc             string
	fn              func(sb *Sandbox, stack []uint64)
}

var i32 = api.ValueTypeI32

// hostImports are the sandbox's only imports besides WASI.
var hostImports = []hostImport{
	{name: "interrupt", results: []api.ValueType{i32},
		doc: "QuickJS's periodic poll: 1 stops the running JS uncatchably (a limit tripped, or the caller canceled).",
		fn:  func(sb *Sandbox, stack []uint64) { stack[0] = uint64(sb.interrupt()) }},
	{name: "call", params: []api.ValueType{i32, i32, i32, i32}, results: []api.ValueType{i32},
		doc: "call(op, op_len, in, in_len) runs synchronous host operation op (hostOps): n >= 0 is an answer of n bytes " +
			"waiting for take, n < 0 an error of -n-1 bytes (\"Name\\nmessage\").",
		fn: func(sb *Sandbox, stack []uint64) {
			stack[0] = uint64(uint32(sb.hostCall(uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3]))))
		}},
	{name: "take", params: []api.ValueType{i32},
		doc: "take(dst) copies the waiting answer to dst (0 drops it).",
		fn:  func(sb *Sandbox, stack []uint64) { sb.take(uint32(stack[0])) }},
}

// digestOp is the entry of one crypto.subtle.digest algorithm.
func digestOp(alg string, h func() hash.Hash) hostOp {
	return hostOp{name: "digest:" + alg, in: "the data's bytes", out: "the " + alg + " digest's bytes",
		doc: "crypto.subtle.digest(\"" + alg + "\").",
		sync: func(sb *Sandbox, in []byte) ([]byte, error) {
			d := h()
			d.Write(in)
			return d.Sum(nil), nil
		}}
}

var (
	hostOpByName  = index(hostOps)
	asyncOpByName = index(asyncOps)
)

func index(ops []hostOp) map[string]*hostOp {
	m := make(map[string]*hostOp, len(ops))
	for i := range ops {
		if m[ops[i].name] != nil {
			panic("engine: host operation " + ops[i].name + " defined twice")
		}
		m[ops[i].name] = &ops[i]
	}
	return m
}

// op runs one synchronous host operation for the guest.
func (sb *Sandbox) op(name string, in []byte) ([]byte, error) {
	if sb.inv == nil {
		return nil, typeError("host operation %q outside an invocation", name)
	}
	o := hostOpByName[name]
	if o == nil {
		if alg, ok := strings.CutPrefix(name, "digest:"); ok {
			return nil, &hostError{name: "NotSupportedError", msg: fmt.Sprintf("digest algorithm %q is not supported", alg)}
		}
		return nil, typeError("unknown host operation %q", name)
	}
	return o.sync(sb, in)
}

// opStart begins an asynchronous host operation; its result arrives on inv.opDone.
func (sb *Sandbox) opStart(in []byte) ([]byte, error) {
	var a struct {
		ID      int             `json:"id"`
		Kind    string          `json:"kind"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(in, &a); err != nil {
		return nil, typeError("op_start: %v", err)
	}
	o := asyncOpByName[a.Kind]
	if o == nil {
		return nil, typeError("unknown asynchronous operation %q", a.Kind)
	}
	return nil, o.async(sb, a.ID, a.Payload)
}

// decode unmarshals a JSON payload, as a TypeError that names the operation.
func decode(op string, in []byte, v any) error {
	if err := json.Unmarshal(in, v); err != nil {
		return typeError("%s: %v", op, err)
	}
	return nil
}

func (sb *Sandbox) opConsole(in []byte) ([]byte, error) {
	var l Log
	if err := decode("console", in, &l); err != nil {
		return nil, err
	}
	sb.log(l.Level, l.Message)
	return nil, nil
}

func (sb *Sandbox) opRandom(in []byte) ([]byte, error) {
	n, err := strconv.Atoi(string(in))
	if err != nil || n < 0 || n > 65536 {
		return nil, &hostError{name: "RangeError", msg: "random: byte count must be 0..65536"}
	}
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b, nil
}

func (sb *Sandbox) opURLParse(in []byte) ([]byte, error) {
	var a struct {
		Input string  `json:"input"`
		Base  *string `json:"base"`
	}
	if err := decode("url_parse", in, &a); err != nil {
		return nil, err
	}
	rec, err := weburl.Parse(a.Input, a.Base)
	if err != nil {
		return nil, typeError("%v", err)
	}
	return json.Marshal(rec)
}

func (sb *Sandbox) opURLSet(in []byte) ([]byte, error) {
	var a struct{ Href, Prop, Value string }
	if err := decode("url_set", in, &a); err != nil {
		return nil, err
	}
	rec, err := weburl.Set(a.Href, a.Prop, a.Value)
	if err != nil {
		return nil, typeError("%v", err)
	}
	return json.Marshal(rec)
}

func (sb *Sandbox) opTimerSet(in []byte) ([]byte, error) {
	var a struct{ ID, Ms int }
	if err := decode("timer_set", in, &a); err != nil {
		return nil, err
	}
	if sb.inv.timers == nil {
		sb.inv.timers = map[int]time.Time{}
	}
	sb.inv.timers[a.ID] = time.Now().Add(time.Duration(a.Ms) * time.Millisecond)
	return nil, nil
}

func (sb *Sandbox) opTimerClear(in []byte) ([]byte, error) {
	var a struct{ ID int }
	if err := decode("timer_clear", in, &a); err != nil {
		return nil, err
	}
	delete(sb.inv.timers, a.ID)
	return nil, nil
}

func (sb *Sandbox) opCancel(in []byte) ([]byte, error) {
	var a struct{ ID int }
	if err := decode("op_cancel", in, &a); err != nil {
		return nil, err
	}
	inv := sb.inv
	if cancel, ok := inv.ops[a.ID]; ok {
		cancel()
		delete(inv.ops, a.ID)
		delete(inv.toolOps, a.ID)
	}
	return nil, nil
}

func (sb *Sandbox) opBodyEnd(in []byte) ([]byte, error) {
	var a struct {
		Handle int
		Error  string
	}
	if err := decode("body_end", in, &a); err != nil {
		return nil, err
	}
	if w, ok := sb.inv.uploads[a.Handle]; ok {
		if a.Error != "" {
			w.CloseWithError(errors.New(a.Error))
		} else {
			w.Close()
		}
		delete(sb.inv.uploads, a.Handle)
	}
	return nil, nil
}

func (sb *Sandbox) opBodyCancel(in []byte) ([]byte, error) {
	var a struct{ Handle int }
	if err := decode("body_cancel", in, &a); err != nil {
		return nil, err
	}
	if b, ok := sb.inv.bodies[a.Handle]; ok {
		b.rc.Close()
		delete(sb.inv.bodies, a.Handle)
	}
	return nil, nil
}

func (sb *Sandbox) opBody(in []byte) ([]byte, error) {
	inv := sb.inv
	if len(in) > inv.limits.Output {
		inv.sig.overflow = isoerr.New(isoerr.OutputLimitExceeded, "the response body is %d bytes; the limit is %d", len(in), inv.limits.Output)
		return nil, &hostError{name: "RangeError", msg: inv.sig.overflow.Error()}
	}
	inv.body = append([]byte(nil), in...)
	return nil, nil
}

func (sb *Sandbox) opComplete(in []byte) ([]byte, error) {
	sb.inv.complete = append([]byte(nil), in...)
	sb.inv.settled = false
	return nil, nil
}

func (sb *Sandbox) opCompleteSettled(in []byte) ([]byte, error) {
	sb.inv.complete = append([]byte(nil), in...)
	sb.inv.settled = true
	return nil, nil
}

func (sb *Sandbox) opSettled([]byte) ([]byte, error) {
	sb.inv.settled = true
	return nil, nil
}

func (sb *Sandbox) opModuleResolve(in []byte) ([]byte, error) {
	base, spec, _ := bytes.Cut(in, []byte{0})
	name, err := sb.resolveModule(string(base), string(spec))
	if err != nil {
		return nil, typeError("%v", err)
	}
	return []byte(name), nil
}

func (sb *Sandbox) opModuleSource(in []byte) ([]byte, error) {
	src, err := sb.moduleSource(string(in))
	if err != nil {
		return nil, typeError("%v", err)
	}
	return src, nil
}

func (sb *Sandbox) opRequireSource(in []byte) ([]byte, error) {
	if src, ok := nodeRequire(string(in)); ok && sb.cfg.NodeCompat {
		return src, nil
	}
	return sb.cfg.Modules.requireSource(string(in))
}

// renderContract writes the tables as the text of runtime/doc.go's contract section.
func renderContract(w io.Writer) {
	section := func(title string, ops []hostOp) {
		fmt.Fprintf(w, "// %s\n//\n", title)
		for _, o := range ops {
			fmt.Fprintf(w, "//   - %q: %s -> %s.\n", o.name, o.in, o.out)
			text := o.doc
			if o.capability != "" {
				text += " Needs SandboxConfig." + o.capability + "."
			}
			for _, line := range wrap(text, 88) {
				fmt.Fprintf(w, "//     %s\n", line)
			}
		}
	}
	section("Synchronous operations (host.call, host.bytes): name: payload -> answer.", hostOps)
	fmt.Fprintln(w, "//")
	section("Asynchronous operations (host.startOp(kind, payload), i.e. op_start): kind: payload -> resolved value.", asyncOps)
	fmt.Fprintln(w, "//")
}

// wrap breaks text into lines of at most width bytes (longer words stay whole).
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
