// 45_globals.js: the small Workers globals: self, navigator, performance (with a real
// timeOrigin), scheduler.wait, and MessageChannel / MessagePort / MessageEvent within one
// sandbox.
{
  const expose = (name, value) =>
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  const tag = (C) => Object.defineProperty(C.prototype, Symbol.toStringTag, { value: C.name, configurable: true });
  const illegal = Symbol("illegal constructor");
  const clone = globalThis.structuredClone; // captured: the guest may replace the global
  const dispatch = EventTarget.prototype.dispatchEvent;

  // ---- self ----
  // Workers (and every worker scope) have self === globalThis.
  Object.defineProperty(globalThis, "self", {
    get: () => globalThis,
    set(v) {
      Object.defineProperty(globalThis, "self", { value: v, writable: true, configurable: true, enumerable: true });
    },
    configurable: true,
    enumerable: true,
  });

  // ---- navigator ----
  class Navigator {
    constructor(key) {
      if (key !== illegal) throw new TypeError("Illegal constructor");
    }
    // Cloudflare Workers answers this constant, and libraries test for it to detect Workers.
    get userAgent() {
      return "Cloudflare-Workers";
    }
    // A sandbox runs on one thread of the host.
    get hardwareConcurrency() {
      return 1;
    }
    get language() {
      return "en";
    }
    get languages() {
      return ["en"];
    }
  }
  tag(Navigator);
  expose("Navigator", Navigator);
  expose("navigator", new Navigator(illegal));

  // ---- performance ----
  // QuickJS's own performance object has a timeOrigin on the engine's monotonic clock, which
  // the base image reseeds per sandbox; it is not the Unix-epoch time the HR-Time standard
  // defines. This object replaces it: now() is the native one (milliseconds since the
  // sandbox started), and timeOrigin is when that was, in Unix-epoch milliseconds, so that
  // timeOrigin + now() is Date.now(). It is computed on first use and kept while it stays
  // within a millisecond of Date.now() - now() (Date.now has millisecond resolution). A
  // sandbox restored from an image keeps its parent's clock origin with the memory, so both
  // agree; if the wall clock steps or the monotonic clock differs (an image resumed in
  // another process), the value is recomputed.
  const nativePerformance = globalThis.performance;
  const nativeNow = nativePerformance.now;
  const now = () => Reflect.apply(nativeNow, nativePerformance, []);
  let origin;
  const timeOrigin = () => {
    const fresh = Date.now() - now();
    if (origin === undefined || Math.abs(fresh - origin) >= 1) origin = fresh;
    return origin;
  };
  class Performance extends EventTarget {
    constructor(key) {
      if (key !== illegal) throw new TypeError("Illegal constructor");
      super();
    }
    now() {
      return now();
    }
    toJSON() {
      return { timeOrigin: timeOrigin() };
    }
  }
  tag(Performance);
  const performance = new Performance(illegal);
  // An own, non-configurable accessor: the engine's per-sandbox reseed (which defines a
  // timeOrigin data property on globalThis.performance) then leaves it alone.
  Object.defineProperty(performance, "timeOrigin", { get: timeOrigin, enumerable: true, configurable: false });
  expose("Performance", Performance);
  Object.defineProperty(globalThis, "performance", { value: performance, writable: true, configurable: true, enumerable: true });

  // ---- scheduler.wait ----
  // Workers' promise-based sleep: scheduler.wait(ms, {signal}) resolves after ms
  // milliseconds (a host timer), or rejects with the signal's reason when it aborts.
  class Scheduler {
    constructor(key) {
      if (key !== illegal) throw new TypeError("Illegal constructor");
    }
    wait(delay = 0, options = undefined) {
      return new Promise((resolve, reject) => {
        const ms = Math.max(0, +delay | 0);
        if (options !== undefined && options !== null && typeof options !== "object") {
          throw new TypeError("scheduler.wait: the options must be an object");
        }
        const signal = options == null ? undefined : options.signal;
        if (signal !== undefined && !(signal instanceof AbortSignal)) {
          throw new TypeError("scheduler.wait: options.signal must be an AbortSignal");
        }
        if (signal && signal.aborted) {
          reject(signal.reason);
          return;
        }
        let onAbort;
        const id = host.setTimer(ms, () => {
          if (signal) signal.removeEventListener("abort", onAbort);
          resolve();
        });
        if (signal) {
          onAbort = () => {
            host.clearTimer(id);
            reject(signal.reason);
          };
          signal.addEventListener("abort", onAbort, { once: true });
        }
      });
    }
  }
  tag(Scheduler);
  expose("Scheduler", Scheduler);
  expose("scheduler", new Scheduler(illegal));

  // ---- MessageEvent ----
  class MessageEvent extends Event {
    #data;
    #origin;
    #lastEventId;
    #source;
    #ports;

    constructor(type, init = undefined) {
      if (arguments.length < 1) throw new TypeError("Failed to construct 'MessageEvent': 1 argument required, but only 0 present.");
      super(type, init);
      const o = init == null ? {} : init;
      this.#data = o.data === undefined ? null : o.data;
      this.#origin = o.origin === undefined ? "" : `${o.origin}`;
      this.#lastEventId = o.lastEventId === undefined ? "" : `${o.lastEventId}`;
      this.#source = o.source === undefined ? null : o.source;
      this.#ports = o.ports === undefined ? [] : [...o.ports];
      Object.freeze(this.#ports);
    }
    get data() {
      return this.#data;
    }
    get origin() {
      return this.#origin;
    }
    get lastEventId() {
      return this.#lastEventId;
    }
    get source() {
      return this.#source;
    }
    get ports() {
      return this.#ports;
    }
  }
  tag(MessageEvent);
  expose("MessageEvent", MessageEvent);

  // ---- MessageChannel / MessagePort ----
  // Both ports live in this sandbox. postMessage structured-clones the data at once and
  // queues its delivery as a task: one host timer of 0 ms drains one shared queue, one
  // message per task (microtasks run between messages), in the order they were posted. A
  // port delivers only once started (start(), or setting onmessage); until then its
  // messages wait. close() on either side disentangles both: messages not yet delivered are
  // dropped and later posts are ignored. Transferring ports is not supported (a MessagePort
  // in the transfer list or the data is a DataCloneError); ArrayBuffers in the transfer list
  // are detached from the sender as structuredClone does.
  // queue holds {port, data} of started ports in post order, from head on; a port not yet
  // started keeps its messages itself until start(). Every step is O(1) amortized, so a
  // flood of messages costs the guest linear time (its CPU and memory limits bound it).
  const queue = [];
  let head = 0;
  let armed = false;

  function arm() {
    if (armed) return;
    armed = true;
    host.setTimer(0, deliverOne);
  }

  function enqueue(port, data) {
    queue.push({ port, data });
    arm();
  }

  function deliverOne() {
    armed = false;
    // Messages of ports closed since they were queued are dropped here.
    while (head < queue.length && portClosed(queue[head].port)) queue[head++] = undefined;
    if (head >= queue.length) {
      queue.length = 0;
      head = 0;
      return;
    }
    const m = queue[head];
    queue[head++] = undefined;
    if (head >= 1024 && head * 2 >= queue.length) {
      queue.splice(0, head);
      head = 0;
    }
    if (head < queue.length) arm();
    Reflect.apply(dispatch, m.port, [new MessageEvent("message", { data: m.data })]);
  }

  let portClosed;

  class MessagePort extends EventTarget {
    #other = null;
    #pending = []; // messages that arrived before start()
    #started = false;
    #closed = false;
    #onmessage = null;
    #handler = null;

    constructor(key) {
      if (key !== illegal) throw new TypeError("Illegal constructor");
      super();
    }

    postMessage(message, options = undefined) {
      if (arguments.length < 1) throw new TypeError("Failed to execute 'postMessage': 1 argument required, but only 0 present.");
      this.#other; // brand check
      let transfer = options;
      if (options !== undefined && options !== null && !Array.isArray(options)) transfer = options.transfer;
      if (transfer !== undefined && transfer !== null) {
        for (const t of transfer) {
          if (t instanceof MessagePort) throw new DOMException("Transferring a MessagePort is not supported", "DataCloneError");
        }
      }
      const data = clone(message, transfer == null ? undefined : { transfer });
      const target = this.#other;
      if (this.#closed || target === null || target.#closed) return;
      if (target.#started) enqueue(target, data);
      else target.#pending.push(data);
    }

    start() {
      if (this.#started || this.#closed) return;
      this.#started = true;
      for (const data of this.#pending) enqueue(this, data);
      this.#pending = [];
    }

    close() {
      // Disentangling closes both sides; their queued messages are skipped at delivery.
      for (const p of [this, this.#other]) {
        if (p === null) continue;
        p.#closed = true;
        p.#pending = [];
      }
    }

    get onmessage() {
      return this.#onmessage;
    }

    // Setting onmessage starts the port, as the HTML standard says.
    set onmessage(value) {
      const handler = typeof value === "function" || (typeof value === "object" && value !== null) ? value : null;
      this.#onmessage = handler;
      if (handler && !this.#handler) {
        this.#handler = (event) => {
          if (typeof this.#onmessage === "function") Reflect.apply(this.#onmessage, this, [event]);
        };
        this.addEventListener("message", this.#handler);
      } else if (!handler && this.#handler) {
        this.removeEventListener("message", this.#handler);
        this.#handler = null;
      }
      if (handler) this.start();
    }

    static {
      portClosed = (p) => p.#closed;
      MessagePort.entangle = (a, b) => {
        a.#other = b;
        b.#other = a;
      };
    }
  }
  const entangle = MessagePort.entangle;
  delete MessagePort.entangle;
  tag(MessagePort);
  expose("MessagePort", MessagePort);

  class MessageChannel {
    #port1 = new MessagePort(illegal);
    #port2 = new MessagePort(illegal);
    constructor() {
      entangle(this.#port1, this.#port2);
    }
    get port1() {
      return this.#port1;
    }
    get port2() {
      return this.#port2;
    }
  }
  tag(MessageChannel);
  expose("MessageChannel", MessageChannel);
}
