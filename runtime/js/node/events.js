// exports: EventEmitter once on errorMonitor captureRejectionSymbol defaultMaxListeners listenerCount getEventListeners setMaxListeners
"use strict";
// node:events: EventEmitter.
const errorMonitor = Symbol("events.errorMonitor");
const captureRejectionSymbol = Symbol.for("nodejs.rejection");
const kCapture = Symbol("kCapture");
let defaultMaxListeners = 10;

function checkListener(l) {
  if (typeof l !== "function") {
    const e = new TypeError(`The "listener" argument must be of type function. Received ${l === null ? "null" : typeof l}`);
    e.code = "ERR_INVALID_ARG_TYPE";
    throw e;
  }
}

function EventEmitter(opts) {
  EventEmitter.init.call(this, opts);
}
EventEmitter.prototype._events = undefined;
EventEmitter.prototype._eventsCount = 0;
EventEmitter.prototype._maxListeners = undefined;
EventEmitter.init = function (opts) {
  if (this._events === undefined || this._events === Object.getPrototypeOf(this)._events) {
    this._events = Object.create(null);
    this._eventsCount = 0;
  }
  this._maxListeners = this._maxListeners || undefined;
  if (opts && opts.captureRejections) this[kCapture] = true;
};

function addListener(target, type, listener, prepend) {
  checkListener(listener);
  let events = target._events;
  if (events === undefined) {
    events = target._events = Object.create(null);
    target._eventsCount = 0;
  } else if (events.newListener !== undefined) {
    target.emit("newListener", type, listener.listener ? listener.listener : listener);
    events = target._events;
  }
  const existing = events[type];
  if (existing === undefined) {
    events[type] = listener;
    target._eventsCount++;
  } else if (typeof existing === "function") {
    events[type] = prepend ? [listener, existing] : [existing, listener];
  } else if (prepend) {
    existing.unshift(listener);
  } else {
    existing.push(listener);
  }
  return target;
}

function onceWrapper(target, type, listener) {
  const state = { fired: false, target, type, listener };
  const wrapped = function (...args) {
    if (!state.fired) {
      state.target.removeListener(state.type, wrapped);
      state.fired = true;
      return state.listener.apply(state.target, args);
    }
  };
  wrapped.listener = listener;
  return wrapped;
}

