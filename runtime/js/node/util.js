// exports: inherits promisify callbackify format formatWithOptions inspect types deprecate isDeepStrictEqual TextEncoder TextDecoder isArray debuglog debug stripVTControlCharacters toUSVString isError isFunction isString isNumber isObject isPrimitive isUndefined isNull isNullOrUndefined isBoolean isSymbol isRegExp isDate
"use strict";
// node:util: the helpers npm packages use most; inspect is a reasonable subset of Node's.
const kCustomPromisify = Symbol.for("nodejs.util.promisify.custom");
const kInspect = Symbol.for("nodejs.util.inspect.custom");

function inherits(ctor, superCtor) {
  if (typeof ctor !== "function" || typeof superCtor !== "function" || superCtor.prototype === undefined) {
    throw new TypeError('The "ctor" and "superCtor" arguments must be functions with a prototype');
  }
  Object.defineProperty(ctor, "super_", { value: superCtor, writable: true, configurable: true });
  Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
}

function promisify(fn) {
  if (typeof fn !== "function") throw new TypeError('The "original" argument must be of type function');
  if (fn[kCustomPromisify]) return fn[kCustomPromisify];
  function promisified(...args) {
    return new Promise((resolve, reject) => {
      fn.call(this, ...args, (err, ...values) => {
        if (err) reject(err);
        else resolve(values.length > 1 ? values : values[0]);
      });
    });
  }
  Object.setPrototypeOf(promisified, Object.getPrototypeOf(fn));
  Object.defineProperty(promisified, kCustomPromisify, { value: promisified });
  return promisified;
}
promisify.custom = kCustomPromisify;

function callbackify(fn) {
  if (typeof fn !== "function") throw new TypeError('The "original" argument must be of type function');
  return function (...args) {
    const cb = args.pop();
    if (typeof cb !== "function") throw new TypeError("The last argument must be of type function");
    Promise.resolve()
      .then(() => fn.apply(this, args))
      .then((v) => queueMicrotask(() => cb(null, v)), (err) => {
        if (!err) {
          const e = new Error("Promise was rejected with a falsy value");
          e.reason = err;
          err = e;
        }
        queueMicrotask(() => cb(err));
      });
  };
}

const isPlainKey = (k) => /^[A-Za-z_$][\w$]*$/.test(k);

function inspect(value, opts) {
  const o = { depth: 2, ...(typeof opts === "object" && opts !== null ? opts : {}) };
  return fmt(value, o.depth, new Set(), o);
}
inspect.custom = kInspect;
inspect.defaultOptions = { depth: 2 };

function fmt(v, depth, seen, o) {
  switch (typeof v) {
    case "string": return seen.size === 0 && o.top ? v : "'" + v.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n") + "'";
    case "number": return Object.is(v, -0) ? "-0" : String(v);
    case "bigint": return v + "n";
    case "undefined": return "undefined";
    case "boolean": return String(v);
    case "symbol": return v.toString();
    case "function": {
      const name = v.name ? `: ${v.name}` : " (anonymous)";
      return /^class\s/.test(Function.prototype.toString.call(v)) ? `[class ${v.name || "(anonymous)"}]` : `[Function${name}]`;
    }
  }
  if (v === null) return "null";
  if (typeof v[kInspect] === "function" && v[kInspect] !== inspect) return String(v[kInspect](depth, o, inspect));
  if (seen.has(v)) return "[Circular *1]";
  if (v instanceof Error) return v.stack && v.stack.includes(v.message) ? `${v.name}: ${v.message}\n${v.stack.replace(/^.*\n?/, "")}`.trimEnd() : `${v.name}: ${v.message}`;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString();
  if (v instanceof RegExp) return String(v);
  if (v instanceof Promise) return "Promise { <unknown> }";
  if (depth < 0) return Array.isArray(v) ? "[Array]" : "[Object]";
  seen.add(v);
  try {
    if (Array.isArray(v)) {
      const items = v.slice(0, 100).map((x) => fmt(x, depth - 1, seen, o));
      if (v.length > 100) items.push(`... ${v.length - 100} more items`);
      return wrap("[", items, "]");
    }
    if (typeof Buffer === "function" && v instanceof Uint8Array && typeof v.inspect === "function") return v.inspect();
    if (ArrayBuffer.isView(v)) {
      const items = Array.from(v.slice(0, 100), (x) => fmt(x, depth - 1, seen, o));
      return `${v.constructor.name}(${v.length}) ` + wrap("[", items, "]");
    }
    if (v instanceof Map) return `Map(${v.size}) ` + wrap("{", [...v].map(([k, x]) => `${fmt(k, depth - 1, seen, o)} => ${fmt(x, depth - 1, seen, o)}`), "}");
    if (v instanceof Set) return `Set(${v.size}) ` + wrap("{", [...v].map((x) => fmt(x, depth - 1, seen, o)), "}");
    const keys = Object.keys(v);
    const items = keys.map((k) => `${isPlainKey(k) ? k : fmt(k, 0, new Set(), o)}: ${fmt(v[k], depth - 1, seen, o)}`);
    for (const s of Object.getOwnPropertySymbols(v)) {
      if (Object.prototype.propertyIsEnumerable.call(v, s)) items.push(`[${s.toString()}]: ${fmt(v[s], depth - 1, seen, o)}`);
    }
    const proto = Object.getPrototypeOf(v);
    const name = proto === null ? "[Object: null prototype] " : proto !== Object.prototype && proto.constructor && proto.constructor.name ? proto.constructor.name + " " : "";
    if (items.length === 0) return name + "{}";
    return name + wrap("{", items, "}");
  } finally {
    seen.delete(v);
  }
}

