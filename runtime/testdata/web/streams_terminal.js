// Streams after they end: a closed or errored stream lets go of its controller and its
// source's algorithms, and a finished TransformStream of its controller (50_fetch.js
// clearAlgorithms, 55_streams.js clearTransformer), so that no reference cycle outlives a
// response. What the guest can still call must answer as the standard says.
(async (assert) => {
  // a closed default stream: its controller reads the state through itself
  let ctl;
  const s = new ReadableStream({ start(c) { ctl = c; c.enqueue("a"); c.close(); } });
  const r = s.getReader();
  assert.deepEqual(await r.read(), { value: "a", done: false });
  assert.deepEqual(await r.read(), { value: undefined, done: true });
  assert.equal(ctl.desiredSize, 0, "a closed stream's desiredSize is 0");
  assert.throws(() => ctl.enqueue("b"), TypeError, "enqueue into a closed stream throws");
  assert.throws(() => ctl.close(), TypeError, "closing a closed stream throws");
  ctl.error(new Error("late")); // does nothing on a closed stream
  assert.deepEqual(await r.read(), { value: undefined, done: true }, "still closed, still readable through the reader");
  await r.cancel("after"); // resolves on a closed stream
  r.releaseLock();
  assert.equal(s.locked, false);
  assert.deepEqual(await s.getReader().read(), { value: undefined, done: true }, "a new reader of a closed stream");

  // an errored stream
  let ectl;
  const e = new ReadableStream({ start(c) { ectl = c; } });
  const er = e.getReader();
  const boom = new Error("boom");
  ectl.error(boom);
  assert.equal(ectl.desiredSize, null, "an errored stream's desiredSize is null");
  await assert.rejects(er.read(), Error, "a read of an errored stream rejects");
  await assert.rejects(er.closed, Error);
  assert.throws(() => ectl.enqueue(1), TypeError);

  // cancel reaches the source once, after the stream is closed
  const order = [];
  const c = new ReadableStream({ pull(k) { k.enqueue(1); }, cancel(reason) { order.push("cancel " + reason); } });
  const cr = c.getReader();
  await cr.read();
  const closed = cr.closed.then(() => order.push("closed"));
  await cr.cancel("why");
  await closed;
  await cr.cancel("again");
  assert.deepEqual(order, ["cancel why", "closed"], "the source's cancel runs once, before the closed promise's reactions");

  // a finished TransformStream: its controller answers as a closed one
  let tctl;
  const t = new TransformStream({ start(k) { tctl = k; }, flush(k) { k.enqueue("flushed"); } });
  const tw = t.writable.getWriter();
  const tr = t.readable.getReader();
  tw.write("x");
  assert.deepEqual(await tr.read(), { value: "x", done: false });
  const closing = tw.close();
  assert.deepEqual(await tr.read(), { value: "flushed", done: false }, "flush's enqueue reaches the readable side");
  await closing;
  assert.deepEqual(await tr.read(), { value: undefined, done: true });
  assert.throws(() => tctl.enqueue("late"), TypeError, "enqueue after the transform finished throws");
  assert.equal(tctl.desiredSize, 0);
  await assert.rejects(tw.write("y"), TypeError, "a write after close rejects");
  await tw.closed;

  // a closed WritableStream: its controller's error does nothing
  let wctl;
  const ws = new WritableStream({ start(k) { wctl = k; } });
  const ww = ws.getWriter();
  await ww.close();
  wctl.error(new Error("late")); // no effect on a closed stream
  await ww.closed;
  assert.equal(wctl.signal.aborted, false);
})
