// Package runtime is the Workers API that runs inside every JavaScript sandbox: the JS
// sources under js/ (embedded, concatenated in file-name order into one bootstrap script) and
// the host side of the operations those sources call.
//
// # The contract between the JS sources and the host
//
// All files in js/ share one function scope, wrapped as
//
//	(function () { "use strict"; <00_host.js> <10_...js> ... <90_worker.js> })();
//
// so a const declared in one file is visible in later ones, and nothing leaks to globalThis
// unless a file assigns it there. 00_host.js defines `host`, the only door out:
//
//	host.call(op, payload)   sync op, payload string|ArrayBuffer|view, returns a string
//	host.bytes(op, payload)  sync op returning an ArrayBuffer
//	host.startOp(kind, obj)  async op; returns {id, promise}; promise resolves to JSON value
//	host.cancelOp(id)        drop an async op (AbortSignal)
//	host.setTimer(ms, fn) / host.clearTimer(id)   one-shot host timers
//
// The host sends the runtime's dispatcher (90_worker.js) one JSON message per event:
// "load", "fetch", "call", "eval" start an invocation; "timer" {"id"} fires a timer and "op"
// {"id","ok","value","error"} settles an asynchronous operation. A "fetch", "call" or
// "eval" most often comes as a record instead, its fields joined by U+001F
// (engine/message.go).
//
// # Host operations
//
// Every operation is an entry of one table in package engine (engine/hostcall.go), which
// dispatches by name; an op that is not in it throws TypeError. The op name is always a
// string literal at the call site (a test checks every host.call, host.bytes and
// host.startOp of js/, and every call_host of engine/js/build/glue.c, against the table).
// The text between the two lines below is generated from the table (go test ./engine -run
// TestHostOpsDocumented -update); a test fails when it differs.
//
// ---- generated from engine.hostOps and engine.asyncOps ----
// Synchronous operations (host.call, host.bytes): name: payload -> answer.
//
//   - "console": JSON {"level":"log|info|warn|error|debug","message":string} -> empty.
//     Records one console line, within the invocation's log budget (Limits.Logs).
//   - "random": decimal byte count, 0..65536 -> that many random bytes.
//     crypto.getRandomValues; a count out of range throws RangeError.
//   - "digest:SHA-1": the data's bytes -> the SHA-1 digest's bytes.
//     crypto.subtle.digest("SHA-1").
//   - "digest:SHA-256": the data's bytes -> the SHA-256 digest's bytes.
//     crypto.subtle.digest("SHA-256").
//   - "digest:SHA-384": the data's bytes -> the SHA-384 digest's bytes.
//     crypto.subtle.digest("SHA-384").
//   - "digest:SHA-512": the data's bytes -> the SHA-512 digest's bytes.
//     crypto.subtle.digest("SHA-512").
//   - "url_parse": JSON {"input":string,"base"?:string} -> JSON URLRecord.
//     Parses a URL (WHATWG URL standard, package runtime/weburl); a failure throws TypeError.
//   - "url_set": JSON {"href":string,"prop":string,"value":string} -> JSON URLRecord.
//     Runs one URL setter on href.
//   - "timer_set": JSON {"id":n,"ms":n} -> empty.
//     Arms one-shot timer id; it fires as a "timer" message ms milliseconds later.
//   - "timer_clear": JSON {"id":n} -> empty.
//     Disarms timer id.
//   - "op_start": JSON {"id":n,"kind":string,"payload":any} -> empty.
//     Starts asynchronous operation id of one of the kinds below; its outcome arrives as an
//     "op" message {"type":"op","id":n,"ok":bool,"value":any,"error":{"name","message"}}. A
//     payload it refuses throws at once.
//   - "op_wait": JSON {"timeoutMs":n} (negative: no timeout) -> JSON {"id":n,"ok":bool,"value":any,"error":{"name","message"}} or empty.
//     Python's event loop: blocks until an asynchronous operation of the invocation completes
//     and answers its outcome (as the "op" message), or answers empty when timeoutMs passes.
//     At the wall-time deadline or cancellation the guest stops; with nothing pending and no
//     timeout the invocation ends with no_response. Time blocked is not CPU time.
//   - "op_cancel": JSON {"id":n} -> empty.
//     Drops asynchronous operation id (AbortSignal): its context is canceled and its outcome
//     never delivered.
//   - "body_end": JSON {"handle":n,"error"?:string} -> empty.
//     Ends the streamed request body of fetch handle (the fetch's op id), or aborts it with
//     error. Needs SandboxConfig.Outbound.
//   - "body_cancel": JSON {"handle":n} -> empty.
//     Closes the response body of fetch handle unread. Needs SandboxConfig.Outbound.
//   - "body": the response body's bytes -> empty.
//     Sets the invocation's response body; over Limits.Output it throws RangeError and the
//     invocation ends with output_limit_exceeded.
//   - "response_head": JSON completion header {ok,status,statusText,headers} of a Response with a stream body -> empty.
//     Sends the response's head to Request.Sink (only when the fetch message said "stream");
//     the body follows with response_chunk, and the completion says "streamed".
//   - "response_chunk": the next bytes of the response body -> empty.
//     Writes one chunk to Request.Sink (blocking: backpressure). Past Limits.Output it throws
//     RangeError and the invocation ends with output_limit_exceeded; a sink that fails throws
//     TypeError.
//   - "complete": JSON completion header {ok,code?,error?,status?,statusText?,headers?,result?} -> empty.
//     Reports the invocation's outcome; ctx.waitUntil work may still run ("settled" follows).
//   - "complete_settled": as complete -> empty.
//     complete and settled at once: no waitUntil work is left.
//   - "settled": empty -> empty.
//     Every ctx.waitUntil promise has settled.
//   - "module_resolve": base module name, NUL, specifier -> the resolved module name.
//     Resolves an import or require() against the worker's module map (glue.c's module loader
//     and require()); a missing module throws TypeError.
//   - "module_source": module name -> ES module source text.
//     The source of a module as an ES module (glue.c's module loader); CommonJS, JSON, text
//     and data modules are wrapped.
//   - "require_source": module name -> JSON {"type":"js|cjs|json|text|data","source":string}.
//     The source of a module for require() (a data module's in base64); a missing module
//     throws Error.
//   - "memory_limit": empty -> decimal byte count.
//     The sandbox's memory limit: node:buffer refuses, as a RangeError, an allocation that
//     could never fit in it.
//   - "crypto_import": JSON {"format":"raw|pkcs8|spki|jwk","algorithm":{...},"extractable":bool,"usages":[...],"data":base64|JWK} -> JSON CryptoKey description {"handle","type","extractable","algorithm","usages"}.
//     crypto.subtle.importKey: parses the key into the sandbox's key table (DataError for
//     malformed key data, NotSupportedError for an unsupported algorithm or format,
//     SyntaxError for bad usages).
//   - "crypto_generate": JSON {"algorithm":{...},"extractable":bool,"usages":[...]} -> JSON a CryptoKey description, or {"publicKey":...,"privateKey":...}.
//     crypto.subtle.generateKey; RSA moduli are 1024..4096 bits with publicExponent 65537.
//   - "crypto_export": JSON {"handle":n,"format":"raw|pkcs8|spki|jwk"} -> JSON {"data":base64} or {"jwk":{...}}.
//     crypto.subtle.exportKey; a non-extractable key is InvalidAccessError.
//   - "crypto_free": JSON {"handle":n} -> empty.
//     Drops a key from the table (its CryptoKey was garbage collected).
//   - "crypto_run": JSON {"op":"sign|verify|encrypt|decrypt|wrapKey|unwrapKey|deriveBits|deriveKey","handle":n,"algorithm":{...},"data"?:base64,"signature"?:base64,"length"?:n} -> the result's bytes (verify: one byte, 1 for valid).
//     Runs one key operation; the key must hold the usage (InvalidAccessError) and suit the
//     algorithm. PBKDF2 runs at most 10000000 iterations and stops when a CPU or wall limit
//     trips.
//   - "crypto_equal": 4-byte big-endian length of a, a, b -> one byte, 1 when a and b are equal.
//     crypto.subtle.timingSafeEqual: a constant-time comparison (lengths must match:
//     TypeError).
//   - "codec_open": JSON {"format":"gzip|deflate|deflate-raw","mode":"compress|decompress"} -> decimal codec handle.
//     Opens a compressor or decompressor for the invocation (at most 16 open at once:
//     RangeError beyond).
//   - "codec_write": the handle (4 bytes, little-endian), then a chunk of input -> a flag byte (1: more output is waiting, call again with no input), then output bytes.
//     Feeds a chunk to a codec and answers the output it produced, at most 256 KiB at once for
//     a decompressor. Corrupt input throws TypeError; decompressed output past the sandbox's
//     memory limit in total (per invocation) throws RangeError.
//   - "codec_finish": the handle (4 bytes, little-endian) -> as codec_write.
//     Ends a codec's input: a compressor's last bytes, or a decompressor's check that its
//     input was complete (truncated input throws TypeError).
//   - "codec_close": JSON {"handle":n} -> empty.
//     Closes a codec (a canceled or finished stream).
//   - "wasm_compile": the module's bytes -> JSON {"handle":n,"imports":[{"module","name","kind"}],"exports":[{"name","kind"}]}.
//     Compiles a WebAssembly module (WebAssembly.compile, new WebAssembly.Module):
//     CompileError for invalid bytes, a component, a table without a maximum or over 1048576
//     elements, or more than 16 MiB; RangeError past 256 modules held at once.
//   - "wasm_module": a module name of the worker's module map (a wasm module) -> as wasm_compile.
//     The WebAssembly.Module of a wasm module of the module map (import mod from
//     "./lib.wasm").
//   - "wasm_validate": the module's bytes -> "1" or "0".
//     WebAssembly.validate: whether the bytes compile (the compiled module is kept in the
//     engine's table).
//   - "wasm_release": JSON {"module"?:n,"instance"?:n,"global"?:n,"table"?:n} -> empty.
//     Drops a module or instance handle the guest no longer reaches (FinalizationRegistry); an
//     instance's memory is given back.
//   - "wasm_instantiate": decimal module handle, or JSON {"module":n,"globals":[{"bits":"decimal"} or {"cell":n} or {"instance":n,"name":s}],"memory"?:{"pages":n,"maximum"?:n} or {"instance":n} (that instance's memory, shared),"tables"?:[{"cell":n} or {"instance":n,"name":s}]} -> decimal instance handle (its exported functions are numbered from 1 in the module's export order).
//     Instantiates a module in the host, running its start function under the invocation's CPU
//     and wall-time limits. The imported functions are the JavaScript functions the guest
//     registered ("wasm_import" messages); LinkError for a module importing a tag or a global
//     of type v128; RangeError past 64 instances held at once; memory_limit_exceeded when its
//     initial memory does not fit in what is left of the sandbox's memory limit.
//   - "wasm_call": u32 instance, u32 fn, u32 sync, u32 argument count, the arguments (u64 each, wasm bit patterns) -> u32 result count, then the results (u64 each); with sync: empty.
//     Calls an exported function under the invocation's CPU and wall-time limits (exceeding
//     one ends the invocation). With sync the call waits for wasm_call_memory. A trap throws
//     RuntimeError; a memory growth past the sandbox's limit ends the invocation with
//     memory_limit_exceeded.
//   - "wasm_call_memory": the bytes of the instance's memory as JavaScript sees it (Memory.buffer) -> as wasm_call, then the memory's size (u32) and the runs of it the call changed (u32 offset, u32 length, bytes).
//     Runs the synced wasm_call just made: the bytes are written into the instance's memory
//     before the call, and what the call changed comes back after it (Memory.buffer's
//     copy-in/copy-out).
//   - "wasm_import_return": a flag byte (1: the import threw), then the results (u64 each, wasm bit patterns) -> empty.
//     The answer of a JavaScript import to the "wasm_import" message
//     {"type":"wasm_import","instance":n,"index":n,"args":[decimal u64 bits]} that the host
//     sends, re-entrantly, when an instance calls import index of its module.
//   - "wasm_memory_pull": decimal instance handle -> as the end of wasm_call_memory's answer: the memory's size and the runs JavaScript's copy lacks.
//     A JavaScript import's entry while the memory's buffer is in use: the copy catches up
//     with the running call.
//   - "wasm_memory_push": JavaScript's copy of the memory -> empty.
//     A JavaScript import's return while the memory's buffer is in use: what the import
//     changed in the copy goes into the memory of the instance whose import it is.
//   - "wasm_memory_read": decimal instance handle -> the bytes of its memory.
//     A copy of an instance's memory (Memory.buffer).
//   - "wasm_memory_write": u32 instance, then bytes -> empty.
//     Writes bytes over the start of an instance's memory (Memory.buffer's copy-in before
//     grow).
//   - "wasm_memory_grow": JSON {"instance":n,"delta":n} -> decimal previous size in pages.
//     Memory.prototype.grow: RangeError past the memory's maximum or the sandbox's memory
//     limit.
//   - "wasm_global_cell": JSON {"type":letter,"bits":"decimal u64 bits"} -> decimal global handle.
//     Moves a mutable WebAssembly.Global made in JavaScript into the host when an instance
//     first imports it, so that instances and JavaScript share it (wasm_global with "cell");
//     RangeError past 1024 held at once, given back with wasm_release's "global".
//   - "wasm_table": JSON {"instance":n,"name":string or "cell":n,"op":"size"|"grow"|"get"|"set","index"?:n,"delta"?:n,"ref"?:"decimal handle"} -> r (externref table) or f (funcref table), then a decimal: the size, grow's previous size, get's element (a value's or function's handle, 0 for null).
//     A table from JavaScript (Table.prototype.length/get/set/grow): an instance's exported
//     table or a table cell, through an accessor module importing it; RangeError past the
//     table's bounds or maximum.
//   - "wasm_func_call": JSON {"handle":n,"args":[{"n":"f64 bits"} or {"b":"i64 decimal"}]} -> the result types' letters, then each result as ,decimal bits.
//     Calls a function by handle (one a table, a result or a global gave JavaScript) under the
//     invocation's limits: its module's function types are tried, through call_indirect, until
//     one matches; TypeError when none takes the arguments.
//   - "wasm_func_export": JSON {"instance":n,"name":string} -> decimal function handle.
//     The handle of an instance's exported function, for giving it to wasm (a funcref table,
//     parameter or global); its instance is then kept until the sandbox closes.
//   - "wasm_func_info": decimal function handle -> decimal instance handle, then ,"export name" (JSON string; empty when not an export).
//     What a function handle is: the instance whose function it is and, if it is one, the
//     export's name.
//   - "wasm_table_cell": JSON {"element":"r"|"a","maximum"?:n,"elements":["decimal handle"...]} -> decimal table handle.
//     Moves a WebAssembly.Table made in JavaScript into the host when an instance first
//     imports it, so that instances and JavaScript share it (wasm_table with "cell"); at most
//     1048576 elements, 256 tables held at once (RangeError).
//   - "wasm_memory_stage": the bytes of a WebAssembly.Memory made in JavaScript -> empty.
//     Stages the contents of the memory the next wasm_instantiate imports (its "memory":
//     {"pages","maximum"?}); that instantiation takes them.
//   - "wasm_custom_sections": JSON {"module":n,"name":string} -> u32 count, then each section's u32 length and bytes.
//     WebAssembly.Module.customSections: the contents of the module's custom sections of that
//     name, in their order.
//   - "wasm_global": JSON {"instance":n,"name":string,"set"?:"decimal u64 bits"} or {"cell":n,...} -> type letter (i, I, f, F, r externref, a funcref, v v128), 1 if mutable else 0, then the decimal u64 bits.
//     Reads (or sets, when mutable) an exported global; the answer describes it and gives its
//     value's bit pattern.
//
// Asynchronous operations (host.startOp(kind, payload), i.e. op_start): kind: payload -> resolved value.
//
//   - "fetch": JSON {"method","url","headers":[[name,value]...],"body":base64|null,"bodyStream"?:bool,"redirect":"follow|manual|error"} -> JSON {"status":n,"statusText","headers":[[name,value]...],"url","redirected":bool,"bodyHandle":n}.
//     Sends a request through SandboxConfig.Outbound (the egress gateway). The response body
//     stays on the host: read it with body_read, drop it with body_cancel (bodyHandle is the
//     fetch's op id). With bodyStream the request body follows through body_write and
//     body_end. It fails with TypeError without outbound access, over Limits.SubRequests, or
//     when the request fails. Needs SandboxConfig.Outbound.
//   - "body_read": JSON {"handle":n} -> JSON {"chunk":base64,"done":bool}.
//     Reads the next chunk (at most 64 KiB) of a fetch's response body; past Limits.Output it
//     fails with TypeError. Needs SandboxConfig.Outbound.
//   - "body_write": JSON {"handle":n,"chunk":base64} -> true.
//     Writes one chunk of a fetch's streamed request body; resolves once the transport took it
//     (backpressure). Needs SandboxConfig.Outbound.
//   - "tool": JSON {"name":string,"args":any} -> the tool's JSON result.
//     Calls SandboxConfig.Tools (Code Mode); the tool's error rejects with its message. Calls
//     run concurrently; after a successful answer the invocation waits for the calls still
//     running. Needs SandboxConfig.Tools.
//   - "fs_read": JSON {"binding":string,"path":string,"encoding":"utf8|bytes","offset"?:number,"length"?:number,"ifMatch"?:string} -> JSON {"data":string (bytes: base64),"etag":string,"size"?:number}.
//     Reads a whole file (readFile; at most 32 MiB at once), or with offset and length
//     (encoding bytes) at most length bytes from offset and the file's size (readFile with
//     stream: true); ifMatch: only while the file has that etag. Rejects with Error "code:
//     message" (isoerr codes: not_found, invalid_request, conflict, precondition_failed,
//     quota_exceeded, file_too_large, read_only). Needs SandboxConfig.FS.
//   - "fs_write": JSON {"binding":string,"path":string,"data":string,"base64"?:bool,"append"?:bool,"ifMatch"?:string,"ifNoneMatch"?:"*"} -> JSON FileInfo.
//     Writes (or appends to) a file, creating its parent directories; ifMatch/ifNoneMatch make
//     it conditional. Rejects with Error "code: message" (isoerr codes: not_found,
//     invalid_request, conflict, precondition_failed, quota_exceeded, file_too_large,
//     read_only). Needs SandboxConfig.FS.
//   - "fs_upload": JSON {"binding":string,"action":"open|write|commit|abort","path"?:string,"append"?:bool,"ifMatch"?:string,"ifNoneMatch"?:"*","upload"?:string,"data"?:string (base64)} -> JSON open: {"upload":string}; write, abort: null; commit: FileInfo.
//     A streamed write (writeFile of a ReadableStream): open returns a host-owned handle, each
//     write hands it a chunk of at most 8 MiB, commit makes the content the file's atomically;
//     abort, a failure or a minute idle leaves nothing. Rejects with Error "code: message"
//     (isoerr codes: not_found, invalid_request, conflict, precondition_failed,
//     quota_exceeded, file_too_large, read_only). Needs SandboxConfig.FS.
//   - "fs_stat": JSON {"binding":string,"path":string,"lstat"?:bool} -> JSON FileInfo or null when missing.
//     Describes an entry {path,name,type,size,etag,target,createdAt,updatedAt}. Rejects with
//     Error "code: message" (isoerr codes: not_found, invalid_request, conflict,
//     precondition_failed, quota_exceeded, file_too_large, read_only). Needs SandboxConfig.FS.
//   - "fs_readdir": JSON {"binding":string,"path":string} -> JSON [FileInfo...].
//     Lists a directory in name order. Rejects with Error "code: message" (isoerr codes:
//     not_found, invalid_request, conflict, precondition_failed, quota_exceeded,
//     file_too_large, read_only). Needs SandboxConfig.FS.
//   - "fs_mkdir": JSON {"binding":string,"path":string,"recursive"?:bool} -> null.
//     Creates a directory (recursive: with its parents, and no error if it exists). Rejects
//     with Error "code: message" (isoerr codes: not_found, invalid_request, conflict,
//     precondition_failed, quota_exceeded, file_too_large, read_only). Needs SandboxConfig.FS.
//   - "fs_rm": JSON {"binding":string,"path":string,"recursive"?:bool,"force"?:bool,"ifMatch"?:string} -> null.
//     Removes an entry (recursive: a directory with its contents; force: no error when
//     missing; ifMatch: only if the file still has that etag, else precondition_failed and
//     nothing removed). Rejects with Error "code: message" (isoerr codes: not_found,
//     invalid_request, conflict, precondition_failed, quota_exceeded, file_too_large,
//     read_only). Needs SandboxConfig.FS.
//   - "fs_mv": JSON {"binding":string,"from":string,"to":string} -> null.
//     Moves an entry, replacing a file at to. Rejects with Error "code: message" (isoerr
//     codes: not_found, invalid_request, conflict, precondition_failed, quota_exceeded,
//     file_too_large, read_only). Needs SandboxConfig.FS.
//   - "fs_cp": JSON {"binding":string,"from":string,"to":string,"recursive"?:bool} -> null.
//     Copies a file, or a directory with recursive. Rejects with Error "code: message" (isoerr
//     codes: not_found, invalid_request, conflict, precondition_failed, quota_exceeded,
//     file_too_large, read_only). Needs SandboxConfig.FS.
//   - "fs_glob": JSON {"binding":string,"pattern":string} -> JSON [FileInfo...].
//     Entries matching a glob ("**" spans directories). Rejects with Error "code: message"
//     (isoerr codes: not_found, invalid_request, conflict, precondition_failed,
//     quota_exceeded, file_too_large, read_only). Needs SandboxConfig.FS.
//   - "fs_symlink": JSON {"binding":string,"target":string,"path":string} -> null.
//     Creates a symlink; its target must stay inside the workspace. Rejects with Error "code:
//     message" (isoerr codes: not_found, invalid_request, conflict, precondition_failed,
//     quota_exceeded, file_too_large, read_only). Needs SandboxConfig.FS.
//   - "fs_readlink": JSON {"binding":string,"path":string} -> JSON string.
//     A symlink's target. Rejects with Error "code: message" (isoerr codes: not_found,
//     invalid_request, conflict, precondition_failed, quota_exceeded, file_too_large,
//     read_only). Needs SandboxConfig.FS.
//   - "fs_exec": JSON {"binding":string,"command":string,"cwd"?:string,"env"?:object,"timeoutMs"?:number,"maxOutput"?:number} -> JSON {"stdout":string,"stderr":string,"exitCode":number}.
//     Runs a shell script over the workspace (package workspace/shell; also
//     wall_time_exceeded, cpu_limit_exceeded, output_limit_exceeded). Rejects with Error
//     "code: message" (isoerr codes: not_found, invalid_request, conflict,
//     precondition_failed, quota_exceeded, file_too_large, read_only). Needs SandboxConfig.FS.
//   - "fs_queryjson": JSON {"binding":string,"path":string,"query":string} -> JSON {"found":bool,"value"?:any}.
//     The value at a JSON path (a.b[0]["k"]; "" is the whole document) of a JSON file
//     (queryJson). Rejects with Error "code: message" (isoerr codes: not_found,
//     invalid_request, conflict, precondition_failed, quota_exceeded, file_too_large,
//     read_only). Needs SandboxConfig.FS.
//   - "fs_updatejson": JSON {"binding":string,"path":string,"update":{"op":"set|merge|delete","path":string,"value"?:any},"ifMatch"?:string,"ifNoneMatch"?:"*"} -> JSON FileInfo.
//     Sets, merges (RFC 7386) or deletes at a JSON path of a JSON file in one conditional
//     write (updateJson). Rejects with Error "code: message" (isoerr codes: not_found,
//     invalid_request, conflict, precondition_failed, quota_exceeded, file_too_large,
//     read_only). Needs SandboxConfig.FS.
//   - "fs_search": JSON {"binding":string,"pattern":string,"glob"?:string,"regex"?:bool,"ignoreCase"?:bool,"contextLines"?:int,"maxResults"?:int} -> JSON {"matches":[{"path","line","column","text","before"?,"after"?}...],"filesSearched":int,"binarySkipped":int,"truncated":bool}.
//     Lines of the workspace's files that match text or an RE2 regular expression
//     (searchText). Rejects with Error "code: message" (isoerr codes: not_found,
//     invalid_request, conflict, precondition_failed, quota_exceeded, file_too_large,
//     read_only). Needs SandboxConfig.FS.
//   - "fs_findfiles": JSON {"binding":string,"glob":string,"maxResults"?:int} -> JSON {"files":[FileInfo...],"truncated":bool}.
//     Files whose paths match a glob; one without "/" matches names anywhere (searchFiles).
//     Rejects with Error "code: message" (isoerr codes: not_found, invalid_request, conflict,
//     precondition_failed, quota_exceeded, file_too_large, read_only). Needs SandboxConfig.FS.
//   - "fs_replace": JSON {"binding":string,"path":string,"search":string,"replace":string,"regex"?:bool,"ignoreCase"?:bool,"once"?:bool,"dryRun"?:bool,"ifMatch"?:string} -> JSON {"path","count","preview","etag"}.
//     Replaces matches in one file (replaceInFile); dryRun only reports. Rejects with Error
//     "code: message" (isoerr codes: not_found, invalid_request, conflict,
//     precondition_failed, quota_exceeded, file_too_large, read_only). Needs SandboxConfig.FS.
//   - "fs_replaceall": JSON {"binding":string,"glob":string,"search":string,"replace":string,"regex"?:bool,"ignoreCase"?:bool,"once"?:bool,"dryRun"?:bool} -> JSON {"files":[{"path","count","preview","etag"}...],"replacements":int,"skipped"?:[string...],"dryRun":bool}.
//     Replaces matches in every file a glob selects, all or nothing (replaceInFiles). Rejects
//     with Error "code: message" (isoerr codes: not_found, invalid_request, conflict,
//     precondition_failed, quota_exceeded, file_too_large, read_only). Needs SandboxConfig.FS.
//   - "fs_diff": JSON {"binding":string,"path":string,"to"?:string,"text"?:string} -> JSON string.
//     The unified diff from a file to another file (to) or to text ("" when equal). Rejects
//     with Error "code: message" (isoerr codes: not_found, invalid_request, conflict,
//     precondition_failed, quota_exceeded, file_too_large, read_only). Needs SandboxConfig.FS.
//   - "fs_archive": JSON {"binding":string,"paths":[string...],"to":string} -> JSON FileInfo.
//     Writes a tar.gz of entries to a file (createArchive). Rejects with Error "code: message"
//     (isoerr codes: not_found, invalid_request, conflict, precondition_failed,
//     quota_exceeded, file_too_large, read_only). Needs SandboxConfig.FS.
//   - "fs_extract": JSON {"binding":string,"path":string,"to":string} -> JSON {"files":int,"directories":int,"symlinks":int,"bytes":int}.
//     Extracts a tar.gz file under a directory, all or nothing; hostile entries are refused
//     (extractArchive). Rejects with Error "code: message" (isoerr codes: not_found,
//     invalid_request, conflict, precondition_failed, quota_exceeded, file_too_large,
//     read_only). Needs SandboxConfig.FS.
//   - "fs_hash": JSON {"binding":string,"path":string,"algo"?:"sha256|sha512|sha1|md5"} -> JSON string.
//     A file's hex digest (hashFile). Rejects with Error "code: message" (isoerr codes:
//     not_found, invalid_request, conflict, precondition_failed, quota_exceeded,
//     file_too_large, read_only). Needs SandboxConfig.FS.
//
// ---- end of the generated text ----
//
// A URLRecord is {"href","origin","protocol","username","password","host","hostname","port",
// "pathname","search","hash"}, each a string as the URL getters of the WHATWG URL standard
// return them.
//
// Host errors arrive as thrown TypeError, RangeError, SyntaxError or Error (with the host's
// name, e.g. NotSupportedError) with the host's message.
package runtime