function wrap(open, items, close) {
  if (items.length === 0) return open + close;
  const one = `${open} ${items.join(", ")} ${close}`;
  if (one.length <= 72 && !one.includes("\n")) return one;
  return `${open}\n  ${items.join(",\n").split("\n").join("\n  ")}\n${close}`;
}

function format(...args) { return formatWithOptions({}, ...args); }

function formatWithOptions(opts, f, ...args) {
  if (typeof f !== "string") return [f, ...args].map((a) => (typeof a === "string" ? a : inspect(a, opts))).join(" ");
  let i = 0;
  let out = f.replace(/%([sdifjoOc%])/g, (m, c) => {
    if (c === "%") return "%";
    if (i >= args.length) return m;
    const a = args[i++];
    switch (c) {
      case "s":
        if (typeof a === "bigint") return a + "n";
        if (typeof a === "symbol") return a.toString();
        if (typeof a === "object" && a !== null) return inspect(a, { ...opts, depth: 0 });
        return String(a);
      case "d": return typeof a === "bigint" ? a + "n" : typeof a === "symbol" ? "NaN" : String(Number(a));
      case "i": return typeof a === "bigint" ? a + "n" : typeof a === "symbol" ? "NaN" : String(parseInt(a));
      case "f": return typeof a === "symbol" ? "NaN" : String(parseFloat(a));
      case "j": try { return JSON.stringify(a); } catch { return "[Circular]"; }
      case "o": case "O": return inspect(a, opts);
      case "c": return "";
    }
  });
  for (; i < args.length; i++) out += " " + (typeof args[i] === "string" ? args[i] : inspect(args[i], opts));
  return out;
}

const tag = (v) => Object.prototype.toString.call(v).slice(8, -1);
const taTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get;
const types = {
  isDate: (v) => v instanceof Date,
  isRegExp: (v) => v instanceof RegExp,
  isPromise: (v) => v instanceof Promise,
  isMap: (v) => v instanceof Map,
  isSet: (v) => v instanceof Set,
  isWeakMap: (v) => v instanceof WeakMap,
  isWeakSet: (v) => v instanceof WeakSet,
  isNativeError: (v) => v instanceof Error,
  isArrayBuffer: (v) => v instanceof ArrayBuffer,
  isSharedArrayBuffer: (v) => typeof SharedArrayBuffer !== "undefined" && v instanceof SharedArrayBuffer,
  isAnyArrayBuffer: (v) => v instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && v instanceof SharedArrayBuffer),
  isArrayBufferView: (v) => ArrayBuffer.isView(v),
  isTypedArray: (v) => taTag.call(v) !== undefined,
  isUint8Array: (v) => taTag.call(v) === "Uint8Array",
  isUint8ClampedArray: (v) => taTag.call(v) === "Uint8ClampedArray",
  isUint16Array: (v) => taTag.call(v) === "Uint16Array",
  isUint32Array: (v) => taTag.call(v) === "Uint32Array",
  isInt8Array: (v) => taTag.call(v) === "Int8Array",
  isInt16Array: (v) => taTag.call(v) === "Int16Array",
  isInt32Array: (v) => taTag.call(v) === "Int32Array",
  isFloat32Array: (v) => taTag.call(v) === "Float32Array",
  isFloat64Array: (v) => taTag.call(v) === "Float64Array",
  isBigInt64Array: (v) => taTag.call(v) === "BigInt64Array",
  isBigUint64Array: (v) => taTag.call(v) === "BigUint64Array",
  isDataView: (v) => v instanceof DataView,
  isAsyncFunction: (v) => typeof v === "function" && tag(v) === "AsyncFunction",
  isGeneratorFunction: (v) => typeof v === "function" && /GeneratorFunction$/.test(tag(v)),
  isGeneratorObject: (v) => tag(v) === "Generator",
  isBoxedPrimitive: (v) => v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof BigInt || v instanceof Symbol,
  isSymbolObject: (v) => typeof v === "object" && v instanceof Symbol,
  isProxy: () => false,
};