const proto = EventEmitter.prototype;
proto.setMaxListeners = function (n) { this._maxListeners = n; return this; };
proto.getMaxListeners = function () { return this._maxListeners === undefined ? defaultMaxListeners : this._maxListeners; };
proto.on = proto.addListener = function (type, listener) { return addListener(this, type, listener, false); };
proto.prependListener = function (type, listener) { return addListener(this, type, listener, true); };
proto.once = function (type, listener) { checkListener(listener); return this.on(type, onceWrapper(this, type, listener)); };
proto.prependOnceListener = function (type, listener) { checkListener(listener); return this.prependListener(type, onceWrapper(this, type, listener)); };
proto.off = proto.removeListener = function (type, listener) {
  checkListener(listener);
  const events = this._events;
  if (events === undefined) return this;
  const list = events[type];
  if (list === undefined) return this;
  if (list === listener || list.listener === listener) {
    if (--this._eventsCount === 0) this._events = Object.create(null);
    else delete events[type];
    if (events.removeListener) this.emit("removeListener", type, list.listener || listener);
  } else if (typeof list !== "function") {
    let pos = -1;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i] === listener || list[i].listener === listener) { pos = i; break; }
    }
    if (pos < 0) return this;
    list.splice(pos, 1);
    if (list.length === 1) events[type] = list[0];
    if (events.removeListener !== undefined) this.emit("removeListener", type, listener);
  }
  return this;
};
proto.removeAllListeners = function (type) {
  if (this._events === undefined) return this;
  if (type === undefined) {
    this._events = Object.create(null);
    this._eventsCount = 0;
  } else if (this._events[type] !== undefined) {
    if (--this._eventsCount === 0) this._events = Object.create(null);
    else delete this._events[type];
  }
  return this;
};
proto.emit = function (type, ...args) {
  const events = this._events;
  if (type === "error" && events !== undefined && events[errorMonitor] !== undefined) this.emit(errorMonitor, ...args);
  const handler = events === undefined ? undefined : events[type];
  if (handler === undefined) {
    if (type === "error") {
      const er = args[0];
      if (er instanceof Error) throw er;
      const e = new Error(`Unhandled error. (${er})`);
      e.code = "ERR_UNHANDLED_ERROR";
      e.context = er;
      throw e;
    }
    return false;
  }
  const list = typeof handler === "function" ? [handler] : handler.slice();
  for (const fn of list) {
    const r = fn.apply(this, args);
    if (this[kCapture] && r !== undefined && r !== null && typeof r.then === "function") {
      r.then(undefined, (err) => {
        if (typeof this[captureRejectionSymbol] === "function") this[captureRejectionSymbol](err, type, ...args);
        else this.emit("error", err);
      });
    }
  }
  return true;
};
proto.listeners = function (type) {
  const l = this._events === undefined ? undefined : this._events[type];
  if (l === undefined) return [];
  return (typeof l === "function" ? [l] : l).map((f) => f.listener || f);
};
proto.rawListeners = function (type) {
  const l = this._events === undefined ? undefined : this._events[type];
  return l === undefined ? [] : typeof l === "function" ? [l] : l.slice();
};
proto.listenerCount = function (type, listener) {
  const l = this._events === undefined ? undefined : this._events[type];
  if (l === undefined) return 0;
  const all = typeof l === "function" ? [l] : l;
  return listener === undefined ? all.length : all.filter((f) => f === listener || f.listener === listener).length;
};
proto.eventNames = function () { return this._events === undefined ? [] : Reflect.ownKeys(this._events); };

// once resolves with the arguments of emitter's next type event; an "error" first rejects.
function once(emitter, type, options) {
  return new Promise((resolve, reject) => {
    const onError = (err) => { emitter.removeListener(type, onEvent); reject(err); };
    const onEvent = (...args) => { if (type !== "error") emitter.removeListener("error", onError); resolve(args); };
    if (typeof emitter.addEventListener === "function" && typeof emitter.on !== "function") {
      emitter.addEventListener(type, (...args) => resolve(args), { once: true });
      return;
    }
    emitter.once(type, onEvent);
    if (type !== "error") emitter.once("error", onError);
    const signal = options && options.signal;
    if (signal) {
      signal.addEventListener("abort", () => {
        emitter.removeListener(type, onEvent);
        emitter.removeListener("error", onError);
        reject(new DOMException("The operation was aborted", "AbortError"));
      }, { once: true });
    }
  });
}

function on() {
  const e = new Error("events.on() is not implemented in isobox");
  e.code = "ERR_NOT_IMPLEMENTED";
  throw e;
}

EventEmitter.EventEmitter = EventEmitter;
EventEmitter.once = once;
EventEmitter.on = on;
EventEmitter.errorMonitor = errorMonitor;
EventEmitter.captureRejectionSymbol = captureRejectionSymbol;
Object.defineProperty(EventEmitter, "defaultMaxListeners", {
  get: () => defaultMaxListeners,
  set: (n) => { defaultMaxListeners = n; },
  enumerable: true,
});
Object.defineProperty(EventEmitter, "captureRejections", {
  get: () => !!proto[kCapture],
  set: (v) => { proto[kCapture] = !!v; },
  enumerable: true,
});
EventEmitter.listenerCount = (emitter, type) => emitter.listenerCount(type);
EventEmitter.getEventListeners = (emitter, type) => emitter.listeners(type);
EventEmitter.setMaxListeners = (n, ...targets) => {
  if (targets.length === 0) defaultMaxListeners = n;
  for (const t of targets) t.setMaxListeners(n);
};
module.exports = EventEmitter;
