// Readable byte streams (51_bytestreams.js), case by case from the WHATWG Streams standard's
// algorithms: ReadableByteStreamController, byobRequest (respond, respondWithNewView),
// autoAllocateChunkSize, read(view, {min}), release with a read pending, tee.
(async (assert) => {
  const tick = () => new Promise((r) => setTimeout(r, 0));
  const bytes = (v) => [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)];

  // the controller, and what enqueue accepts
  {
    let ctl;
    const rs = new ReadableStream({ type: "bytes", start: (c) => void (ctl = c) }, { highWaterMark: 4 });
    assert.equal(Object.prototype.toString.call(ctl), "[object ReadableByteStreamController]");
    assert.ok(ctl instanceof ReadableByteStreamController);
    assert.throws(() => new ReadableByteStreamController(), TypeError, "no public constructor");
    assert.equal(ctl.byobRequest, null, "no read pending, no byobRequest");
    assert.equal(ctl.desiredSize, 4);
    const chunk = new Uint8Array([1, 2, 3]);
    ctl.enqueue(chunk);
    assert.equal(chunk.buffer.byteLength, 0, "enqueue transfers the chunk's buffer");
    assert.equal(ctl.desiredSize, 1, "desiredSize counts bytes");
    assert.throws(() => ctl.enqueue("abc"), TypeError, "a string is no view");
    assert.throws(() => ctl.enqueue(new Uint8Array(0)), TypeError, "an empty view");
    assert.throws(() => ctl.enqueue(chunk), TypeError, "a detached buffer");
    ctl.enqueue(new DataView(new Uint8Array([9, 8]).buffer, 1, 1));
    ctl.close();
    assert.throws(() => ctl.close(), TypeError, "close twice");
    assert.throws(() => ctl.enqueue(new Uint8Array(1)), TypeError, "enqueue after close");
    const r = rs.getReader();
    const a = await r.read();
    assert.ok(a.value instanceof Uint8Array, "a default reader reads Uint8Arrays");
    assert.deepEqual(bytes(a.value), [1, 2, 3]);
    assert.deepEqual(bytes((await r.read()).value), [8], "a DataView's bytes, from its offset");
    assert.equal((await r.read()).done, true);
    assert.throws(() => new ReadableStream({ type: "bytes" }, { size: () => 1 }), RangeError, "a size function");
    assert.throws(() => new ReadableStream({ type: "bytes", autoAllocateChunkSize: 0 }), TypeError, "autoAllocateChunkSize 0");
  }

  // byobRequest: the source writes into the reader's view and responds
  {
    const seen = [];
    const rs = new ReadableStream({
      type: "bytes",
      pull(c) {
        const req = c.byobRequest;
        seen.push([req.view.constructor.name, req.view.byteOffset, req.view.byteLength]);
        req.view.set([seen.length * 10, seen.length * 10 + 1]);
        req.respond(2);
        assert.equal(req.view, null, "a request answered is no longer current");
        assert.throws(() => req.respond(1), TypeError, "respond twice");
      },
    });
    const r = rs.getReader({ mode: "byob" });
    const buf = new ArrayBuffer(8);
    const first = await r.read(new Uint8Array(buf, 2, 4));
    assert.deepEqual(seen, [["Uint8Array", 2, 4]], "the request's view is the read's");
    assert.equal(buf.byteLength, 0, "the read's buffer was transferred");
    assert.equal(first.value.byteOffset, 2);
    assert.deepEqual(bytes(first.value), [10, 11]);
    // min: the read waits until min elements are there; pull is called again meanwhile
    const second = await r.read(new Uint8Array(first.value.buffer, 0, 8), { min: 5 });
    assert.deepEqual(seen.slice(1), [["Uint8Array", 0, 8], ["Uint8Array", 2, 6], ["Uint8Array", 4, 4]]);
    assert.deepEqual(bytes(second.value), [20, 21, 30, 31, 40, 41]);
  }

  // a wider element: bytes that do not make a whole element wait in the queue
  {
    let ctl;
    const rs = new ReadableStream({ type: "bytes", start: (c) => void (ctl = c) });
    const r = rs.getReader({ mode: "byob" });
    const p = r.read(new Uint16Array(2));
    await tick();
    ctl.byobRequest.view.set([1, 0, 2]);
    ctl.byobRequest.respond(3);
    const v = (await p).value;
    assert.ok(v instanceof Uint16Array);
    assert.deepEqual([...v], [1], "one whole element");
    const rest = await r.read(new Uint8Array(4));
    assert.deepEqual(bytes(rest.value), [2], "the odd byte comes next");
  }

  // respondWithNewView: a view on the request's buffer, where its view starts
  {
    let ctl;
    const rs = new ReadableStream({ type: "bytes", start: (c) => void (ctl = c) });
    const r = rs.getReader({ mode: "byob" });
    const p = r.read(new Uint8Array(new ArrayBuffer(6), 1, 5));
    await tick();
    const view = ctl.byobRequest.view;
    assert.throws(() => ctl.byobRequest.respondWithNewView(new Uint8Array(view.buffer, 0, 2)), RangeError, "wrong offset");
    assert.throws(() => ctl.byobRequest.respondWithNewView(new Uint8Array(new ArrayBuffer(3), 1, 2)), RangeError, "another buffer's size");
    assert.throws(() => ctl.byobRequest.respondWithNewView(new Uint8Array(view.buffer, 1, 0)), TypeError, "empty while readable");
    const mine = new Uint8Array(view.buffer, 1, 3);
    mine.set([5, 6, 7]);
    ctl.byobRequest.respondWithNewView(mine);
    assert.deepEqual(bytes((await p).value), [5, 6, 7]);
  }

  // enqueue while a BYOB read waits fills it, and retires the request
  {
    let ctl;
    const rs = new ReadableStream({ type: "bytes", start: (c) => void (ctl = c) });
    const r = rs.getReader({ mode: "byob" });
    const p = r.read(new Uint8Array(3));
    await tick();
    const req = ctl.byobRequest;
    ctl.enqueue(new Uint8Array([1, 2, 3, 4, 5]));
    assert.equal(req.view, null, "the old request is retired");
    assert.deepEqual(bytes((await p).value), [1, 2, 3]);
    assert.deepEqual(bytes((await r.read(new Uint8Array(8))).value), [4, 5]);
  }

  // autoAllocateChunkSize: a default read gets a byobRequest of that size
  {
    const sizes = [];
    const rs = new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: 16,
      pull(c) {
        sizes.push(c.byobRequest.view.byteLength);
        c.byobRequest.view.set([7, 7, 7]);
        c.byobRequest.respond(3);
      },
    });
    const v = (await rs.getReader().read()).value;
    assert.deepEqual(sizes, [16]);
    assert.ok(v instanceof Uint8Array);
    assert.deepEqual(bytes(v), [7, 7, 7]);
    assert.equal(v.buffer.byteLength, 16, "a view of the allocated buffer");
    // enqueue answers an auto-allocated read too
    const rs2 = new ReadableStream({ type: "bytes", autoAllocateChunkSize: 8, pull: (c) => c.enqueue(new Uint8Array([4])) });
    assert.deepEqual(bytes((await rs2.getReader().read()).value), [4]);
  }

  // close: a BYOB read waiting ends when the source responds 0
  {
    let ctl;
    const rs = new ReadableStream({ type: "bytes", start: (c) => void (ctl = c) });
    const r = rs.getReader({ mode: "byob" });
    let settled = false;
    const p = r.read(new Int32Array(2)).then((x) => ((settled = true), x));
    await tick();
    ctl.close();
    await tick();
    assert.equal(settled, false, "close alone does not answer a BYOB read");
    assert.throws(() => ctl.byobRequest.respond(1), TypeError, "bytes after close");
    ctl.byobRequest.respond(0);
    const end = await p;
    assert.equal(end.done, true);
    assert.ok(end.value instanceof Int32Array);
    assert.equal(end.value.length, 0);
    await r.closed;
  }

  // close with half an element filled errors the stream
  {
    let ctl;
    const rs = new ReadableStream({ type: "bytes", start: (c) => void (ctl = c) });
    const r = rs.getReader({ mode: "byob" });
    const p = r.read(new Uint16Array(1));
    await tick();
    ctl.byobRequest.respond(1);
    assert.throws(() => ctl.close(), TypeError);
    await assert.rejects(p, TypeError);
    await assert.rejects(r.closed, TypeError);
  }

  // min from the queue; a close that leaves fewer than min bytes is an error
  {
    let ctl;
    const rs = new ReadableStream({ type: "bytes", start: (c) => void (ctl = c) });
    const r = rs.getReader({ mode: "byob" });
    ctl.enqueue(new Uint8Array([1, 2]));
    const p = r.read(new Uint8Array(4), { min: 4 });
    await tick();
    ctl.enqueue(new Uint8Array([3, 4, 5]));
    assert.deepEqual(bytes((await p).value), [1, 2, 3, 4]);
    ctl.close();
    await assert.rejects(r.read(new Uint8Array(4), { min: 2 }), TypeError, "1 byte left, 2 wanted");
    await assert.rejects(r.closed, TypeError);
  }

  // releasing the reader with a read pending keeps what the source then writes
  {
    let ctl;
    const rs = new ReadableStream({ type: "bytes", start: (c) => void (ctl = c) });
    const r = rs.getReader({ mode: "byob" });
    const p = r.read(new Uint8Array(4));
    await tick();
    const req = ctl.byobRequest;
    r.releaseLock();
    await assert.rejects(p, TypeError, "the released read rejects");
    req.view.set([42, 43]);
    req.respond(2);
    const d = rs.getReader();
    assert.deepEqual(bytes((await d.read()).value), [42, 43], "the bytes reach the next reader");
  }

  // error and cancel with a BYOB read pending
  {
    let ctl;
    const rs = new ReadableStream({ type: "bytes", start: (c) => void (ctl = c) });
    const r = rs.getReader({ mode: "byob" });
    const p = r.read(new Uint8Array(2));
    await tick();
    ctl.error(new RangeError("broken"));
    await assert.rejects(p, RangeError);
    assert.equal(ctl.byobRequest, null, "no request on an errored stream");
    const reasons = [];
    const rs2 = new ReadableStream({ type: "bytes", cancel: (why) => void reasons.push(why) });
    const r2 = rs2.getReader({ mode: "byob" });
    const p2 = r2.read(new Uint8Array(2));
    await r2.cancel("enough");
    const res = await p2;
    assert.equal(res.done, true);
    assert.equal(res.value, undefined, "a canceled BYOB read has no view");
    assert.deepEqual(reasons, ["enough"]);
  }

  // tee: two byte streams with the same bytes, each its own copy; a BYOB read of one branch
  // reads the source into that branch's view, and the other branch gets a copy of those bytes
  {
    const rs = new ReadableStream({
      type: "bytes",
      start(c) {
        c.enqueue(new Uint8Array([1, 2, 3]));
        c.enqueue(new Uint8Array([4]));
        c.close();
      },
    });
    const [a, b] = rs.tee();
    const ra = a.getReader({ mode: "byob" });
    const rb = b.getReader();
    const a1 = await ra.read(new Uint8Array(2));
    assert.deepEqual(bytes(a1.value), [1, 2]);
    const b1 = await rb.read();
    assert.deepEqual(bytes(b1.value), [1, 2], "the other branch gets what the BYOB read took");
    a1.value[0] = 99;
    assert.equal(b1.value[0], 1, "separate copies");
    assert.deepEqual(bytes((await ra.read(new Uint8Array(8))).value), [3, 4], "a BYOB read fills from both queued chunks");
    assert.deepEqual(bytes((await rb.read()).value), [3, 4]);
    assert.equal((await ra.read(new Uint8Array(8))).done, true, "a BYOB read of a branch ends");
    assert.equal((await rb.read()).done, true);
    const reasons = [];
    const [c, d] = new ReadableStream({ type: "bytes", cancel: (why) => void reasons.push(why) }).tee();
    await Promise.all([c.cancel("x"), d.cancel("y")]);
    assert.deepEqual(reasons, [["x", "y"]], "the source is canceled with both reasons");
  }

  // a cloned body is a byte stream too (the clone tees it)
  {
    const res = new Response("abcdef");
    const copy = res.clone();
    const r = copy.body.getReader({ mode: "byob" });
    const got = await r.read(new Uint8Array(4));
    assert.equal(new TextDecoder().decode(got.value), "abcd");
    assert.equal(await res.text(), "abcdef", "the original is whole");
  }

  // a pipe reads a byte stream with a default reader
  {
    const rs = new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: 4,
      pull(c) {
        c.byobRequest.view.set([1, 2, 3, 4]);
        c.byobRequest.respond(4);
        c.close();
        c.byobRequest?.respond(0);
      },
    });
    const got = [];
    await rs.pipeTo(new WritableStream({ write: (chunk) => void got.push(...chunk) }));
    assert.deepEqual(got, [1, 2, 3, 4]);
  }
})