function deprecate(fn, msg, code) {
  let warned = false;
  return function (...args) {
    if (!warned) {
      warned = true;
      console.warn(`[${code || "DEP"}] DeprecationWarning: ${msg}`);
    }
    return new.target ? Reflect.construct(fn, args, new.target) : fn.apply(this, args);
  };
}

function isDeepStrictEqual(a, b) { return deepEqual(a, b, new Map()); }

function deepEqual(a, b, memo) {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (tag(a) !== tag(b)) return false;
  if (memo.get(a) === b) return true;
  memo.set(a, b);
  if (a instanceof Date) return Object.is(a.getTime(), b.getTime());
  if (a instanceof RegExp) return String(a) === String(b) && a.lastIndex === b.lastIndex;
  if (a instanceof Error && (a.message !== b.message || a.name !== b.name)) return false;
  if (ArrayBuffer.isView(a)) {
    if (a.byteLength !== b.byteLength) return false;
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength), y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  }
  if (a instanceof ArrayBuffer) return deepEqual(new Uint8Array(a), new Uint8Array(b), memo);
  if (a instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k), memo)) return false;
  }
  if (a instanceof Set) {
    if (a.size !== b.size) return false;
    outer: for (const v of a) {
      if (b.has(v)) continue;
      if (typeof v === "object" && v !== null) for (const w of b) if (deepEqual(v, w, memo)) continue outer;
      return false;
    }
  }
  if (a instanceof Number || a instanceof String || a instanceof Boolean) if (!Object.is(a.valueOf(), b.valueOf())) return false;
  const ka = Reflect.ownKeys(a).filter((k) => Object.prototype.propertyIsEnumerable.call(a, k));
  const kb = Reflect.ownKeys(b).filter((k) => Object.prototype.propertyIsEnumerable.call(b, k));
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.propertyIsEnumerable.call(b, k)) return false;
    if (!deepEqual(a[k], b[k], memo)) return false;
  }
  return true;
}

module.exports = {
  inherits, promisify, callbackify, format, formatWithOptions, inspect, types, deprecate, isDeepStrictEqual,
  TextEncoder: globalThis.TextEncoder, TextDecoder: globalThis.TextDecoder,
  isArray: Array.isArray, debuglog: () => () => {}, debug: () => () => {},
  // eslint-disable-next-line no-control-regex
  stripVTControlCharacters: (s) => String(s).replace(/\u001b\[[0-9;]*[A-Za-z]/g, ""),
  toUSVString: (s) => String(s).toWellFormed(),
  isError: (v) => v instanceof Error, isFunction: (v) => typeof v === "function", isString: (v) => typeof v === "string",
  isNumber: (v) => typeof v === "number", isObject: (v) => v !== null && typeof v === "object",
  isPrimitive: (v) => v === null || (typeof v !== "object" && typeof v !== "function"), isUndefined: (v) => v === undefined,
  isNull: (v) => v === null, isNullOrUndefined: (v) => v == null, isBoolean: (v) => typeof v === "boolean",
  isSymbol: (v) => typeof v === "symbol", isRegExp: (v) => v instanceof RegExp, isDate: (v) => v instanceof Date,
};
