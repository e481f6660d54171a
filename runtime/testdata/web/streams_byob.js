// BYOB readers of byte streams (50_fetch.js): reads fill the caller's view, a larger chunk
// is split across reads, a waiting read is filled by the next enqueue.
(async (assert) => {
  const tick = () => new Promise((r) => setTimeout(r, 0));

  // queued chunks, split across views
  {
    const rs = new ReadableStream({
      type: "bytes",
      start(c) {
        c.enqueue(new Uint8Array([1, 2, 3, 4, 5]));
        c.close();
      },
    });
    const r = rs.getReader({ mode: "byob" });
    assert.equal(Object.prototype.toString.call(r), "[object ReadableStreamBYOBReader]");
    let res = await r.read(new Uint8Array(2));
    assert.deepEqual([...res.value], [1, 2]);
    res = await r.read(new Uint8Array(8));
    assert.deepEqual([...res.value], [3, 4, 5], "the rest of the chunk");
    assert.equal(res.value.buffer.byteLength, 8, "the value is a view of the caller's buffer, transferred");
    res = await r.read(new Uint8Array(8));
    assert.equal(res.done, true);
    assert.equal(res.value.byteLength, 0, "the end gives an empty view");
  }

  // a read that waits for the source; a DataView and a wider typed array
  {
    let ctl;
    const rs = new ReadableStream({ type: "bytes", start: (c) => void (ctl = c) });
    const r = rs.getReader({ mode: "byob" });
    const pending = r.read(new Uint8Array(3));
    await tick();
    ctl.enqueue(new Uint8Array([7, 8, 9, 10]));
    assert.deepEqual([...(await pending).value], [7, 8, 9]);
    const dv = (await r.read(new DataView(new ArrayBuffer(4)))).value;
    assert.ok(dv instanceof DataView);
    assert.equal(dv.byteLength, 1);
    assert.equal(dv.getUint8(0), 10);
    ctl.enqueue(new Uint8Array([1, 0, 2, 0]));
    const u16 = (await r.read(new Uint16Array(2))).value;
    assert.deepEqual([...u16], [1, 2]);
    ctl.error(new RangeError("broken"));
    await assert.rejects(r.read(new Uint8Array(1)), RangeError);
  }

  // only byte streams, only non-empty views
  {
    assert.throws(() => new ReadableStream().getReader({ mode: "byob" }), TypeError);
    const r = new ReadableStream({ type: "bytes" }).getReader({ mode: "byob" });
    await assert.rejects(r.read(new Uint8Array(0)), TypeError);
    await assert.rejects(r.read([1, 2]), TypeError);
    await assert.rejects(r.read(new Uint8Array(4), { min: 0 }), TypeError, "min 0");
    await assert.rejects(r.read(new Uint8Array(4), { min: 5 }), RangeError, "min past the view");
    r.releaseLock();
    await assert.rejects(r.read(new Uint8Array(1)), TypeError, "a released reader");
  }

  // a Response body is a byte stream
  {
    const r = new Response("abcdef").body.getReader({ mode: "byob" });
    const first = await r.read(new Uint8Array(4));
    assert.equal(new TextDecoder().decode(first.value), "abcd");
    const second = await r.read(new Uint8Array(4));
    assert.equal(new TextDecoder().decode(second.value), "ef");
  }
})
