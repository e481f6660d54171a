// 90_worker.js: the dispatcher. The host sends it one JSON message per event: "load" (evaluate
// the worker's main module), "fetch" / "call" / "eval" (start an invocation), "timer" and
// "op" (events of a running invocation). Each invocation ends with host.call("complete")
// carrying the outcome, then host.call("settled") once ctx.waitUntil promises are done too.
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
      // callTool calls a host tool (Code Mode): a promise of its JSON result.
      callTool: (name, args) => host.startOp("tool", { name: String(name), args: args === undefined ? null : args }).promise,
    }),
    enumerable: false,
  });

  let mainNS = null;
  let env = {};

  function describe(e) {
    if (e instanceof Error || (e && typeof e === "object" && "message" in e)) {
      return { name: String(e.name || "Error"), message: String(e.message), stack: String(e.stack || "") };
    }
    let message;
    try {
      message = typeof e === "string" ? e : jsonStringify(e);
    } catch {
      message = String(e);
    }
    return { name: "Error", message: "Uncaught " + message, stack: "" };
  }

  // finish hands the outcome to the host: head is the completion header (an object, or its
  // JSON already made); settled says that no waitUntil work is left, which saves a host call.
  function finish(head, body, settled) {
    if (body && body.length > 0) host.call("body", body);
    host.call(settled ? "complete_settled" : "complete", typeof head === "string" ? head : jsonStringify(head));
  }

  function fail(e, code, settled) {
    finish({ ok: false, code, error: describe(e) }, null, settled);
  }

  class HandlerError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }
  // codes marks guest errors that the host must report under a code of their own.
  const codes = new WeakMap();
  function codeOf(e) {
    if (e instanceof HandlerError) return e.code;
    return (e && typeof e === "object" && codes.get(e)) || undefined;
  }

  // makeContext returns the ctx handlers receive and a promise of their waitUntil work.
  function makeContext(props) {
    const waits = [];
    const ctx = {
      props: props ?? {},
      waitUntil(p) {
        waits.push(Promise.resolve(p).catch((e) => console.error("waitUntil promise rejected:", e)));
      },
      passThroughOnException() {},
    };
    return { ctx, waits, settle: () => primordials.promiseAllSettled(waits) };
  }

  // isThenable says whether a handler's answer must be awaited.
  const isThenable = (v) => v !== null && (typeof v === "object" || typeof v === "function") && typeof v.then === "function";

  const forbidden = new Set(["constructor", "fetch", "then", "toString", "valueOf", "toJSON",
    "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString", "__proto__",
    "__defineGetter__", "__defineSetter__", "__lookupGetter__", "__lookupSetter__"]);

  // target returns the object whose methods are the entrypoint's handlers.
  function target(entrypoint, ctx) {
    if (!mainNS) throw new HandlerError("internal_error", "no worker is loaded");
    const name = entrypoint || "default";
    const exp = mainNS[name];
    if (exp === undefined) {
      throw new HandlerError("method_not_found", entrypoint
        ? `the worker has no export named "${entrypoint}"`
        : "the worker has no default export: add `export default { async fetch(request, env, ctx) { ... } }`");
    }
    if (typeof exp === "function" && exp.prototype) {
      if (exp.prototype instanceof WorkerEntrypoint || exp.prototype instanceof DurableObject) return new exp(ctx, env);
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

  // run starts an invocation. A handler that answers synchronously (no promise) is finished
  // without a trip through the microtask queue; with no waitUntil work the invocation then
  // settles at once.
  function run(invoke, props) {
    const { ctx, waits, settle } = makeContext(props);
    // end finishes the invocation; with no waitUntil work it is settled in the same call.
    const end = (out, e) => {
      const now = waits.length === 0;
      if (e === undefined) {
        try {
          finish(out.head, out.body, now);
        } catch (err) {
          fail(err, codeOf(err), now);
        }
      } else fail(e, codeOf(e), now);
      if (!now) then(settle(), () => host.call("settled"));
    };
    let out;
    try {
      out = invoke(ctx);
    } catch (e) {
      end(undefined, e);
      return;
    }
    if (!isThenable(out)) end(out, undefined);
    else then(primordials.promiseResolve(out), (o) => end(o, undefined), (e) => end(undefined, e === undefined ? null : e));
  }

  function onFetch(msg, ctx) {
    const t = target(msg.entrypoint, ctx);
    const handler = t.fetch;
    if (typeof handler !== "function") {
      throw new HandlerError("method_not_found", "the worker has no fetch handler: export default { async fetch(request, env, ctx) { ... } }");
    }
    const r = msg.request;
    const body = r.body == null ? null : base64ToBytes(r.body);
    const req = makeRequest({ method: r.method, url: r.url, headers: r.headers, body });
    const res = isClassInstance(t) ? t.fetch(req) : primordials.apply(handler, t, [req, env, ctx]);
    return isThenable(res) ? then(primordials.promiseResolve(res), respond) : respond(res);
  }

  // respond serializes a fetch handler's Response (synchronously when its body is bytes).
  function respond(res) {
    if (!(res instanceof Response)) {
      throw new TypeError(`the fetch handler must return a Response, got ${res === null ? "null" : typeof res}`);
    }
    const head = { ok: true, status: res.status, statusText: res.statusText, headers: headerPairs(res.headers) };
    const now = bodyBytesNow(res);
    if (now !== undefined) return { head, body: now };
    return then(bodyToBytes(res), (body) => ({ head, body }));
  }

  function onCall(msg, ctx) {
    const t = target(msg.entrypoint, ctx);
    const m = msg.method;
    if (typeof m !== "string" || m === "" || forbidden.has(m) || m.startsWith("__")) {
      throw new HandlerError("method_not_found", `"${m}" cannot be called over RPC`);
    }
    const fn = t[m];
    if (typeof fn !== "function" || fn === Object.prototype[m]) {
      throw new HandlerError("method_not_found", `the worker has no RPC method "${m}"` + (fn === undefined ? "" : ` (it is a ${typeof fn}, not a function)`));
    }
    // RPC methods get exactly the caller's arguments; a plain-object handler reaches env via
    // `import { env } from "cloudflare:workers"`, a WorkerEntrypoint via this.env.
    const out = primordials.apply(fn, t, msg.args);
    const answer = (v) => ({ head: resultHead(v) });
    return isThenable(out) ? then(primordials.promiseResolve(out), answer) : answer(out);
  }

  async function onEval(msg) {
    let p;
    try {
      p = host.evalAsync(msg.code, "eval.js");
    } catch (e) {
      // Thrown synchronously: the snippet did not parse.
      if (e && typeof e === "object") codes.set(e, "invalid_worker_code");
      throw e;
    }
    const r = await p;
    let v = r && typeof r === "object" && "value" in r ? r.value : r;
    if (typeof v === "function") v = await v();
    else v = await v;
    return { head: evalHead(v) };
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

  const base64ToBytes = (b64) => Uint8Array.fromBase64(b64);

  function onLoad(msg) {
    env = msg.env ?? {};
    then(import(msg.main),
      (ns) => {
        mainNS = ns;
        finish('{"ok":true}', null, true);
      },
      (e) => fail(e, e instanceof SyntaxError || /cannot find module|not available in isobox|could not load module/i.test(String(e && e.message)) ? "invalid_worker_code" : "worker_exception", true),
    );
  }

  host.setDispatch((raw) => {
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
      case "fetch":
        run((ctx) => onFetch(msg, ctx), msg.props);
        return;
      case "call":
        run((ctx) => onCall(msg, ctx), msg.props);
        return;
      case "eval":
        run(() => onEval(msg), null);
        return;
    }
    throw new TypeError("unknown message type " + msg.type);
  });
  return { WorkerEntrypoint };
})();
