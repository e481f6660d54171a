// self, navigator, performance.timeOrigin, scheduler.wait, Event.initEvent, MessageChannel.
(async (assert) => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  assert.equal(self, globalThis, "self is globalThis");
  assert.equal(navigator.userAgent, "Cloudflare-Workers", "userAgent as on Workers");
  assert.equal(navigator.hardwareConcurrency, 1, "one thread per sandbox");
  assert.throws(() => new Navigator(), TypeError, "Navigator is not constructible");

  // timeOrigin is Unix-epoch milliseconds: timeOrigin + now() is Date.now() (Date.now has
  // millisecond resolution), and it does not change between reads.
  const origin = performance.timeOrigin;
  assert.ok(Math.abs(origin + performance.now() - Date.now()) < 1000, "timeOrigin + now() is Date.now()");
  assert.ok(origin > Date.UTC(2020, 0, 1), "timeOrigin is an epoch time");
  await sleep(3);
  assert.equal(performance.timeOrigin, origin, "timeOrigin is constant");
  assert.deepEqual(performance.toJSON(), { timeOrigin: origin });
  assert.equal(Object.prototype.toString.call(performance), "[object Performance]");

  // scheduler.wait: resolves after the delay, after shorter timers; rejects on abort
  const order = [];
  const w = scheduler.wait(10).then(() => order.push("wait10"));
  setTimeout(() => order.push("t1"), 1);
  await w;
  assert.deepEqual(order, ["t1", "wait10"], "scheduler.wait is a timer");
  const ac = new AbortController();
  const waiting = scheduler.wait(60000, { signal: ac.signal });
  ac.abort(new Error("stop"));
  const e = await assert.rejects(waiting, Error, "aborted wait rejects");
  assert.equal(e.message, "stop", "with the signal's reason");
  await assert.rejects(scheduler.wait(1, { signal: AbortSignal.abort() }), "AbortError", "an aborted signal rejects at once");
  await assert.rejects(scheduler.wait(1, { signal: {} }), TypeError, "signal must be an AbortSignal");

  // Event.prototype.initEvent: sets type and flags before dispatch, ignored during it
  const ev = new Event("a");
  ev.initEvent("b", true, true);
  assert.deepEqual([ev.type, ev.bubbles, ev.cancelable], ["b", true, true], "initEvent sets type and flags");
  const target = new EventTarget();
  let seen;
  target.addEventListener("b", (x) => {
    x.initEvent("c", false, false);
    seen = [x.type, x.cancelable];
  });
  target.dispatchEvent(ev);
  assert.deepEqual(seen, ["b", true], "initEvent does nothing during dispatch");
  assert.throws(() => ev.initEvent(), TypeError, "initEvent needs a type");

  // MessageChannel: in order, after the current task, structured-cloned
  const { port1, port2 } = new MessageChannel();
  const got = [];
  const obj = { n: 1, nested: { a: [1, 2] } };
  port2.onmessage = (m) => got.push(m.data);
  port1.postMessage(obj);
  port1.postMessage("two");
  port1.postMessage(3);
  obj.n = 99;
  got.push("sync");
  await Promise.resolve();
  assert.deepEqual(got, ["sync"], "not delivered in the same task or its microtasks");
  await sleep(5);
  assert.deepEqual(got, ["sync", { n: 1, nested: { a: [1, 2] } }, "two", 3], "in order, cloned at post time");
  assert.ok(got[1] !== obj, "a copy");

  // each message is its own task: microtasks queued by one handler run before the next
  const trace = [];
  const c2 = new MessageChannel();
  c2.port2.addEventListener("message", (m) => {
    trace.push(m.data);
    queueMicrotask(() => trace.push("micro" + m.data));
  });
  c2.port2.start();
  c2.port1.postMessage(1);
  c2.port1.postMessage(2);
  await sleep(5);
  assert.deepEqual(trace, [1, "micro1", 2, "micro2"], "one message per task");
  assert.ok(true, "addEventListener + start() delivers");

  // both directions; a port not started keeps its messages until start()
  const c3 = new MessageChannel();
  const back = [];
  c3.port1.addEventListener("message", (m) => back.push(m.data));
  c3.port2.postMessage("queued");
  await sleep(5);
  assert.deepEqual(back, [], "nothing before start()");
  c3.port1.start();
  await sleep(5);
  assert.deepEqual(back, ["queued"], "delivered after start()");
  const m = await new Promise((resolve) => {
    c3.port2.onmessage = resolve;
    c3.port1.postMessage({ x: 1 });
  });
  assert.ok(m instanceof MessageEvent && m.type === "message", "a MessageEvent");
  assert.deepEqual(m.data, { x: 1 });

  // close drops undelivered messages and later posts
  const c4 = new MessageChannel();
  const dropped = [];
  c4.port2.onmessage = (x) => dropped.push(x.data);
  c4.port1.postMessage("before close");
  c4.port2.close();
  c4.port1.postMessage("after close");
  await sleep(5);
  assert.deepEqual(dropped, [], "a closed port receives nothing");

  // a flood: 5,000 messages arrive in order, each once (delivery is O(1) per message)
  const c6 = new MessageChannel();
  let next = 0;
  let inOrder = true;
  const flood = new Promise((resolve) => {
    c6.port2.onmessage = (x) => {
      if (x.data !== next) inOrder = false;
      if (++next === 5000) resolve();
    };
  });
  for (let i = 0; i < 5000; i++) c6.port1.postMessage(i);
  await flood;
  assert.ok(inOrder, "5,000 messages in order");

  // what cannot be cloned or transferred
  const c5 = new MessageChannel();
  assert.throws(() => c5.port1.postMessage(() => 1), "DataCloneError", "functions are not cloneable");
  assert.throws(() => c5.port1.postMessage(c5.port2), "DataCloneError", "ports are not cloneable");
  assert.throws(() => c5.port1.postMessage(1, [c5.port2]), "DataCloneError", "ports are not transferable");
  const buf = new ArrayBuffer(8);
  const rcv = new Promise((resolve) => (c5.port2.onmessage = (x) => resolve(x.data)));
  c5.port1.postMessage(buf, { transfer: [buf] });
  assert.equal(buf.byteLength, 0, "a transferred ArrayBuffer is detached");
  assert.equal((await rcv).byteLength, 8, "and arrives whole");
  assert.throws(() => new MessagePort(), TypeError, "MessagePort is not constructible");
})
