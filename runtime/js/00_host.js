// 00_host.js: the only door out of the sandbox. The glue (engine/js/build/glue.c) installs three
// globals before this file runs; they are captured here and deleted from globalThis, so user
// code reaches the host only through the Web APIs built on `host` below.
// primordials are the builtins the runtime itself relies on, captured before user code can
// replace them (user code may overwrite JSON.stringify, Promise.prototype.then or
// Map.prototype.get in its own sandbox; the runtime must still be able to answer). The
// host protocol (host calls, the dispatcher, completions) uses only these, calls methods
// with `apply`, and reads host messages through `own`, so that an accessor the guest puts
// on Object.prototype or Array.prototype is never reached.
const primordials = Object.freeze({
  apply: Reflect.apply,
  jsonStringify: JSON.stringify,
  jsonParse: JSON.parse,
  promiseThen: Promise.prototype.then,
  promiseResolve: Promise.resolve.bind(Promise),
  hasOwnProperty: Object.prototype.hasOwnProperty,
  hasOwn: Object.hasOwn,
  getOwnPropertyDescriptor: Object.getOwnPropertyDescriptor,
  objectPrototype: Object.prototype,
  isArray: Array.isArray,
  isView: ArrayBuffer.isView,
  // the [Symbol.toStringTag] getter of typed arrays: their class name, read from the internal
  // slot (undefined for anything else), so it cannot be faked
  typedArrayTag: Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get,
  typedArrayByteLength: Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "byteLength").get,
  fromBase64: Uint8Array.fromBase64,
  Uint8Array,
  String,
  isInteger: Number.isInteger,
  hasInstance: Function.prototype[Symbol.hasInstance],
  bind: Function.prototype.bind,
  call: Function.prototype.call,
  mapGet: Map.prototype.get,
  mapSet: Map.prototype.set,
  mapHas: Map.prototype.has,
  mapDelete: Map.prototype.delete,
  setHas: Set.prototype.has,
  weakMapGet: WeakMap.prototype.get,
  weakMapSet: WeakMap.prototype.set,
  regExpTest: RegExp.prototype.test,
  isWellFormed: String.prototype.isWellFormed,
});
// uncurryThis(f) is f called with its receiver as the first argument: uncurryThis(f)(o, a)
// is primordials.apply(f, o, [a]) without the array each call builds (~1 µs in the
// sandbox, where such a call costs a quarter of that). The bound function holds the
// original Function.prototype.call, so a guest that replaces it later changes nothing.
const uncurryThis = (f) => primordials.apply(primordials.bind, primordials.call, [f]);
// JSON.stringify and JSON.parse read no receiver, so they are called as they are.
const jsonStringify = primordials.jsonStringify;
const jsonParse = primordials.jsonParse;
const then = uncurryThis(primordials.promiseThen);
// own reads an own property (undefined when o does not have it): on the host's messages
// (plain data from JSON.parse) it never reaches an accessor on Object.prototype.
const own = (o, k) => (o !== null && o !== undefined && primordials.hasOwn(o, k) ? o[k] : undefined);
const isObject = (v) => v !== null && (typeof v === "object" || typeof v === "function");
// quote makes a JSON string literal of a string (JSON.stringify of a primitive string looks
// up no toJSON: nothing the guest defines is called).
const quote = (s) => jsonStringify(typeof s === "string" ? s : "");
const mapGet = uncurryThis(primordials.mapGet);
const mapSet = uncurryThis(primordials.mapSet);
const mapDelete = uncurryThis(primordials.mapDelete);
// objectThenDefined says whether the guest made every object a thenable, the usual reason
// why a promise resolved to something other than what was returned.
const objectThenDefined = () => primordials.getOwnPropertyDescriptor(primordials.objectPrototype, "then") !== undefined;

// whenSettled calls ok(value) or fail(error) once when p (a value, promise or thenable)
// settles; an exception thrown by ok goes to fail. It never relies on the promise that
// `then` returns, whose class the guest can choose (Promise.prototype.constructor and
// Symbol.species), so the outcome always reaches ok or fail. fail must not throw.
function whenSettled(p, ok, fail) {
  let promise;
  try {
    promise = primordials.promiseResolve(p); // may run the guest's constructor getter
    then(
      promise,
      (v) => {
        try {
          ok(v);
        } catch (e) {
          fail(e);
        }
      },
      fail,
    );
  } catch (e) {
    fail(e);
  }
}

