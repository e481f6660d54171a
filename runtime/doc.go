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
// Sync operations (op name, payload -> answer):
//
//	"console"          JSON {"level":"log|info|warn|error|debug","message":string} -> ""
//	"random"           decimal byte count (<= 65536)                         -> bytes
//	"digest:SHA-256"   data bytes (also SHA-1, SHA-384, SHA-512)             -> bytes
//	"url_parse"        JSON {"input":string,"base"?:string}                  -> JSON URLRecord
//	"url_set"          JSON {"href":string,"prop":string,"value":string}     -> JSON URLRecord
//	"timer_set"        JSON {"id":n,"ms":n}; "timer_clear" JSON {"id":n}
//	"op_start"         JSON {"id":n,"kind":string,"payload":any}; "op_cancel" JSON {"id":n}
//
// A URLRecord is {"href","origin","protocol","username","password","host","hostname","port",
// "pathname","search","hash"}, each a string as the URL getters of the WHATWG URL standard
// return them; a failed parse throws TypeError.
//
// Async operation kinds: "fetch", payload {"method","url","headers":[[name,value]...],
// "body":base64|null,"redirect":"follow|manual|error"}, resolving to {"status","statusText",
// "headers":[[name,value]...],"body":base64,"url","redirected"}; it rejects with a TypeError
// when the sandbox has no outbound access or the request fails.
//
// Host errors arrive as thrown TypeError, RangeError, SyntaxError or Error with the host's
// message.
package runtime
