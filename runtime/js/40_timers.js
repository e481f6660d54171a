// 40_timers.js: setTimeout/setInterval and their clear functions on the host's one-shot
// timers and structuredClone (crypto is 45_crypto.js).
// queueMicrotask is native to QuickJS-ng and not redefined.
{
  const integerArrays = [
    Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array,
  ];

  function expose(name, value) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  }

  // ---- timers ----

  const timers = new Map(); // timer id as returned to the program -> current host timer id
  let nextTimerId = 1;

  // toTimeout converts like WebIDL's `long`, as browsers do (NaN and Infinity become 0,
  // values wrap modulo 2^32); negative timeouts mean 0.
  const toTimeout = (timeout) => Math.max(0, +timeout | 0);

  function schedule(handler, timeout, args, repeat) {
    if (typeof handler !== "function") {
      throw new TypeError("The timer handler must be a function (code strings are not supported)");
    }
    const id = nextTimerId++;
    const ms = toTimeout(timeout);
    const arm = () => timers.set(id, host.setTimer(ms, fire));
    // An exception from the handler propagates to the host (as an uncaught error) but an
    // interval is re-armed first, as in browsers; clearing it inside the handler stops that.
    const fire = () => {
      if (!repeat) timers.delete(id);
      try {
        Reflect.apply(handler, globalThis, args);
      } finally {
        if (repeat && timers.has(id)) arm();
      }
    };
    arm();
    return id;
  }

  function clearTimer(id) {
    const key = +id | 0;
    const hostId = timers.get(key);
    if (hostId === undefined) return;
    timers.delete(key);
    host.clearTimer(hostId);
  }

  expose("setTimeout", function setTimeout(handler, timeout = 0, ...args) {
    return schedule(handler, timeout, args, false);
  });
  expose("setInterval", function setInterval(handler, timeout = 0, ...args) {
    return schedule(handler, timeout, args, true);
  });
  // Timeouts and intervals share one id space, so either function clears either kind.
  expose("clearTimeout", function clearTimeout(id = 0) {
    clearTimer(id);
  });
  expose("clearInterval", function clearInterval(id = 0) {
    clearTimer(id);
  });

  // ---- structuredClone ----

  const errorConstructors = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
  // Platform objects browsers refuse to clone; defined by later files, so looked up lazily.
  const unclonablePlatformTypes = [
    "Event", "EventTarget", "AbortController", "Headers", "Request", "Response", "ReadableStream", "WritableStream", "TransformStream",
    "TextEncoder", "TextDecoder", "FormData", "URL", "URLSearchParams", "URLPattern", "MessageChannel",
  ];

  // is(v, C, check) tells whether v is a C by its internal slots: check (a method of C) throws
  // for anything else. instanceof comes first because exceptions are slow, and most values
  // being cloned are plain objects that fail it at once.
  const is = (v, C, check) => {
    if (!(v instanceof C)) return false;
    try {
      check.call(v);
      return true;
    } catch {
      return false;
    }
  };
  const byteLengthOf = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength").get;
  const sharedByteLengthOf = Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, "byteLength").get;
  const mapSizeOf = Object.getOwnPropertyDescriptor(Map.prototype, "size").get;
  const setSizeOf = Object.getOwnPropertyDescriptor(Set.prototype, "size").get;
  const boxes = [Number, String, Boolean, BigInt];
  const typedArrayName = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get;
  const typedArrays = new Map(
    [...integerArrays, Float16Array, Float32Array, Float64Array].map((C) => [C.name, C]),
  );

  function dataCloneError(what) {
    return new DOMException(`${what} could not be cloned.`, "DataCloneError");
  }

  function describeUnclonable(v) {
    if (typeof v === "symbol") return String(v);
    if (typeof v === "function") return `function ${v.name || "(anonymous)"}`;
    const ctor = v.constructor;
    return `#<${(ctor && ctor.name) || "Object"}>`;
  }

  // defineData creates a property without invoking setters (a "__proto__" key in a cloned
  // object must stay an ordinary key).
  function defineData(target, key, value) {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  }

  function copyArrayBuffer(buffer) {
    if (buffer.detached) throw dataCloneError("An ArrayBuffer is detached and");
    if (!buffer.resizable) return buffer.slice(0);
    const copy = new ArrayBuffer(buffer.byteLength, { maxByteLength: buffer.maxByteLength });
    new Uint8Array(copy).set(new Uint8Array(buffer));
    return copy;
  }

  // Cloner is one run of the structured clone algorithm; memory maps every object already
  // cloned to its clone, which preserves shared references and cycles.
  class Cloner {
    memory = new Map();

    clone(v) {
      if (typeof v === "symbol") throw dataCloneError(describeUnclonable(v));
      if (v === null || (typeof v !== "object" && typeof v !== "function")) return v;
      if (this.memory.has(v)) return this.memory.get(v);
      if (typeof v === "function") throw dataCloneError(describeUnclonable(v));
      // Plain objects (the common case) skip the type checks below.
      const proto = Object.getPrototypeOf(v);
      if (proto === Object.prototype || proto === null) return this.cloneProperties(v, {});
      const simple = this.cloneLeaf(v);
      if (simple !== undefined) {
        this.memory.set(v, simple);
        return simple;
      }
      if (Array.isArray(v)) return this.cloneProperties(v, new Array(v.length));
      if (is(v, Map, mapSizeOf)) return this.cloneMap(v);
      if (is(v, Set, setSizeOf)) return this.cloneSet(v);
      if (ArrayBuffer.isView(v)) return this.cloneView(v);
      if (Error.isError(v) || v instanceof Error) return this.cloneError(v);
      if (this.isUnclonable(v)) throw dataCloneError(describeUnclonable(v));
      return this.cloneProperties(v, {});
    }

    // cloneLeaf clones the kinds of objects that hold no other values, or returns undefined.
    cloneLeaf(v) {
      for (const C of boxes) {
        if (is(v, C, C.prototype.valueOf)) return Object(C.prototype.valueOf.call(v));
      }
      if (is(v, Date, Date.prototype.getTime)) return new Date(Date.prototype.getTime.call(v));
      if (v instanceof RegExp) return new RegExp(v.source, v.flags);
      if (is(v, ArrayBuffer, byteLengthOf)) return copyArrayBuffer(v);
      if (is(v, SharedArrayBuffer, sharedByteLengthOf)) throw dataCloneError("A SharedArrayBuffer");
      if (v instanceof DOMException) return new DOMException(v.message, v.name);
      if (typeof Blob === "function" && v instanceof Blob) {
        return typeof File === "function" && v instanceof File
          ? new File([v], v.name, { type: v.type, lastModified: v.lastModified })
          : v.slice(0, v.size, v.type);
      }
      return undefined;
    }

    isUnclonable(v) {
      if (v instanceof Promise || v instanceof WeakRef || v instanceof FinalizationRegistry) return true;
      if (is(v, Symbol, Symbol.prototype.valueOf)) return true;
      if (is(v, WeakMap, WeakMap.prototype.has) || is(v, WeakSet, WeakSet.prototype.has)) return true;
      return unclonablePlatformTypes.some((name) => typeof globalThis[name] === "function" && v instanceof globalThis[name]);
    }

    // cloneProperties copies own enumerable string-keyed properties (getters are invoked,
    // prototypes are not kept), as the algorithm does for arrays and ordinary objects.
    cloneProperties(v, out) {
      this.memory.set(v, out);
      for (const key of Object.keys(v)) {
        if (Object.prototype.hasOwnProperty.call(v, key)) defineData(out, key, this.clone(v[key]));
      }
      return out;
    }

    cloneMap(v) {
      const out = new Map();
      this.memory.set(v, out);
      for (const [key, value] of [...Map.prototype.entries.call(v)]) out.set(this.clone(key), this.clone(value));
      return out;
    }

    cloneSet(v) {
      const out = new Set();
      this.memory.set(v, out);
      for (const value of [...Set.prototype.values.call(v)]) out.add(this.clone(value));
      return out;
    }

    cloneView(v) {
      const buffer = this.clone(v.buffer);
      const name = typedArrayName.call(v); // undefined for a DataView
      const out = name
        ? new (typedArrays.get(name))(buffer, v.byteOffset, v.length)
        : new DataView(buffer, v.byteOffset, v.byteLength);
      this.memory.set(v, out);
      return out;
    }

    // cloneError keeps name (one of the standard error types, else "Error"), message, stack
    // and cause, and gives the clone the matching standard prototype.
    cloneError(v) {
      const name = String(v.name);
      const Ctor = Object.prototype.hasOwnProperty.call(errorConstructors, name) ? errorConstructors[name] : Error;
      const out = Object.create(Ctor.prototype);
      this.memory.set(v, out);
      const message = Object.getOwnPropertyDescriptor(v, "message");
      if (message && "value" in message) {
        Object.defineProperty(out, "message", { value: String(message.value), writable: true, configurable: true });
      }
      if (typeof v.stack === "string") Object.defineProperty(out, "stack", { value: v.stack, writable: true, configurable: true });
      if (Object.prototype.hasOwnProperty.call(v, "cause")) {
        Object.defineProperty(out, "cause", { value: this.clone(v.cause), writable: true, configurable: true });
      }
      return out;
    }
  }

  // transferList validates options.transfer: only ArrayBuffers can be transferred here.
  function transferList(options) {
    if (options === undefined || options === null) return [];
    if (typeof options !== "object" && typeof options !== "function") throw new TypeError("The options must be an object");
    const transfer = options.transfer;
    if (transfer === undefined) return [];
    if (transfer === null || typeof transfer !== "object" || typeof transfer[Symbol.iterator] !== "function") {
      throw new TypeError("options.transfer must be an iterable of transferable objects");
    }
    const list = [...transfer];
    list.forEach((item, i) => {
      if (!is(item, ArrayBuffer, byteLengthOf)) throw new DOMException("Value not transferable", "DataCloneError");
      if (item.detached) throw new DOMException("An ArrayBuffer is detached and could not be transferred.", "DataCloneError");
      if (list.indexOf(item) !== i) throw new DOMException("ArrayBuffer at index " + i + " is a duplicate.", "DataCloneError");
    });
    return list;
  }

  expose("structuredClone", function structuredClone(value, options = undefined) {
    if (arguments.length === 0) throw new TypeError("structuredClone requires 1 argument, but only 0 present.");
    const transfer = transferList(options);
    const result = new Cloner().clone(value);
    // The clone already holds copies; transferring then only has to detach the originals,
    // which is all a program can observe.
    for (const buffer of transfer) buffer.transfer();
    return result;
  });
}
