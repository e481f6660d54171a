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

  // resultHead is the completion header of an RPC or eval result, as JSON.
  function resultHead(v) {
    let s;
    try {
      s = v === undefined ? undefined : jsonStringify(v);
    } catch (e) {
      throw new TypeError("the result cannot be returned as JSON: " + e.message);
    }
    return s === undefined ? '{"ok":true}' : '{"ok":true,"result":' + s + "}";
  }

  // evalHead is the completion header of an eval result. Unlike an RPC result (resultHead,
  // plain JSON), an eval result keeps what JSON cannot hold: such values become objects
  // tagged with "$type" ({"$type":"Map","entries":[[1,2]]}, {"$type":"undefined"}, ...; the
  // README has the table). The JSON is written by the native JSON.stringify with a replacer
  // that tags (about twice the time of plain JSON.stringify: 0.4 s against 0.2 s for 100,000
  // small objects in QuickJS); a result that holds a cycle, which
  // JSON.stringify refuses, is written again by a slower writer that tags the cycle with its
  // path. Everything either calls is captured here, before user code runs.
  const evalHead = (() => {
    const apply = primordials.apply;
    const stringify = JSON.stringify;
    const { getPrototypeOf, keys, getOwnPropertyDescriptor } = Object;
    const isArray = Array.isArray;
    const arrayFrom = Array.from;
    const objectProto = Object.prototype;
    const getter = (proto, name) => getOwnPropertyDescriptor(proto, name).get;
    const mapEntries = Map.prototype.entries;
    const mapNext = getPrototypeOf(new Map().entries()).next;
    const setValues = Set.prototype.values;
    const setNext = getPrototypeOf(new Set().values()).next;
    const dateTime = Date.prototype.getTime;
    const dateISO = Date.prototype.toISOString;
    const reSource = getter(RegExp.prototype, "source");
    const reFlags = getter(RegExp.prototype, "flags");
    const bufLength = getter(ArrayBuffer.prototype, "byteLength");
    const sharedLength = typeof SharedArrayBuffer === "function" ? getter(SharedArrayBuffer.prototype, "byteLength") : undefined;
    const typedProto = getPrototypeOf(Uint8Array.prototype);
    const typedTag = getter(typedProto, Symbol.toStringTag);
    const typedLength = getter(typedProto, "length");
    const mapSize = getter(Map.prototype, "size");
    const setSize = getter(Set.prototype, "size");
    // list makes an array of n elements from f(undefined, i), the way Array.from does for an
    // array-like with no prototype: no iterator, index setter or push that user code could
    // have replaced is involved.
    const list = (n, f) => apply(arrayFrom, null, [{ __proto__: null, length: n }, f]);
    const viewBuffer = getter(DataView.prototype, "buffer");
    const viewOffset = getter(DataView.prototype, "byteOffset");
    const viewLength = getter(DataView.prototype, "byteLength");
    const Bytes = Uint8Array;
    const toBase64 = Uint8Array.prototype.toBase64;
    const ErrorClass = Error;
    const PromiseClass = Promise;
    const weakMapHas = WeakMap.prototype.has;
    const weakSetHas = WeakSet.prototype.has;
    const weakRefDeref = typeof WeakRef === "function" ? WeakRef.prototype.deref : undefined;
    const symbolDescription = getter(Symbol.prototype, "description");
    const unbox = [Number.prototype.valueOf, String.prototype.valueOf, Boolean.prototype.valueOf, BigInt.prototype.valueOf, Symbol.prototype.valueOf];
    const WeakSetClass = WeakSet;
    const { add: weakAdd, has: weakHas, delete: weakDelete } = WeakSet.prototype;
    const hasOwn = Object.hasOwn;

    // has says whether method works on v: the brand check of a built-in class, which
    // neither a prototype swap nor Symbol.toStringTag can fake.
    const has = (method, v, arg) => {
      if (method === undefined) return false;
      try {
        apply(method, v, [arg]);
        return true;
      } catch {
        return false;
      }
    };
    const isDate = (v) => v !== null && typeof v === "object" && has(dateTime, v);

    // A tag object carries the private key TAG, so that it is never wrapped as a "$type"
    // object itself. passing holds the objects with a "$type" key of their own that were
    // just wrapped, so that the wrapper's "value" is written as the object it is.
    const TAG = Symbol("isobox.tag");
    const tag = (t) => {
      t[TAG] = true;
      return t;
    };
    const isTag = (v) => v[TAG] === true;
    let passing = new WeakSetClass();
    let passingCount = 0;
    const isPassing = (v) => {
      if (passingCount === 0 || !apply(weakHas, passing, [v])) return false;
      apply(weakDelete, passing, [v]);
      passingCount--;
      return true;
    };

    // convert returns what the JSON of v is made from (toJSON, when it applies, has run):
    // v itself (a plain object or an array), a tag object, or a primitive JSON holds.
    function convert(v) {
      switch (typeof v) {
        case "string":
        case "boolean":
          return v;
        case "number":
          if (v !== v) return tag({ $type: "Number", value: "NaN" });
          if (v === Infinity) return tag({ $type: "Number", value: "Infinity" });
          if (v === -Infinity) return tag({ $type: "Number", value: "-Infinity" });
          if (v === 0 && 1 / v < 0) return tag({ $type: "Number", value: "-0" });
          return v;
        case "undefined":
          return tag({ $type: "undefined" });
        case "bigint":
          return tag({ $type: "BigInt", value: String(v) });
        case "symbol": {
          const d = apply(symbolDescription, v, []);
          return tag({ $type: "Symbol", description: d === undefined ? null : d });
        }
        case "function": {
          const d = getOwnPropertyDescriptor(v, "name");
          return tag({ $type: "Function", name: d && typeof d.value === "string" ? d.value : "" });
        }
      }
      if (v === null || isArray(v) || isTag(v)) return v;
      const proto = getPrototypeOf(v);
      if (proto !== objectProto && proto !== null) {
        const t = builtin(v);
        if (t !== undefined) return t;
      }
      if (hasOwn(v, "$type") && getOwnPropertyDescriptor(v, "$type").enumerable) {
        apply(weakAdd, passing, [v]);
        passingCount++;
        return tag({ $type: "Object", value: v });
      }
      return v;
    }

    // builtin returns the tag object of an instance of a built-in class that JSON would
    // flatten, or undefined for any other object.
    function builtin(v) {
      if (has(dateTime, v)) {
        const t = apply(dateTime, v, []);
        return tag({ $type: "Date", value: t !== t ? null : apply(dateISO, v, []) });
      }
      if (has(mapEntries, v)) {
        const it = apply(mapEntries, v, []);
        const next = () => {
          const r = apply(mapNext, it, []);
          return [r.value[0], r.value[1]];
        };
        return tag({ $type: "Map", entries: list(apply(mapSize, v, []), next) });
      }
      if (has(setValues, v)) {
        const it = apply(setValues, v, []);
        return tag({ $type: "Set", values: list(apply(setSize, v, []), () => apply(setNext, it, []).value) });
      }
      if (has(reSource, v)) return tag({ $type: "RegExp", source: apply(reSource, v, []), flags: apply(reFlags, v, []) });
      const typed = apply(typedTag, v, []);
      if (typed !== undefined) return tag({ $type: typed, values: list(apply(typedLength, v, []), (_, i) => v[i]) });
      if (has(bufLength, v)) return tag({ $type: "ArrayBuffer", base64: apply(toBase64, new Bytes(v), []) });
      if (has(sharedLength, v)) return tag({ $type: "SharedArrayBuffer", base64: apply(toBase64, new Bytes(v), []) });
      if (has(viewBuffer, v)) {
        const b = new Bytes(apply(viewBuffer, v, []), apply(viewOffset, v, []), apply(viewLength, v, []));
        return tag({ $type: "DataView", base64: apply(toBase64, b, []) });
      }
      if (v instanceof ErrorClass) {
        const name = String(v.name), message = String(v.message), stack = String(v.stack ?? "");
        if (hasOwn(v, "cause")) return tag({ $type: "Error", name, message, stack, cause: v.cause });
        return tag({ $type: "Error", name, message, stack });
      }
      if (v instanceof PromiseClass) return tag({ $type: "Promise" });
      if (has(weakMapHas, v, {})) return tag({ $type: "WeakMap" });
      if (has(weakSetHas, v, {})) return tag({ $type: "WeakSet" });
      if (has(weakRefDeref, v)) return tag({ $type: "WeakRef" });
      for (let i = 0; i < unbox.length; i++) {
        if (has(unbox[i], v)) return convert(apply(unbox[i], v, []));
      }
      return undefined;
    }

    // replacer runs for every value JSON.stringify writes, after toJSON: a Date has become
    // a string (or null) by then, so for such a value the holder's own is checked.
    function replacer(key, v) {
      switch (typeof v) {
        case "boolean":
          return v;
        case "number":
          return v === v && v - v === 0 && (v !== 0 || 1 / v > 0) ? v : convert(v);
        case "string": {
          const original = this[key];
          return original !== v && isDate(original) ? builtin(original) : v;
        }
        case "object":
          if (v === null) {
            const original = this[key];
            return original !== null && isDate(original) ? builtin(original) : null;
          }
          if (isPassing(v)) return v;
      }
      return convert(v);
    }

    // The slow writer, for results that hold a cycle. A frame is one object on the way
    // from the result to the value being written: its parent, the object, and the JSON path
    // step to it.
    const isIdent = (k) => {
      if (k.length === 0) return false;
      for (let i = 0; i < k.length; i++) {
        const c = k.charCodeAt(i);
        const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 36 || c === 95;
        if (!letter && !(i > 0 && c >= 48 && c <= 57)) return false;
      }
      return true;
    };
    const pathOf = (frame) => {
      let p = "";
      for (let f = frame; f.parent !== null; f = f.parent) p = f.step + p;
      return "$" + p;
    };

    function write(v, parent, step, key) {
      let inner = false; // v is the value of its own "$type" wrapper
      if (v !== null && typeof v === "object") {
        if (isPassing(v)) {
          inner = true;
        } else {
          for (let f = parent; f !== null; f = f.parent) {
            if (f.obj === v) return stringify({ $type: "Circular", path: pathOf(f) });
          }
          if (!isTag(v) && !isDate(v)) {
            const toJSON = v.toJSON;
            if (typeof toJSON === "function") v = apply(toJSON, v, [key]);
          }
        }
      }
      const r = inner ? v : convert(v);
      if (r === null || typeof r !== "object") return stringify(r);
      const frame = { parent, obj: inner ? null : v, step };
      if (isArray(r)) {
        let s = "[";
        for (let i = 0; i < r.length; i++) s += (i > 0 ? "," : "") + write(r[i], frame, "[" + i + "]", String(i));
        return s + "]";
      }
      const ks = keys(r);
      let s = "{";
      for (let i = 0; i < ks.length; i++) {
        const k = ks[i];
        s += (i > 0 ? "," : "") + stringify(k) + ":" + write(r[k], frame, isIdent(k) ? "." + k : "[" + stringify(k) + "]", k);
      }
      return s + "}";
    }

    function json(v) {
      passing = new WeakSetClass();
      passingCount = 0;
      try {
        return stringify(v, replacer);
      } catch {
        // A cycle (or a getter or toJSON that throws, which throws again below).
        passing = new WeakSetClass();
        passingCount = 0;
        return write(v, null, "", "");
      }
    }

    return (v) => {
      let s;
      try {
        s = v === undefined ? undefined : json(v);
      } catch (e) {
        throw new TypeError("the result cannot be returned: " + (e && typeof e === "object" ? e.message : String(e)));
      }
      return s === undefined ? '{"ok":true}' : '{"ok":true,"result":' + s + "}";
    };
  })();

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
