// WritableStream, TransformStream, pipes, queuing strategies (55_streams.js).
(async (assert) => {
  const tick = () => new Promise((r) => setTimeout(r, 0));
  const collect = async (stream) => {
    const out = [];
    for await (const chunk of stream) out.push(chunk);
    return out;
  };

  // ---- WritableStream: order, close, the controller ----
  {
    const log = [];
    let ctl;
    const ws = new WritableStream({
      start(c) {
        ctl = c;
        log.push("start");
      },
      write(chunk, c) {
        assert.equal(c, ctl, "write gets the controller");
        log.push(`write ${chunk}`);
      },
      close() {
        log.push("close");
      },
    });
    assert.equal(Object.prototype.toString.call(ws), "[object WritableStream]");
    assert.ok(ctl.signal instanceof AbortSignal, "the controller has a signal");
    const w = ws.getWriter();
    assert.equal(ws.locked, true);
    assert.throws(() => ws.getWriter(), TypeError, "one writer at a time");
    await Promise.all([w.write("a"), w.write("b"), w.close()]);
    await w.closed;
    assert.deepEqual(log, ["start", "write a", "write b", "close"]);
    assert.equal(w.desiredSize, 0, "a closed stream wants nothing");
    await assert.rejects(w.write("c"), TypeError, "writing after close");
    w.releaseLock();
    assert.equal(ws.locked, false);
    await assert.rejects(w.closed, TypeError, "a released writer's closed rejects");
  }

  // ---- backpressure: desiredSize and ready with a size strategy ----
  {
    const pending = [];
    const ws = new WritableStream(
      {
        write() {
          return new Promise((resolve) => pending.push(resolve));
        },
      },
      { highWaterMark: 10, size: (chunk) => chunk.length },
    );
    const w = ws.getWriter();
    await w.ready;
    assert.equal(w.desiredSize, 10);
    const p1 = w.write("abcd");
    assert.equal(w.desiredSize, 6, "size counts the chunk's length");
    const p2 = w.write("efghijk");
    assert.equal(w.desiredSize, -1, "over the high-water mark");
    let ready = false;
    w.ready.then(() => (ready = true));
    await tick();
    assert.equal(ready, false, "ready waits while the queue is over the mark");
    pending.shift()();
    await p1;
    await tick();
    assert.equal(w.desiredSize, 3, "a finished write frees its size");
    assert.equal(ready, true, "ready resolves below the mark");
    pending.shift()();
    await p2;
    await w.close();
  }

  // ---- errors: a failing sink write, controller.error, abort ----
  {
    const boom = new Error("boom");
    const ws = new WritableStream({
      write() {
        throw boom;
      },
    });
    const w = ws.getWriter();
    await assert.rejects(w.write("x"), Error, "the write that failed rejects");
    assert.equal(await w.closed.catch((e) => e), boom, "closed rejects with the sink's error");
    assert.equal(w.desiredSize, null, "an errored stream has no desired size");
    await assert.rejects(w.write("y"), Error, "later writes reject");

    let aborted;
    let signalReason;
    const ws2 = new WritableStream({
      start(c) {
        c.signal.addEventListener("abort", () => (signalReason = c.signal.reason));
      },
      abort(reason) {
        aborted = reason;
      },
    });
    await ws2.abort("stop");
    assert.equal(aborted, "stop", "abort reaches the sink");
    assert.equal(signalReason, "stop", "the controller's signal aborts with the reason");
    const w2 = ws2.getWriter();
    assert.equal(await w2.closed.catch((e) => e), "stop");

    let ctl;
    const ws3 = new WritableStream({ start: (c) => (ctl = c) });
    const w3 = ws3.getWriter();
    ctl.error(new RangeError("bad"));
    await assert.rejects(w3.ready, RangeError, "controller.error rejects ready");
    await assert.rejects(w3.write(1), RangeError);
    assert.throws(() => new WritableStream({ type: "bytes" }), RangeError, "no writable byte streams");
    assert.throws(() => structuredClone(new WritableStream()), "DataCloneError");
    assert.throws(() => structuredClone(new TransformStream()), "DataCloneError");
    assert.throws(() => new WritableStream({}, { highWaterMark: -1 }), RangeError);
  }

  // ---- queuing strategies ----
  {
    const c = new CountQueuingStrategy({ highWaterMark: 3 });
    assert.equal(c.highWaterMark, 3);
    assert.equal(c.size("anything"), 1);
    const b = new ByteLengthQueuingStrategy({ highWaterMark: 16 });
    assert.equal(b.size(new Uint8Array(5)), 5);
    assert.equal(b.size, new ByteLengthQueuingStrategy({ highWaterMark: 1 }).size, "one size function for all");
    assert.throws(() => new CountQueuingStrategy(), TypeError);
    const rs = new ReadableStream({}, new CountQueuingStrategy({ highWaterMark: 4 }));
    const r = rs.getReader();
    r.releaseLock();
    const ws = new WritableStream({}, new ByteLengthQueuingStrategy({ highWaterMark: 8 }));
    assert.equal(ws.getWriter().desiredSize, 8);
  }

  // ---- TransformStream ----
  {
    const flushed = [];
    const ts = new TransformStream({
      start(c) {
        c.enqueue("first");
      },
      transform(chunk, c) {
        c.enqueue(chunk.toUpperCase());
        c.enqueue(chunk.length);
      },
      flush(c) {
        flushed.push(true);
        c.enqueue("last");
      },
    });
    const w = ts.writable.getWriter();
    w.write("ab");
    w.write("cde");
    w.close();
    assert.deepEqual(await collect(ts.readable), ["first", "AB", 2, "CDE", 3, "last"]);
    assert.deepEqual(flushed, [true]);

    // identity by default; backpressure: with the default strategies a second write waits
    // until the readable side is read
    const id = new TransformStream();
    const iw = id.writable.getWriter();
    const ir = id.readable.getReader();
    await iw.ready;
    assert.equal(iw.desiredSize, 1);
    const first = iw.write("a");
    await tick();
    assert.equal(iw.desiredSize, 0, "the first chunk waits in the transform");
    let secondDone = false;
    const second = iw.write("b").then(() => (secondDone = true));
    await tick();
    assert.equal(secondDone, false, "the second write waits for the reader");
    assert.deepEqual(await ir.read(), { value: "a", done: false });
    assert.deepEqual(await ir.read(), { value: "b", done: false });
    await first;
    await second;
    assert.equal(secondDone, true);

    // a transform error errors both sides
    const bad = new TransformStream({
      transform() {
        throw new TypeError("no");
      },
    });
    const bw = bad.writable.getWriter();
    const pendingRead = bad.readable.getReader().read(); // a write waits for a reader (readable highWaterMark 0)
    await assert.rejects(bw.write("x"), TypeError);
    await assert.rejects(pendingRead, TypeError, "the readable side errors too");

    // terminate closes the readable side and errors the writable side
    const term = new TransformStream({
      transform(chunk, c) {
        c.enqueue(chunk);
        c.terminate();
      },
    });
    const tw = term.writable.getWriter();
    const tr = term.readable.getReader();
    tw.write("only");
    assert.deepEqual(await tr.read(), { value: "only", done: false });
    assert.deepEqual(await tr.read(), { value: undefined, done: true });
    await assert.rejects(tw.write("more"), TypeError);

    // canceling the readable side errors the writable side
    const canceled = new TransformStream();
    await canceled.readable.cancel("gone");
    assert.equal(await canceled.writable.getWriter().closed.catch((e) => e), "gone");
  }

  // ---- pipeTo and pipeThrough ----
  {
    const out = [];
    const sink = () => new WritableStream({ write: (c) => void out.push(c) });
    await ReadableStream.from([1, 2, 3]).pipeTo(sink());
    assert.deepEqual(out, [1, 2, 3]);

    // pipeThrough chains
    const doubled = ReadableStream.from([1, 2, 3])
      .pipeThrough(new TransformStream({ transform: (n, c) => c.enqueue(n * 2) }))
      .pipeThrough(new TransformStream({ transform: (n, c) => c.enqueue(`${n}`) }));
    assert.deepEqual(await collect(doubled), ["2", "4", "6"]);

    // the pipe follows the destination's backpressure: a sink stuck on its first write
    // makes it read no more than fills the destination's queue
    let pulls = 0;
    const lazy = new ReadableStream({ pull: (c) => c.enqueue(++pulls) }, { highWaterMark: 0 });
    lazy.pipeTo(new WritableStream({ write: () => new Promise(() => {}) }, { highWaterMark: 2 }));
    for (let i = 0; i < 20; i++) await tick();
    assert.ok(pulls >= 2 && pulls <= 3, `the pipe read ${pulls} chunks into a destination that takes 2`);

    // preventClose leaves the destination open
    const ws = new WritableStream();
    await ReadableStream.from(["x"]).pipeTo(ws, { preventClose: true });
    const w = ws.getWriter();
    await w.write("still open");
    w.releaseLock();

    // a source error aborts the destination, and pipeTo rejects with it
    let abortReason;
    const failing = new ReadableStream({
      pull(c) {
        c.error(new RangeError("source broke"));
      },
    });
    const dest = new WritableStream({ abort: (r) => void (abortReason = r) });
    await assert.rejects(failing.pipeTo(dest), RangeError);
    assert.ok(abortReason instanceof RangeError, "the destination was aborted with the source's error");

    // preventAbort keeps the destination usable
    const dest2 = new WritableStream();
    await assert.rejects(new ReadableStream({ start: (c) => c.error("e") }).pipeTo(dest2, { preventAbort: true }));
    assert.equal(dest2.locked, false, "the pipe released the destination");
    await dest2.getWriter().write(1);

    // a destination error cancels the source
    let cancelReason;
    const src = new ReadableStream({
      pull(c) {
        c.enqueue("chunk");
      },
      cancel: (r) => void (cancelReason = r),
    });
    const errDest = new WritableStream({
      write() {
        throw new SyntaxError("dest broke");
      },
    });
    await assert.rejects(src.pipeTo(errDest), SyntaxError);
    assert.ok(cancelReason instanceof SyntaxError, "the source was canceled with the destination's error");

    // an AbortSignal stops the pipe: the source is canceled, the destination aborted
    const ac = new AbortController();
    let srcCanceled, destAborted;
    const endless = new ReadableStream({
      pull: (c) => c.enqueue("tick"),
      cancel: (r) => void (srcCanceled = r),
    });
    let written = 0;
    const slow = new WritableStream({
      write: () => {
        written++;
        if (written === 3) ac.abort();
      },
      abort: (r) => void (destAborted = r),
    });
    const err = await assert.rejects(endless.pipeTo(slow, { signal: ac.signal }), "AbortError");
    assert.equal(srcCanceled, err, "the source was canceled with the signal's reason");
    assert.equal(destAborted, err, "the destination was aborted with the signal's reason");
    // an already aborted signal
    const ac2 = new AbortController();
    ac2.abort("early");
    const r2 = ReadableStream.from([1]);
    assert.equal(await r2.pipeTo(new WritableStream(), { signal: ac2.signal, preventCancel: true }).catch((e) => e), "early");
    assert.equal(r2.locked, false);
    assert.deepEqual(await collect(r2), [1], "preventCancel left the source readable");

    // locked streams cannot be piped
    const locked = new ReadableStream();
    locked.getReader();
    await assert.rejects(locked.pipeTo(new WritableStream()), TypeError);
    assert.throws(() => locked.pipeThrough(new TransformStream()), TypeError);
    await assert.rejects(ReadableStream.from([]).pipeTo({}), TypeError, "the destination must be a WritableStream");
  }

  // ---- tee, async iteration, ReadableStream.from ----
  {
    const [a, b] = ReadableStream.from(["x", "y"]).tee();
    const [ra, rb] = await Promise.all([collect(a), collect(b)]);
    assert.deepEqual(ra, ["x", "y"]);
    assert.deepEqual(rb, ["x", "y"]);

    async function* gen() {
      yield 1;
      await tick();
      yield 2;
    }
    assert.deepEqual(await collect(ReadableStream.from(gen())), [1, 2]);

    let canceled = false;
    const s = new ReadableStream({ pull: (c) => c.enqueue(0), cancel: () => void (canceled = true) });
    for await (const _ of s.values({ preventCancel: true })) break;
    // QuickJS does not await an iterator's return() when a for-await loop breaks: the lock
    // is released a tick later
    await tick();
    assert.equal(canceled, false, "preventCancel keeps the stream");
    assert.equal(s.locked, false);
    for await (const _ of s) break;
    await tick();
    assert.equal(canceled, true, "leaving the loop cancels");
  }

  // ---- bodies: Response over a TransformStream's readable side ----
  {
    const ts = new TransformStream();
    const res = new Response(ts.readable);
    const w = ts.writable.getWriter();
    const enc = new TextEncoder();
    w.write(enc.encode("hello "));
    w.write(enc.encode("world"));
    w.close();
    assert.equal(await res.text(), "hello world");
    const upper = new Response("shout").body.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TransformStream({ transform: (s, c) => c.enqueue(s.toUpperCase()) }),
    ).pipeThrough(new TextEncoderStream());
    assert.equal(await new Response(upper).text(), "SHOUT");
  }
  // ---- TransformStream: the transformer errors or terminates right after readable.cancel() ----
  // The standard's source cancel algorithm settles after the writable side has started: the
  // error (or terminate) made in the same turn as cancel() reaches the writable as its
  // error, and cancel() itself still resolves (start's result is "a promise resolved with"
  // it, a new promise, so the writable is still erroring when the cancel settles).
  {
    const boom = new Error("boom");
    let c1;
    const t1 = new TransformStream({ start: (c) => void (c1 = c) });
    const cancel1 = t1.readable.cancel("why");
    c1.error(boom);
    assert.equal(await cancel1, undefined, "cancel resolves after error()");
    assert.equal(await assert.rejects(t1.writable.getWriter().closed, Error, "the writable has the error"), boom);

    let c2;
    const t2 = new TransformStream({ start: (c) => void (c2 = c) });
    const cancel2 = t2.readable.cancel("why");
    c2.terminate();
    assert.equal(await cancel2, undefined, "cancel resolves after terminate()");
    await assert.rejects(t2.writable.getWriter().closed, TypeError, "terminate errors the writable with a TypeError");

    // A transformer.cancel() that errors the stream makes cancel() and a parallel close() reject.
    let c3;
    const t3 = new TransformStream({
      start: (c) => void (c3 = c),
      async cancel() {
        c3.error(boom);
      },
    });
    const cancel3 = t3.readable.cancel("why");
    const close3 = t3.writable.close();
    assert.equal(await assert.rejects(cancel3, Error, "cancel rejects with the transformer's error"), boom);
    assert.equal(await assert.rejects(close3, Error, "close rejects with it too"), boom);
  }
  // ---- a writer released by strategy.size() while it measures the chunk ----
  {
    let writer;
    const written = [];
    const ws = new WritableStream({ write: (c) => void written.push(c) }, {
      size() {
        writer.releaseLock();
        return 1;
      },
    });
    writer = ws.getWriter();
    const write = writer.write("a");
    await assert.rejects(write, TypeError, "the write of a released writer rejects");
    await assert.rejects(writer.closed, TypeError, "and its closed promise");
    await tick();
    assert.deepEqual(written, [], "the sink never saw the chunk");
    assert.equal(ws.locked, false);
  }
  // ---- a pipe whose source closes before it first reads: it is done, a later abort is too late ----
  {
    let rc;
    const rs = new ReadableStream({ start: (c) => void (rc = c) });
    const written = [];
    const ws = new WritableStream({ write: (c) => void written.push(c) });
    const ac = new AbortController();
    const piped = rs.pipeTo(ws, { signal: ac.signal, preventClose: true });
    rc.close();
    await Promise.resolve();
    ac.abort();
    assert.equal(await piped, undefined, "the pipe finished when the source closed");
    await ws.getWriter().write("after");
    assert.deepEqual(written, ["after"], "the destination was neither aborted nor closed");
  }
})
