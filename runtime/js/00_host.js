// 00_host.js: the only door out of the sandbox. The glue (engine/js/build/glue.c) installs three
// globals before this file runs; they are captured here and deleted from globalThis, so user
// code reaches the host only through the Web APIs built on `host` below.
// primordials are the builtins the runtime itself relies on, captured before user code can
// replace them (user code may overwrite JSON.stringify in its own sandbox; the runtime must
// still be able to answer).
const primordials = Object.freeze({
  apply: Reflect.apply,
  jsonStringify: JSON.stringify,
  jsonParse: JSON.parse,
  promiseThen: Promise.prototype.then,
  promiseResolve: Promise.resolve.bind(Promise),
  promiseReject: Promise.reject.bind(Promise),
  promiseAllSettled: Promise.allSettled.bind(Promise),
});
const jsonStringify = (v) => primordials.apply(primordials.jsonStringify, JSON, [v]);
const jsonParse = (s) => primordials.apply(primordials.jsonParse, JSON, [s]);
const then = (p, ok, fail) => primordials.apply(primordials.promiseThen, p, [ok, fail]);

const host = (() => {
  const rawCall = globalThis.__isobox_host;
  const rawBytes = globalThis.__isobox_host_bytes;
  const setDispatch = globalThis.__isobox_set_dispatch;
  const rawEval = globalThis.__isobox_eval;
  const rawScript = globalThis.__isobox_eval_script;
  delete globalThis.__isobox_host;
  delete globalThis.__isobox_host_bytes;
  delete globalThis.__isobox_set_dispatch;
  delete globalThis.__isobox_eval;
  delete globalThis.__isobox_eval_script;

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
    // startOp begins an asynchronous host operation and returns a promise of its JSON result.
    startOp(kind, payload) {
      const id = nextOp++;
      return {
        id,
        promise: new Promise((resolve, reject) => {
          ops.set(id, { resolve, reject });
          try {
            rawCall("op_start", jsonStringify({ id, kind, payload }));
          } catch (e) {
            ops.delete(id);
            reject(e);
          }
        }),
      };
    },
    // cancelOp tells the host an operation's result is no longer wanted (AbortSignal).
    cancelOp(id) {
      if (ops.delete(id)) rawCall("op_cancel", jsonStringify({ id }));
    },
    completeOp(id, ok, value, error) {
      const p = ops.get(id);
      if (!p) return;
      ops.delete(id);
      if (ok) p.resolve(value);
      else {
        const Ctor = { TypeError, RangeError, SyntaxError }[error && error.name] || Error;
        const e = new Ctor((error && error.message) || "host operation failed");
        if (error && error.name && !(error.name in { TypeError: 1, RangeError: 1, SyntaxError: 1 }) && error.name !== "Error") {
          if (error.name === "AbortError" && typeof DOMException === "function") {
            p.reject(new DOMException(e.message, "AbortError"));
            return;
          }
          e.name = error.name;
        }
        p.reject(e);
      }
    },
    // setTimer arms a one-shot host timer and returns its id; fn runs when it fires.
    setTimer(ms, fn) {
      const id = nextTimer++;
      timers.set(id, fn);
      rawCall("timer_set", jsonStringify({ id, ms: Math.max(0, Number(ms) || 0) }));
      return id;
    },
    clearTimer(id) {
      if (timers.delete(id)) rawCall("timer_clear", jsonStringify({ id }));
    },
    fireTimer(id) {
      const fn = timers.get(id);
      if (!fn) return;
      timers.delete(id);
      fn();
    },
  };
})();
