// 25_events.js: Event, CustomEvent, EventTarget, AbortController and AbortSignal (DOM
// Standard). There is no node tree here, so an event's path is just its target: listeners
// registered with capture run first, then the others, all with eventPhase AT_TARGET.
// DOMException is native to QuickJS-ng.
{
  const NONE = 0;
  const AT_TARGET = 2;
  const phases = { NONE, CAPTURING_PHASE: 1, AT_TARGET, BUBBLING_PHASE: 3 };
  const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

  // Internals shared between the classes below, filled in by their static blocks.
  let dispatchEvent; // (target, event, trusted) -> !canceled
  let isEvent;
  let listenersOf; // (target, type) -> listener records, or undefined
  let removeListener; // (target, type, record)
  let isAbortSignal;
  let addAbortAlgorithm; // (signal, fn): run fn when the signal aborts, before the abort event
  let abortSignal; // (signal, reason): the standard's "signal abort"
  let newAbortSignal;

  function dictionary(value, what) {
    if (value === undefined || value === null) return {};
    if (typeof value !== "object" && typeof value !== "function") throw new TypeError(`${what} must be an object`);
    return value;
  }

  function requireArgs(args, n, what) {
    if (args.length < n) {
      throw new TypeError(`Failed to execute '${what}': ${n} argument${n > 1 ? "s" : ""} required, but only ${args.length} present.`);
    }
  }

  // reportException is what browsers do with an exception thrown by a listener: log it and go
  // on with the remaining listeners.
  function reportException(e) {
    try {
      console.error("Uncaught", e);
    } catch {
      // Logging failed too; nothing else can be done.
    }
  }

  class Event {
    #type;
    #bubbles;
    #cancelable;
    #composed;
    #timeStamp = performance.now();
    #target = null;
    #currentTarget = null;
    #phase = NONE;
    #canceled = false;
    #stopPropagation = false;
    #stopImmediatePropagation = false;
    #dispatching = false;
    #inPassiveListener = false;
    #isTrusted = false;

    constructor(type, eventInitDict = undefined) {
      requireArgs(arguments, 1, "Event constructor");
      const init = dictionary(eventInitDict, "The event init");
      this.#type = `${type}`;
      this.#bubbles = Boolean(init.bubbles);
      this.#cancelable = Boolean(init.cancelable);
      this.#composed = Boolean(init.composed);
    }

    get type() {
      return this.#type;
    }
    get target() {
      return this.#target;
    }
    get srcElement() {
      return this.#target;
    }
    get currentTarget() {
      return this.#currentTarget;
    }
    get eventPhase() {
      return this.#phase;
    }
    get bubbles() {
      return this.#bubbles;
    }
    get cancelable() {
      return this.#cancelable;
    }
    get composed() {
      return this.#composed;
    }
    get isTrusted() {
      return this.#isTrusted;
    }
    get timeStamp() {
      return this.#timeStamp;
    }
    get defaultPrevented() {
      return this.#canceled;
    }
    get returnValue() {
      return !this.#canceled;
    }
    set returnValue(value) {
      if (!value) this.preventDefault();
    }
    get cancelBubble() {
      return this.#stopPropagation;
    }
    set cancelBubble(value) {
      if (value) this.#stopPropagation = true;
    }

    composedPath() {
      return this.#dispatching ? [this.#currentTarget] : [];
    }

    stopPropagation() {
      this.#stopPropagation = true;
    }

    stopImmediatePropagation() {
      this.#stopPropagation = true;
      this.#stopImmediatePropagation = true;
    }

    preventDefault() {
      if (this.#cancelable && !this.#inPassiveListener) this.#canceled = true;
    }

    // initEvent is the legacy way to set an event's type and flags (document.createEvent's
    // partner); it does nothing while the event is being dispatched.
    initEvent(type, bubbles = false, cancelable = false) {
      requireArgs(arguments, 1, "initEvent");
      if (this.#dispatching) return;
      this.#stopPropagation = false;
      this.#stopImmediatePropagation = false;
      this.#canceled = false;
      this.#isTrusted = false;
      this.#target = null;
      this.#type = `${type}`;
      this.#bubbles = Boolean(bubbles);
      this.#cancelable = Boolean(cancelable);
    }

    [inspectSymbol](depth, options, inspect) {
      const shown = { type: this.#type, defaultPrevented: this.#canceled, cancelable: this.#cancelable, timeStamp: this.#timeStamp };
      return `${this.constructor.name} ${inspect(shown, options)}`;
    }

    static {
      isEvent = (v) => v !== null && typeof v === "object" && #type in v;

      // invoke runs the target's listeners for one pass (capture or not) over a snapshot of
      // the list, skipping listeners removed meanwhile.
      const invoke = (target, event, capture) => {
        if (event.#stopPropagation) return;
        const records = listenersOf(target, event.#type);
        if (!records) return;
        for (const record of records.slice()) {
          if (record.removed || record.capture !== capture) continue;
          if (record.once) removeListener(target, event.#type, record);
          event.#inPassiveListener = record.passive;
          try {
            const cb = record.callback;
            if (typeof cb === "function") Reflect.apply(cb, target, [event]);
            else {
              const handleEvent = cb.handleEvent;
              if (typeof handleEvent !== "function") throw new TypeError("The listener's handleEvent is not a function");
              Reflect.apply(handleEvent, cb, [event]);
            }
          } catch (e) {
            reportException(e);
          }
          event.#inPassiveListener = false;
          if (event.#stopImmediatePropagation) break;
        }
      };

      dispatchEvent = (target, event, trusted) => {
        if (event.#dispatching) throw new DOMException("The event is already being dispatched.", "InvalidStateError");
        event.#isTrusted = trusted;
        event.#dispatching = true;
        event.#target = target;
        event.#currentTarget = target;
        event.#phase = AT_TARGET;
        invoke(target, event, true);
        invoke(target, event, false);
        event.#phase = NONE;
        event.#currentTarget = null;
        event.#dispatching = false;
        event.#stopPropagation = false;
        event.#stopImmediatePropagation = false;
        return !event.#canceled;
      };
    }
  }

  class CustomEvent extends Event {
    #detail;

    constructor(type, eventInitDict = undefined) {
      requireArgs(arguments, 1, "CustomEvent constructor");
      super(type, eventInitDict);
      const { detail } = dictionary(eventInitDict, "The event init");
      this.#detail = detail === undefined ? null : detail;
    }

    get detail() {
      return this.#detail;
    }
  }

  // flattenOptions reads addEventListener's options (a boolean meaning capture, or a dict).
  function flattenOptions(options) {
    if (typeof options === "boolean") return { capture: options, once: false, passive: false, signal: undefined };
    const o = dictionary(options, "The listener options");
    const signal = o.signal;
    if (signal !== undefined && !isAbortSignal(signal)) throw new TypeError("The listener options' signal must be an AbortSignal");
    return { capture: Boolean(o.capture), once: Boolean(o.once), passive: Boolean(o.passive), signal };
  }

  function checkCallback(callback) {
    if (callback !== null && typeof callback !== "object" && typeof callback !== "function") {
      throw new TypeError("The listener must be a function or an object with a handleEvent method");
    }
  }

  class EventTarget {
    #listeners = new Map(); // type -> array of {callback, capture, once, passive, removed}

    addEventListener(type, callback, options = undefined) {
      requireArgs(arguments, 2, "addEventListener");
      type = `${type}`;
      checkCallback(callback);
      const { capture, once, passive, signal } = flattenOptions(options);
      if (callback === null || (signal && signal.aborted)) return;
      let records = this.#listeners.get(type);
      if (!records) this.#listeners.set(type, (records = []));
      if (records.some((r) => r.callback === callback && r.capture === capture)) return;
      const record = { callback, capture, once, passive, removed: false };
      records.push(record);
      if (signal) addAbortAlgorithm(signal, () => this.#remove(type, record));
    }

    removeEventListener(type, callback, options = undefined) {
      requireArgs(arguments, 2, "removeEventListener");
      type = `${type}`;
      checkCallback(callback);
      const capture = typeof options === "boolean" ? options : Boolean(dictionary(options, "The listener options").capture);
      const records = this.#listeners.get(type);
      const record = records && records.find((r) => r.callback === callback && r.capture === capture);
      if (record) this.#remove(type, record);
    }

    dispatchEvent(event) {
      requireArgs(arguments, 1, "dispatchEvent");
      this.#listeners; // brand check: throws TypeError for a non-EventTarget `this`
      if (!isEvent(event)) throw new TypeError("Failed to execute 'dispatchEvent': parameter 1 is not of type 'Event'.");
      return dispatchEvent(this, event, false);
    }

    #remove(type, record) {
      record.removed = true;
      const records = this.#listeners.get(type);
      if (!records) return;
      const rest = records.filter((r) => r !== record);
      if (rest.length) this.#listeners.set(type, rest);
      else this.#listeners.delete(type);
    }

    static {
      listenersOf = (target, type) => target.#listeners.get(type);
      removeListener = (target, type, record) => target.#remove(type, record);
    }
  }

  // enforceRange converts like WebIDL's [EnforceRange] unsigned long long.
  function enforceRange(value, what) {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new TypeError(`${what} is not a finite number`);
    const i = Math.trunc(n);
    if (i < 0 || i > Number.MAX_SAFE_INTEGER) throw new TypeError(`${what} is outside the accepted range`);
    return i;
  }

  const constructKey = Symbol("AbortSignal"); // only this file may construct signals

  class AbortSignal extends EventTarget {
    #aborted = false;
    #reason = undefined;
    #algorithms = [];
    #onabort = null;
    #handler = null; // the listener that calls onabort, while one is set
    #sources = []; // for a signal made by any(): the non-dependent signals it follows
    #dependents = new Set(); // WeakRefs to signals made by any() that follow this one
    #sweepAt = 16;

    constructor(key) {
      if (key !== constructKey) throw new TypeError("Illegal constructor");
      super();
    }

    static abort(reason = undefined) {
      const signal = new AbortSignal(constructKey);
      signal.#aborted = true;
      signal.#reason = reason === undefined ? abortError() : reason;
      return signal;
    }

    static timeout(milliseconds) {
      requireArgs(arguments, 1, "AbortSignal.timeout");
      const ms = enforceRange(milliseconds, "The timeout");
      const signal = new AbortSignal(constructKey);
      host.setTimer(ms, () => signal.#abort(new DOMException("signal timed out", "TimeoutError")));
      return signal;
    }

    static any(signals) {
      requireArgs(arguments, 1, "AbortSignal.any");
      if (signals === null || typeof signals !== "object" || typeof signals[Symbol.iterator] !== "function") {
        throw new TypeError("AbortSignal.any() takes an iterable of AbortSignals");
      }
      const list = [...signals];
      for (const s of list) if (!isAbortSignal(s)) throw new TypeError("AbortSignal.any() takes an iterable of AbortSignals");
      const result = new AbortSignal(constructKey);
      const aborted = list.find((s) => s.#aborted);
      if (aborted) {
        result.#aborted = true;
        result.#reason = aborted.#reason;
        return result;
      }
      for (const s of list) {
        for (const source of s.#sources.length ? s.#sources : [s]) {
          if (result.#sources.includes(source)) continue;
          result.#sources.push(source);
          source.#addDependent(result);
        }
      }
      return result;
    }

    get aborted() {
      return this.#aborted;
    }

    get reason() {
      return this.#reason;
    }

    throwIfAborted() {
      if (this.#aborted) throw this.#reason;
    }

    get onabort() {
      return this.#onabort;
    }

    // Like every event handler attribute, onabort is one listener, added when it is first
    // set and removed when it is set to null.
    set onabort(value) {
      const handler = typeof value === "function" || (typeof value === "object" && value !== null) ? value : null;
      this.#onabort = handler;
      if (handler && !this.#handler) {
        this.#handler = (event) => {
          if (typeof this.#onabort === "function") Reflect.apply(this.#onabort, this, [event]);
        };
        this.addEventListener("abort", this.#handler);
      } else if (!handler && this.#handler) {
        this.removeEventListener("abort", this.#handler);
        this.#handler = null;
      }
    }

    // addDependent keeps only a weak reference, so that signals made by any() for one request
    // can be collected while a long-lived source signal lives on; dead references are swept
    // whenever the set has doubled.
    #addDependent(signal) {
      this.#dependents.add(new WeakRef(signal));
      if (this.#dependents.size < this.#sweepAt) return;
      for (const ref of this.#dependents) if (!ref.deref()) this.#dependents.delete(ref);
      this.#sweepAt = Math.max(16, this.#dependents.size * 2);
    }

    // abort is the standard's "signal abort": dependents are marked aborted first, then each
    // signal runs its algorithms and fires its abort event.
    #abort(reason) {
      if (this.#aborted) return;
      this.#aborted = true;
      this.#reason = reason === undefined ? abortError() : reason;
      const dependents = [];
      for (const ref of this.#dependents) {
        const d = ref.deref();
        if (d && !d.#aborted) {
          d.#aborted = true;
          d.#reason = this.#reason;
          dependents.push(d);
        }
      }
      this.#dependents.clear();
      this.#runAbortSteps();
      for (const d of dependents) d.#runAbortSteps();
    }

    #runAbortSteps() {
      const algorithms = this.#algorithms;
      this.#algorithms = [];
      for (const fn of algorithms) fn();
      dispatchEvent(this, new Event("abort"), true);
    }

    [inspectSymbol](depth, options, inspect) {
      return `AbortSignal ${inspect({ aborted: this.#aborted }, options)}`;
    }

    static {
      isAbortSignal = (v) => v !== null && typeof v === "object" && #aborted in v;
      addAbortAlgorithm = (signal, fn) => signal.#algorithms.push(fn);
      abortSignal = (signal, reason) => signal.#abort(reason);
      newAbortSignal = () => new AbortSignal(constructKey);
    }
  }

  function abortError() {
    return new DOMException("signal is aborted without reason", "AbortError");
  }

  class AbortController {
    #signal = newAbortSignal();

    get signal() {
      return this.#signal;
    }

    abort(reason = undefined) {
      abortSignal(this.#signal, reason);
    }
  }

  for (const [name, value] of Object.entries(phases)) {
    for (const target of [Event, Event.prototype]) {
      Object.defineProperty(target, name, { value, enumerable: true });
    }
  }
  for (const C of [Event, CustomEvent, EventTarget, AbortSignal, AbortController]) {
    Object.defineProperty(C.prototype, Symbol.toStringTag, { value: C.name, configurable: true });
    Object.defineProperty(globalThis, C.name, { value: C, writable: true, configurable: true, enumerable: false });
  }
}
