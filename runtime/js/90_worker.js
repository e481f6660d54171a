// 90_worker.js: the dispatcher. The host sends it one JSON message per event: "load" (evaluate
// the worker's main module), "fetch" / "call" / "eval" (start an invocation), "timer" and
// "op" (events of a running invocation); a "fetch", "call" or "eval" most often comes as a
// record of fields joined by U+001F instead (dispatchRecord). Each invocation ends with
// host.call("complete") carrying the outcome, then host.call("settled") once
// ctx.waitUntil promises are done too.
const worker = (() => {
  class WorkerEntrypoint {
    constructor(ctx, env) {
      this.ctx = ctx;
      this.env = env;
    }
  }
  class RpcTarget {}
  class DurableObject {
    constructor(ctx, env) {
      this.ctx = ctx;
      this.env = env;
    }
  }

  // CommonJS support: require() resolves like import and evaluates modules once.
  const cjsCache = new Map();
  function requireFrom(from, spec) {
    const name = from === "" ? spec : host.call("module_resolve", from + "\0" + spec);
    if (cjsCache.has(name)) return cjsCache.get(name).exports;
    const { type, source } = jsonParse(host.call("require_source", name));
    const module = { exports: {}, id: name, filename: name, loaded: false };
    cjsCache.set(name, module);
    try {
      switch (type) {
        case "cjs": {
          const dir = name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : ".";
          const fn = host.evalScript("(function (exports, require, module, __filename, __dirname) {" + source + "\n})", name);
          fn.call(module.exports, module.exports, (s) => requireFrom(name, s), module, name, dir);
          break;
        }
        case "json":
          module.exports = jsonParse(source);
          break;
        case "text":
          module.exports = source;
          break;
        case "data":
          module.exports = base64ToBytes(source).buffer;
          break;
        case "wasm": // a WebAssembly.Module, as import gives (47_wasm.js)
          module.exports = wasmInternal.moduleFromMap(name);
          break;
        default:
          throw new TypeError(`require() of ES module "${name}" is not supported: use import`);
      }
    } catch (e) {
      cjsCache.delete(name);
      throw e;
    }
    module.loaded = true;
    return module.exports;
  }

  Object.defineProperty(globalThis, "__isobox_internal", {
    value: Object.freeze({
      WorkerEntrypoint, RpcTarget, DurableObject, requireFrom, env: () => env,
      // wasmModule is the default export of a wasm module of the module map (47_wasm.js).
      wasmModule: (name) => wasmInternal.moduleFromMap(name),
      // callTool calls a host tool (Code Mode): a promise of its JSON result.
      callTool: (name, args) => host.startOp("tool", { name: String(name), args: args === undefined ? null : args }).promise,
    }),
    enumerable: false,
  });

  let mainNS = null;
  let env = {};
  // The guest may replace these globals; the dispatcher keeps the originals.
  const NativeResponse = Response;
  const NativeError = Error;

  // safeString converts v for an error report; conversion runs the guest's toString or
  // Symbol.toPrimitive, which may throw: then fallback stands in.
  function safeString(v, fallback) {
    if (typeof v === "string") return v;
    try {
      const s = primordials.String(v);
      return typeof s === "string" ? s : fallback;
    } catch {
      return fallback;
    }
  }

  // describe makes an error report {name, message, stack} of anything thrown. It never
  // throws, whatever the guest threw or changed (getters that throw, toString, toJSON).
  function describe(e) {
    try {
      let errorLike = false;
      try {
        errorLike = isObject(e) && (primordials.apply(primordials.hasInstance, NativeError, [e]) || "message" in e);
      } catch {}
      if (errorLike) {
        const field = (k) => {
          try {
            return e[k];
          } catch {
            return undefined;
          }
        };
        const name = field("name");
        const stack = field("stack");
        return {
          __proto__: null,
          name: name ? safeString(name, "Error") : "Error",
          message: safeString(field("message"), "(the message could not be read)"),
          stack: stack ? safeString(stack, "") : "",
        };
      }
      let message;
      try {
        message = typeof e === "string" ? e : jsonStringify(e);
      } catch {}
      if (typeof message !== "string") message = safeString(e, "(a value that cannot be printed)");
      return { __proto__: null, name: "Error", message: "Uncaught " + message, stack: "" };
    } catch {
      return { __proto__: null, name: "Error", message: "Uncaught (a value that cannot be described)", stack: "" };
    }
  }

  // Completion heads are JSON text built here from strings and numbers (quote, never
  // JSON.stringify of an object), so the guest's toJSON or accessors cannot change them.
  function failureHead(e, code) {
    const d = describe(e);
    return '{"ok":false' + (typeof code === "string" ? ',"code":' + quote(code) : "") +
      ',"error":{"name":' + quote(d.name) + ',"message":' + quote(d.message) + ',"stack":' + quote(d.stack) + "}}";
  }

  // complete hands an outcome to the host: head is the completion header (JSON text), body
  // the response body (a Uint8Array, a well-formed string whose UTF-8 is the body, from
  // bodyBytesNow) or null; settled says that no waitUntil work is left, which saves a host
  // call. It never throws: an outcome it cannot send becomes a failure.
  function complete(head, body, settled) {
    const send = settled ? sendSettled : sendComplete;
    try {
      if (typeof head !== "string") throw new TypeError("the runtime could not build the completion");
      if (typeof body === "string") {
        if (body.length > 0) host.call("body", body);
      } else if (body !== null && body !== undefined) {
        if (typedArrayTag(body) !== "Uint8Array") {
          throw new TypeError("the response body could not be read" + (objectThenDefined()
            ? " (Object.prototype.then is defined, so promises resolve to what it returns)"
            : ""));
        }
        if (typedArrayByteLength(body) > 0) host.call("body", body);
      }
      send(head);
    } catch (e) {
      try {
        send(failureHead(e, codeOf(e)));
      } catch {
        send('{"ok":false,"error":{"name":"Error","message":"the outcome could not be reported"}}');
      }
    }
  }

  const sendComplete = (h) => host.call("complete", h);
  const sendSettled = (h) => host.call("complete_settled", h);
  const typedArrayTag = uncurryThis(primordials.typedArrayTag);
  const typedArrayByteLength = uncurryThis(primordials.typedArrayByteLength);
  const hasInstance = uncurryThis(primordials.hasInstance);

  class HandlerError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }
  // codes marks guest errors that the host must report under a code of their own.
  const codes = new WeakMap();
  function codeOf(e) {
    try {
      if (hasInstance(HandlerError, e)) return own(e, "code");
      return (isObject(e) && primordials.apply(primordials.weakMapGet, codes, [e])) || undefined;
    } catch {
      return undefined;
    }
  }
  const markCode = (e, code) => {
    if (isObject(e)) primordials.apply(primordials.weakMapSet, codes, [e, code]);
  };

  // An invocation (inv) is its bookkeeping: only its first outcome is sent (completed);
  // pending counts its unsettled waitUntil promises, and when the last one settles after
  // the outcome was sent (waiting), the host is told ("settled"). Its functions take it as
  // their first argument rather than closing over it: a closure costs ~0.7 µs in the
  // sandbox, and a call that answers at once needs none.
  const newInvocation = (props) => ({ __proto__: null, props, pending: 0, completed: false, waiting: false, ctx: null });

  // answer sends the invocation's outcome, head (the completion header) and body; with no
  // waitUntil work left, the invocation settles with it.
  // An invocation that settles lets go of its ctx: ctx's waitUntil holds the invocation,
  // and the cycle would otherwise wait for the cycle collector, growing the heap by every
  // fetch until then (RATIONALE §98).
  function answer(inv, head, body) {
    if (inv.completed) return;
    inv.completed = true;
    const now = inv.pending === 0;
    complete(head, body, now);
    if (now) inv.ctx = null;
    else inv.waiting = true;
  }
  function fail(inv, e) {
    if (!inv.completed) answer(inv, failureHead(e, codeOf(e)), null);
  }
  // failer is fail as a callback, for an invocation that answers later.
  const failer = (inv) => (e) => fail(inv, e);

  // contextOf returns the ctx handlers receive, made on first use: an RPC method of a
  // plain object never gets one. Only waitUntil needs state of its own; its settle
  // callbacks are made on first use (most handlers never call it), and
  // passThroughOnException, which does nothing, is one function.
  function contextOf(inv) {
    if (inv.ctx !== null) return inv.ctx;
    let done = null;
    let rejected = null;
    inv.ctx = {
      props: inv.props ?? {},
      waitUntil(p) {
        inv.pending++;
        if (done === null) {
          done = () => {
            inv.pending--;
            if (inv.pending === 0 && inv.waiting) {
              inv.waiting = false;
              inv.ctx = null;
              host.call("settled");
            }
          };
          rejected = (e) => {
            try {
              console.error("waitUntil promise rejected:", e);
            } catch {}
            done();
          };
        }
        whenSettled(p, done, rejected);
      },
      passThroughOnException,
    };
    return inv.ctx;
  }
  function passThroughOnException() {}

  // isThenable says whether a handler's answer must be awaited.
  const isThenable = (v) => v !== null && (typeof v === "object" || typeof v === "function") && typeof v.then === "function";

  const forbidden = new Set(["constructor", "fetch", "then", "toString", "valueOf", "toJSON",
    "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString", "__proto__",
    "__defineGetter__", "__defineSetter__", "__lookupGetter__", "__lookupSetter__"]);

  // target returns the object whose methods are the entrypoint's handlers.
  function target(entrypoint, inv) {
    if (!mainNS) throw new HandlerError("internal_error", "no worker is loaded");
    const name = entrypoint || "default";
    const exp = mainNS[name];
    if (exp === undefined) {
      throw new HandlerError("method_not_found", entrypoint
        ? `the worker has no export named "${entrypoint}"`
        : "the worker has no default export: add `export default { async fetch(request, env, ctx) { ... } }`");
    }
    if (typeof exp === "function" && exp.prototype) {
      if (exp.prototype instanceof WorkerEntrypoint || exp.prototype instanceof DurableObject) return new exp(contextOf(inv), env);
      throw new HandlerError("method_not_found", `export "${name}" is a class that does not extend WorkerEntrypoint`);
    }
    if (exp === null || typeof exp !== "object") {
      throw new HandlerError("method_not_found", `export "${name}" is not an object with handler methods`);
    }
    return exp;
  }

  function isClassInstance(t) {
    return t instanceof WorkerEntrypoint || t instanceof DurableObject;
  }

  // startFetch, startCall and startEval start an invocation from its message's fields: the
  // handler answers it (at once, or later from a promise callback) or throws. A handler
  // that answers synchronously is finished without a trip through the microtask queue;
  // with no waitUntil work the invocation then settles at once.
  function startFetch(props, entrypoint, method, url, headers, body, stream) {
    const inv = newInvocation(props);
    try {
      onFetch(inv, entrypoint, method, url, headers, body, stream);
    } catch (e) {
      fail(inv, e);
    }
  }
  function startCall(props, entrypoint, method, args) {
    const inv = newInvocation(props);
    try {
      onCall(inv, entrypoint, method, args);
    } catch (e) {
      fail(inv, e);
    }
  }
  function startEval(code) {
    const inv = newInvocation(null);
    try {
      onEval(inv, code);
    } catch (e) {
      fail(inv, e);
    }
  }

  // notA names what a handler answered instead of the value wanted, with the usual cause
  // when its promise resolved to something else.
  const notA = (v, async) => (v === null ? "null" : typeof v) +
    (async && objectThenDefined() ? " (Object.prototype.then is defined, so promises resolve to what it returns)" : "");

  // onFetch calls the fetch handler: body is the request body's base64 (null for none),
  // headers the host's (a string of names and values joined by newlines, or pairs), stream
  // whether a streamed body can be sent as it is read.
  function onFetch(inv, entrypoint, method, url, headers, body, stream) {
    const t = target(entrypoint, inv);
    const handler = t.fetch;
    if (typeof handler !== "function") {
      throw new HandlerError("method_not_found", "the worker has no fetch handler: export default { async fetch(request, env, ctx) { ... } }");
    }
    const req = makeRequest(method, url, headers, body == null ? null : base64ToBytes(body));
    const res = isClassInstance(t) ? t.fetch(req) : primordials.apply(handler, t, [req, env, contextOf(inv)]);
    // A Response is answered as it is, even when the guest made every object a thenable.
    if (!hasInstance(NativeResponse, res) && isThenable(res)) {
      whenSettled(res, (v) => respond(inv, v, true, stream), failer(inv));
    } else respond(inv, res, false, stream);
  }

  // respond serializes a fetch handler's Response (synchronously when its body is bytes).
  // With stream (the caller has a sink), a body that is a ReadableStream is sent as it is
  // read: the head first, then each chunk (streamResponse).
  function respond(inv, res, async, stream) {
    if (!responseWire.is(res)) {
      throw new TypeError(`the fetch handler must return a Response, got ${hasInstance(NativeResponse, res)
        ? "an object that inherits from Response.prototype but is not a Response (a Proxy of one, or made with Object.create)"
        : notA(res, async)}`);
    }
    const head = responseHead(responseWire.status(res), responseWire.statusText(res), responseWire.pairs(res));
    const now = bodyBytesNow(res);
    if (now !== undefined) answer(inv, head, now);
    else if (stream) streamResponse(inv, head, bodyReader(res));
    else whenSettled(bodyToBytes(res), (body) => answer(inv, head, body), failer(inv));
  }

  // streamResponse sends the head, then each chunk as the guest's stream yields it (the
  // host call blocks while the sink takes it: backpressure), then a completion that says
  // the response was streamed. A chunk that is not a Uint8Array, a stream that errors, or a
  // chunk the host refuses (output limit, a client gone) cancels the stream and fails the
  // invocation.
  function streamResponse(inv, head, reader) {
    host.call("response_head", head);
    const failed = failer(inv);
    const stop = (e) => {
      try {
        whenSettled(reader.cancel(e), () => {}, () => {});
      } catch {}
      fail(inv, e);
    };
    const next = () => whenSettled(reader.read(), onRead, failed);
    const onRead = (r) => {
      try {
        if (own(r, "done") === true) {
          answer(inv, '{"ok":true,"streamed":true}', null);
          return;
        }
        const chunk = own(r, "value");
        if (!isObject(chunk) || typedArrayTag(chunk) !== "Uint8Array") {
          throw new TypeError("a streamed response body's chunks must be Uint8Arrays");
        }
        if (typedArrayByteLength(chunk) > 0) host.call("response_chunk", chunk);
      } catch (e) {
        stop(e);
        return;
      }
      next();
    };
    next();
  }

  // quoteHeader is quote for header names and values: a response repeats the same few
  // (content-type, its value), and JSON.stringify of a string costs ~1.3 µs, a property read
  // a tenth of that. The cache is an object without a prototype, so reading it reaches no
  // accessor the guest defines; it holds strings of at most 48 characters and at most
  // QUOTED_MAX of them (~8 KiB at worst), so a worker whose values change with every
  // response (dates, etags, ids) fills it once and cannot grow it further.
  const quoted = { __proto__: null };
  let quotedCount = 0;
  const QUOTED_MAX = 64;
  function quoteHeader(s) {
    const q = quoted[s];
    if (q !== undefined) return q;
    const out = quote(s);
    if (quotedCount < QUOTED_MAX && s.length <= 48) {
      quoted[s] = out;
      quotedCount++;
    }
    return out;
  }

  // responseHead is the completion header of a Response, from its own state
  // (responseWire), checked field by field all the same.
  function responseHead(status, statusText, pairs) {
    if (!primordials.isInteger(status) || status < 200 || status > 599) throw new TypeError("the Response's status is not a number from 200 to 599");
    if (typeof statusText !== "string") throw new TypeError("the Response's statusText is not a string");
    if (!primordials.isArray(pairs)) throw new TypeError("the Response's headers cannot be read");
    let h = "";
    for (let i = 0, n = pairs.length; i < n; i++) {
      const kv = pairs[i];
      const k = primordials.isArray(kv) ? kv[0] : undefined;
      const v = primordials.isArray(kv) ? kv[1] : undefined;
      if (typeof k !== "string" || typeof v !== "string") throw new TypeError("the Response's headers cannot be read");
      h += (i > 0 ? ",[" : "[") + quoteHeader(k) + "," + quoteHeader(v) + "]";
    }
    return '{"ok":true,"status":' + status + ',"statusText":' + (statusText === "" ? '""' : quote(statusText)) + ',"headers":[' + h + "]}";
  }

  function onCall(inv, entrypoint, m, args) {
    const t = target(entrypoint, inv);
    if (typeof m !== "string" || m === "" || setHas(forbidden, m) || (m.length > 1 && m[0] === "_" && m[1] === "_")) {
      throw new HandlerError("method_not_found", `"${safeString(m, "?")}" cannot be called over RPC`);
    }
    const fn = t[m];
    if (typeof fn !== "function" || inheritedFromObject(m, fn)) {
      throw new HandlerError("method_not_found", `the worker has no RPC method "${m}"` + (fn === undefined ? "" : ` (it is a ${typeof fn}, not a function)`));
    }
    // RPC methods get exactly the caller's arguments; a plain-object handler reaches env via
    // `import { env } from "cloudflare:workers"`, a WorkerEntrypoint via this.env.
    const out = primordials.apply(fn, t, args);
    if (isThenable(out)) whenSettled(out, (v) => answer(inv, resultHead(v), null), failer(inv));
    else answer(inv, resultHead(out), null);
  }
  const setHas = uncurryThis(primordials.setHas);
  // inheritedFromObject says whether fn is Object.prototype's own m (no getter runs).
  function inheritedFromObject(m, fn) {
    if (!primordials.hasOwn(primordials.objectPrototype, m)) return false;
    return own(primordials.getOwnPropertyDescriptor(primordials.objectPrototype, m), "value") === fn;
  }

  function onEval(inv, code) {
    let p;
    try {
      p = host.evalAsync(code, "eval.js");
    } catch (e) {
      // Thrown synchronously: the snippet did not parse.
      markCode(e, "invalid_worker_code");
      throw e;
    }
    // The script's promise resolves to {value: <its completion value>}, an object that the
    // engine makes: anything else means the guest intercepted promise resolution.
    const failed = failer(inv);
    whenSettled(p, (r) => {
      if (!isObject(r) || !primordials.hasOwn(r, "value")) {
        throw new TypeError("the snippet's value could not be read: its promise resolved to " + notA(r, true));
      }
      const v = r.value;
      whenSettled(typeof v === "function" ? v() : v, (x) => answer(inv, evalHead(x), null), failed);
    }, failed);
  }

  // resultHead is the completion header of an RPC result, as JSON (evalHead: of an eval).
  function resultHead(v) {
    let s;
    try {
      s = v === undefined ? undefined : jsonStringify(v);
    } catch (e) {
      throw new TypeError("the result cannot be returned as JSON: " + e.message);
    }
    return s === undefined ? '{"ok":true}' : '{"ok":true,"result":' + s + "}";
  }

  const base64ToBytes = (b64) => primordials.apply(primordials.fromBase64, primordials.Uint8Array, [b64]);
  const loadErrorPattern = /cannot find module|not available in isobox|could not load module/i;
  const NativeSyntaxError = SyntaxError;

  function onLoad(msg) {
    env = msg.env ?? {};
    installFSBindings(env, msg.fsBindings);
    if (msg.nodeCompat === true) installNodeGlobals(requireFrom);
    const failed = (e) => {
      let code = "worker_exception";
      try {
        const m = isObject(e) ? e.message : undefined;
        if (primordials.apply(primordials.hasInstance, NativeSyntaxError, [e]) ||
          primordials.apply(primordials.regExpTest, loadErrorPattern, [safeString(m, "")])) code = "invalid_worker_code";
      } catch {}
      complete(failureHead(e, code), null, true);
    };
    whenSettled(import(msg.main), (ns) => {
      mainNS = ns;
      complete('{"ok":true}', null, true);
    }, failed);
  }

  // dispatchRecord starts a "fetch", "call" or "eval" that came as a record: its fields
  // joined by U+001F, in the order engine/message.go writes them (fetchRecord, callMessage,
  // evalMessage). Props and the arguments are JSON, an empty field for none; a body is "b"
  // and its base64.
  const splitString = uncurryThis(String.prototype.split);
  const sliceString = uncurryThis(String.prototype.slice);
  const startsWith = uncurryThis(String.prototype.startsWith);
  function dispatchRecord(raw) {
    if (startsWith(raw, "eval\x1f")) {
      startEval(sliceString(raw, 5)); // the snippet is the rest, copied once
      return;
    }
    const f = splitString(raw, "\x1f");
    switch (f[0]) {
      case "fetch":
        startFetch(f[2] === "" ? null : jsonParse(f[2]), f[1], f[3], f[4], f[5], f[6] === "" ? null : sliceString(f[6], 1), f[7] === "1");
        return;
      case "call":
        startCall(f[4] === "" ? null : jsonParse(f[4]), f[1], f[2], jsonParse(f[3]));
        return;
    }
    throw new TypeError("unknown message type " + f[0]);
  }

  // The host sends every field of a JSON message (null when it has no value), so reading
  // them never reaches Object.prototype, whatever accessors the guest put there.
  host.setDispatch((raw) => {
    if (raw[0] !== "{") {
      dispatchRecord(raw);
      return;
    }
    const msg = jsonParse(raw);
    switch (msg.type) {
      case "timer":
        host.fireTimer(msg.id);
        return;
      case "op":
        host.completeOp(msg.id, msg.ok, msg.value, msg.error);
        return;
      case "load":
        onLoad(msg);
        return;
      case "fetch": {
        const r = msg.request;
        startFetch(msg.props, msg.entrypoint, r.method, r.url, r.headers, r.body, r.stream === true);
        return;
      }
      case "call":
        startCall(msg.props, msg.entrypoint, msg.method, msg.args);
        return;
      case "eval":
        startEval(msg.code);
        return;
      case "wasm_import": // re-entrant: a wasm instance calls a JavaScript import (47_wasm.js)
        wasmInternal.importCall(msg);
        return;
    }
    throw new TypeError("unknown message type " + safeString(msg.type, "?"));
  });
  return { WorkerEntrypoint };
})();
