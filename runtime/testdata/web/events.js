// Event, CustomEvent, EventTarget, AbortController, AbortSignal.
(async (assert) => {
  // Event construction
  const e = new Event("ping");
  assert.equal(e.type, "ping");
  assert.equal(e.bubbles, false);
  assert.equal(e.cancelable, false);
  assert.equal(e.composed, false);
  assert.equal(e.defaultPrevented, false);
  assert.equal(e.isTrusted, false);
  assert.equal(e.target, null);
  assert.equal(e.currentTarget, null);
  assert.equal(e.eventPhase, Event.NONE);
  assert.equal(typeof e.timeStamp, "number");
  assert.deepEqual(e.composedPath(), []);
  assert.equal(Event.AT_TARGET, 2);
  assert.equal(e.BUBBLING_PHASE, 3);
  assert.ok(e instanceof Event);
  assert.equal(Object.prototype.toString.call(e), "[object Event]");
  assert.equal(new Event(42).type, "42", "type is converted to a string");
  assert.throws(() => new Event(), TypeError, "type is required");
  assert.throws(() => new Event(Symbol("x")), TypeError);
  assert.throws(() => new Event("x", 1), TypeError, "init must be an object");
  assert.throws(() => Event("x"), TypeError, "must be called with new");
  const ce = new Event("c", { cancelable: true, bubbles: true, composed: true });
  assert.equal(ce.cancelable && ce.bubbles && ce.composed, true);
  ce.preventDefault();
  assert.equal(ce.defaultPrevented, true, "preventDefault on a cancelable event");
  assert.equal(ce.returnValue, false);
  const nc = new Event("n");
  nc.preventDefault();
  assert.equal(nc.defaultPrevented, false, "preventDefault is ignored when not cancelable");
  const rv = new Event("r", { cancelable: true });
  rv.returnValue = false;
  assert.equal(rv.defaultPrevented, true, "returnValue = false cancels");

  // CustomEvent
  const cu = new CustomEvent("custom", { detail: { x: 1 } });
  assert.deepEqual(cu.detail, { x: 1 });
  assert.ok(cu instanceof Event);
  assert.equal(new CustomEvent("c").detail, null, "detail defaults to null");
  assert.equal(Object.prototype.toString.call(cu), "[object CustomEvent]");
  assert.throws(() => new CustomEvent(), TypeError);

  // EventTarget basics
  const t = new EventTarget();
  const calls = [];
  function onPing(ev) {
    calls.push(["fn", this === t, ev.target === t, ev.currentTarget === t, ev.eventPhase]);
  }
  t.addEventListener("ping", onPing);
  t.addEventListener("ping", onPing, false); // duplicate: ignored
  assert.equal(t.dispatchEvent(new Event("ping")), true, "dispatchEvent returns true when not canceled");
  assert.deepEqual(calls, [["fn", true, true, true, Event.AT_TARGET]]);
  const done = new Event("ping");
  t.dispatchEvent(done);
  assert.equal(done.target, t, "target stays set after dispatch");
  assert.equal(done.currentTarget, null, "currentTarget is cleared after dispatch");
  assert.equal(done.eventPhase, 0);
  t.removeEventListener("ping", onPing);
  calls.length = 0;
  t.dispatchEvent(new Event("ping"));
  assert.equal(calls.length, 0, "removed listener does not run");
  assert.throws(() => t.dispatchEvent({ type: "ping" }), TypeError, "only Events can be dispatched");
  assert.throws(() => t.dispatchEvent(), TypeError);
  assert.throws(() => t.addEventListener("x"), TypeError, "callback argument is required");
  assert.throws(() => t.addEventListener("x", 5), TypeError, "callback must be an object");
  assert.throws(() => t.addEventListener("x", () => {}, { signal: {} }), TypeError, "signal must be an AbortSignal");
  t.addEventListener("x", null); // ignored
  assert.throws(() => EventTarget.prototype.dispatchEvent.call({}, new Event("x")), TypeError, "brand check");

  // capture listeners run first; order otherwise follows registration
  const order = [];
  t.addEventListener("o", () => order.push("bubble1"));
  t.addEventListener("o", () => order.push("capture"), { capture: true });
  t.addEventListener("o", () => order.push("bubble2"));
  t.dispatchEvent(new Event("o"));
  assert.deepEqual(order, ["capture", "bubble1", "bubble2"]);

  // the same callback with and without capture are two listeners
  let twice = 0;
  const cb = () => twice++;
  t.addEventListener("cap", cb, true);
  t.addEventListener("cap", cb, false);
  t.dispatchEvent(new Event("cap"));
  assert.equal(twice, 2);
  t.removeEventListener("cap", cb, { capture: true });
  t.dispatchEvent(new Event("cap"));
  assert.equal(twice, 3, "removal matches the capture flag");

  // once
  let onceCount = 0;
  t.addEventListener("once", () => onceCount++, { once: true });
  t.dispatchEvent(new Event("once"));
  t.dispatchEvent(new Event("once"));
  assert.equal(onceCount, 1);

  // handleEvent objects, looked up at call time
  const handler = {
    n: 0,
    handleEvent(ev) {
      this.n++;
      assert.equal(this, handler, "this is the listener object");
    },
  };
  t.addEventListener("h", handler);
  t.dispatchEvent(new Event("h"));
  handler.handleEvent = function () {
    this.n += 10;
  };
  t.dispatchEvent(new Event("h"));
  assert.equal(handler.n, 11);

  // cancellation and passive listeners
  t.addEventListener("cancel", (ev) => ev.preventDefault());
  assert.equal(t.dispatchEvent(new Event("cancel", { cancelable: true })), false, "canceled dispatch returns false");
  assert.equal(t.dispatchEvent(new Event("cancel")), true, "non-cancelable events cannot be canceled");
  t.addEventListener("passive", (ev) => ev.preventDefault(), { passive: true });
  const pe = new Event("passive", { cancelable: true });
  assert.equal(t.dispatchEvent(pe), true, "preventDefault is ignored in passive listeners");
  assert.equal(pe.defaultPrevented, false);

  // stopImmediatePropagation / stopPropagation
  const stops = [];
  t.addEventListener("s", (ev) => {
    stops.push(1);
    ev.stopImmediatePropagation();
  });
  t.addEventListener("s", () => stops.push(2));
  t.dispatchEvent(new Event("s"));
  assert.deepEqual(stops, [1]);
  const sp = [];
  t.addEventListener("sp", (ev) => {
    sp.push("capture");
    ev.stopPropagation();
  }, true);
  t.addEventListener("sp", () => sp.push("target"));
  t.dispatchEvent(new Event("sp"));
  assert.deepEqual(sp, ["capture"], "stopPropagation in capture skips the rest");
  const again = [];
  t.addEventListener("again", () => again.push(1));
  const ev2 = new Event("again");
  ev2.stopPropagation();
  t.dispatchEvent(ev2);
  assert.deepEqual(again, [], "an event stopped before dispatch reaches no listener");

  // a throwing listener does not stop the others (the error is reported to the console)
  const after = [];
  t.addEventListener("throw", () => {
    throw new Error("listener failure (expected in this test)");
  });
  t.addEventListener("throw", () => after.push("ran"));
  assert.equal(t.dispatchEvent(new Event("throw")), true);
  assert.deepEqual(after, ["ran"]);

  // listeners added or removed during dispatch
  const dyn = [];
  const second = () => dyn.push("second");
  t.addEventListener("dyn", () => {
    dyn.push("first");
    t.removeEventListener("dyn", second);
    t.addEventListener("dyn", () => dyn.push("late"));
  });
  t.addEventListener("dyn", second);
  t.dispatchEvent(new Event("dyn"));
  assert.deepEqual(dyn, ["first"], "removed listeners are skipped, added ones wait for the next dispatch");

  // re-dispatching an event that is being dispatched
  let inner;
  t.addEventListener("re", (ev) => {
    try {
      t.dispatchEvent(ev);
    } catch (err) {
      inner = err;
    }
    assert.deepEqual(ev.composedPath(), [t], "composedPath during dispatch");
  });
  t.dispatchEvent(new Event("re"));
  assert.ok(inner instanceof DOMException && inner.name === "InvalidStateError", "InvalidStateError");

  // subclassing EventTarget
  class Emitter extends EventTarget {
    fire(detail) {
      return this.dispatchEvent(new CustomEvent("fire", { detail }));
    }
  }
  const em = new Emitter();
  let got;
  em.addEventListener("fire", (ev) => (got = ev.detail));
  em.fire(7);
  assert.equal(got, 7);

  // AbortController / AbortSignal
  const ac = new AbortController();
  const sig = ac.signal;
  assert.ok(sig instanceof AbortSignal && sig instanceof EventTarget);
  assert.equal(ac.signal, sig, "signal is the same object every time");
  assert.equal(sig.aborted, false);
  assert.equal(sig.reason, undefined);
  sig.throwIfAborted();
  assert.throws(() => new AbortSignal(), TypeError, "AbortSignal is not constructible");
  const seen = [];
  sig.onabort = (ev) => seen.push(["onabort", ev.type, ev.isTrusted]);
  sig.addEventListener("abort", (ev) => seen.push(["listener", sig.aborted]));
  ac.abort();
  ac.abort("again"); // no effect
  assert.equal(sig.aborted, true);
  assert.ok(sig.reason instanceof DOMException, "default reason is a DOMException");
  assert.equal(sig.reason.name, "AbortError");
  assert.deepEqual(seen, [["onabort", "abort", true], ["listener", true]], "abort fires once, in registration order");
  assert.throws(() => sig.throwIfAborted(), "AbortError");
  assert.equal(Object.prototype.toString.call(sig), "[object AbortSignal]");

  const ac2 = new AbortController();
  const reason = new Error("custom reason");
  ac2.abort(reason);
  assert.equal(ac2.signal.reason, reason, "custom reason is kept");
  try {
    ac2.signal.throwIfAborted();
    assert.ok(false, "throwIfAborted should throw");
  } catch (err) {
    assert.equal(err, reason, "throwIfAborted throws the reason itself");
  }

  // onabort set to null removes the handler
  const ac3 = new AbortController();
  let fired = 0;
  ac3.signal.onabort = () => fired++;
  assert.equal(typeof ac3.signal.onabort, "function");
  ac3.signal.onabort = null;
  assert.equal(ac3.signal.onabort, null);
  ac3.abort();
  assert.equal(fired, 0);

  // listener removal through an AbortSignal
  const ac4 = new AbortController();
  let viaSignal = 0;
  t.addEventListener("sig", () => viaSignal++, { signal: ac4.signal });
  t.dispatchEvent(new Event("sig"));
  ac4.abort();
  t.dispatchEvent(new Event("sig"));
  assert.equal(viaSignal, 1, "aborting the signal removes the listener");
  t.addEventListener("sig", () => viaSignal++, { signal: ac4.signal });
  t.dispatchEvent(new Event("sig"));
  assert.equal(viaSignal, 1, "an already aborted signal prevents adding");

  // static abort()
  const pre = AbortSignal.abort();
  assert.equal(pre.aborted, true);
  assert.equal(pre.reason.name, "AbortError");
  assert.equal(AbortSignal.abort("why").reason, "why");

  // any()
  const a1 = new AbortController();
  const a2 = new AbortController();
  const anySig = AbortSignal.any([a1.signal, a2.signal]);
  assert.equal(anySig.aborted, false);
  let anyFired = 0;
  anySig.addEventListener("abort", () => anyFired++);
  a2.abort("second");
  assert.equal(anySig.aborted, true);
  assert.equal(anySig.reason, "second");
  assert.equal(anyFired, 1);
  a1.abort("first");
  assert.equal(anySig.reason, "second", "the first abort wins");
  assert.equal(AbortSignal.any([AbortSignal.abort("x")]).reason, "x", "already aborted input");
  assert.equal(AbortSignal.any([]).aborted, false);
  const nested = new AbortController();
  const inner1 = AbortSignal.any([nested.signal]);
  const outer = AbortSignal.any([inner1]);
  nested.abort("deep");
  assert.equal(outer.reason, "deep", "any() of any() follows the original source");
  assert.throws(() => AbortSignal.any([{}]), TypeError, "only AbortSignals");
  assert.throws(() => AbortSignal.any(5), TypeError, "must be iterable");

  // timeout(): needs host timers
  assert.throws(() => AbortSignal.timeout(-1), TypeError, "negative timeout");
  assert.throws(() => AbortSignal.timeout(NaN), TypeError, "NaN timeout");
  assert.throws(() => AbortSignal.timeout(), TypeError);
  const ts = AbortSignal.timeout(5);
  assert.equal(ts.aborted, false);
  await new Promise((resolve) => ts.addEventListener("abort", resolve));
  assert.equal(ts.aborted, true);
  assert.ok(ts.reason instanceof DOMException);
  assert.equal(ts.reason.name, "TimeoutError");
  const anyTimeout = AbortSignal.any([new AbortController().signal, AbortSignal.timeout(1)]);
  await new Promise((resolve) => (anyTimeout.onabort = resolve));
  assert.equal(anyTimeout.reason.name, "TimeoutError", "any() with a timeout");
})