const host = (() => {
  const rawCall = globalThis.__isobox_host;
  const rawBytes = globalThis.__isobox_host_bytes;
  const setDispatch = globalThis.__isobox_set_dispatch;
  const rawEval = globalThis.__isobox_eval;
  const rawScript = globalThis.__isobox_eval_script;
  const utf8 = globalThis.__isobox_utf8;
  const utf8Decode = globalThis.__isobox_utf8_decode;
  const headerValuePlain = globalThis.__isobox_header_value_plain;
  delete globalThis.__isobox_host;
  delete globalThis.__isobox_host_bytes;
  delete globalThis.__isobox_set_dispatch;
  delete globalThis.__isobox_eval;
  delete globalThis.__isobox_eval_script;
  delete globalThis.__isobox_utf8;
  delete globalThis.__isobox_utf8_decode;
  delete globalThis.__isobox_header_value_plain;

  const ops = new Map(); // pending async host operations: id -> {resolve, reject}
  const timers = new Map(); // id -> callback
  let nextOp = 1;
  let nextTimer = 1;

  return {
    // call runs a synchronous host operation; payload is a string, ArrayBuffer or view.
    // It returns a string and throws the error the host reports (TypeError, RangeError, ...).
    call: (op, payload) => rawCall(op, payload),
    // bytes is call for operations whose answer is binary; it returns an ArrayBuffer.
    bytes: (op, payload) => rawBytes(op, payload),
    // evalAsync evaluates a script with top-level await; the promise resolves to {value}.
    evalAsync: (code, name) => rawEval(code, name),
    // evalScript evaluates a sloppy-mode script under a file name and returns its value.
    evalScript: (code, name) => rawScript(code, name),
    setDispatch,
    // utf8 returns the UTF-8 bytes of a well-formed string as a Uint8Array (in C, in the
    // sandbox: no host call). A lone surrogate would come out as its WTF-8 bytes.
    utf8,
    // utf8Decode returns the string bytes (a Uint8Array) hold if they are well-formed UTF-8
    // (no overlong forms, surrogates or cut-off sequences), and null if not (in C too).
    utf8Decode,
    // headerValuePlain says whether a string is a header value that normalization leaves
    // as it is (tab, U+0020-U+007E and U+0080-U+00FF only, no tab or space first or last;
    // in C too).
    headerValuePlain,
    // startOp begins an asynchronous host operation and returns a promise of its JSON result.
    startOp(kind, payload) {
      const id = nextOp++;
      return {
        id,
        promise: new Promise((resolve, reject) => {
          mapSet(ops, id, { __proto__: null, resolve, reject });
          try {
            rawCall("op_start", jsonStringify({ __proto__: null, id, kind, payload }));
          } catch (e) {
            mapDelete(ops, id);
            reject(e);
          }
        }),
      };
    },
    // cancelOp tells the host an operation's result is no longer wanted (AbortSignal).
    cancelOp(id) {
      if (mapDelete(ops, id)) rawCall("op_cancel", '{"id":' + (id | 0) + "}");
    },
    // completeOp settles an operation's promise with the host's answer; error is
    // {name, message} as the host sent it (read with own: plain JSON data).
    completeOp(id, ok, value, error) {
      const p = mapGet(ops, id);
      if (!p) return;
      mapDelete(ops, id);
      if (ok) {
        p.resolve(value);
        return;
      }
      const name = own(error, "name");
      const message = own(error, "message");
      const text = typeof message === "string" && message !== "" ? message : "host operation failed";
      let e;
      switch (name) {
        case "TypeError":
          e = new TypeError(text);
          break;
        case "RangeError":
          e = new RangeError(text);
          break;
        case "SyntaxError":
          e = new SyntaxError(text);
          break;
        case "AbortError":
          if (typeof DOMException === "function") {
            p.reject(new DOMException(text, "AbortError"));
            return;
          }
        // falls through
        default:
          e = new Error(text);
          if (typeof name === "string" && name !== "" && name !== "Error") e.name = name;
      }
      p.reject(e);
    },
    // setTimer arms a one-shot host timer and returns its id; fn runs when it fires.
    setTimer(ms, fn) {
      const id = nextTimer++;
      mapSet(timers, id, fn);
      rawCall("timer_set", jsonStringify({ __proto__: null, id, ms: typeof ms === "number" && ms > 0 ? ms : 0 }));
      return id;
    },
    clearTimer(id) {
      if (mapDelete(timers, id)) rawCall("timer_clear", '{"id":' + (id | 0) + "}");
    },
    fireTimer(id) {
      const fn = mapGet(timers, id);
      if (!fn) return;
      mapDelete(timers, id);
      fn();
    },
  };
})();
