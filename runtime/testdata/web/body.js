// The Body mixin (Request and Response): reading, bodyUsed, body streams, body types.
(async (assert) => {
  const enc = new TextEncoder();
  const stream = (...chunks) =>
    new ReadableStream({
      start(c) {
        for (const chunk of chunks) c.enqueue(chunk);
        c.close();
      },
    });

  // each way of reading
  assert.equal(await new Response("text body").text(), "text body");
  assert.deepEqual(await new Response('{"a":[1,2]}').json(), { a: [1, 2] });
  const ab = await new Response("abc").arrayBuffer();
  assert.ok(ab instanceof ArrayBuffer, "arrayBuffer()");
  assert.deepEqual(Array.from(new Uint8Array(ab)), [97, 98, 99]);
  const u8 = await new Response("abc").bytes();
  assert.ok(u8 instanceof Uint8Array, "bytes()");
  assert.deepEqual(Array.from(u8), [97, 98, 99]);
  const blob = await new Response("abc", { headers: { "Content-Type": "Text/Plain;Charset=UTF-8" } }).blob();
  assert.ok(blob instanceof Blob);
  assert.equal(blob.type, "text/plain;charset=utf-8", "blob() takes the Content-Type");
  assert.equal(await blob.text(), "abc");
  assert.equal(await new Request("https://example.com/", { method: "POST", body: "req" }).text(), "req", "requests have the same methods");

  // body used once
  const once = new Response("once");
  assert.equal(once.bodyUsed, false);
  const p = once.text();
  assert.equal(once.bodyUsed, true, "bodyUsed is set as soon as reading starts");
  assert.equal(await p, "once");
  await assert.rejects(once.text(), TypeError, "reading twice");
  await assert.rejects(once.json(), TypeError);
  await assert.rejects(once.arrayBuffer(), TypeError);
  await assert.rejects(once.blob(), TypeError);
  await assert.rejects(once.bytes(), TypeError);
  await assert.rejects(once.formData(), TypeError);
  const msg = await once.text().catch((e) => e.message);
  assert.ok(/already been used/.test(msg), `message: ${msg}`);
  const req = new Request("https://example.com/", { method: "PUT", body: "r" });
  await req.text();
  await assert.rejects(req.text(), TypeError, "requests too");
  assert.throws(() => once.clone(), TypeError, "a used body cannot be cloned");

  // errors while reading are rejections
  await assert.rejects(new Response("{not json").json(), SyntaxError, "invalid JSON");
  await assert.rejects(new Response("").json(), SyntaxError, "empty JSON");
  await assert.rejects(() => Response.prototype.text.call({}), TypeError, "brand check");

  // null bodies
  const none = new Response();
  assert.equal(none.body, null);
  assert.equal(await none.text(), "");
  assert.equal(await none.text(), "", "a null body can be read again");
  assert.equal(none.bodyUsed, false, "and never becomes used");
  assert.equal((await none.arrayBuffer()).byteLength, 0);
  assert.equal(new Response(null).body, null);
  assert.equal(new Request("https://example.com/").body, null, "GET requests have no body");

  // the body stream
  const sr = new Response("streamed");
  const body = sr.body;
  assert.ok(body instanceof ReadableStream, "body is a ReadableStream");
  assert.equal(sr.body, body, "the same stream every time");
  assert.equal(sr.bodyUsed, false);
  const reader = body.getReader();
  await assert.rejects(sr.text(), TypeError, "a locked body cannot be read");
  const { value, done } = await reader.read();
  assert.ok(value instanceof Uint8Array && !done);
  assert.equal(new TextDecoder().decode(value), "streamed");
  assert.equal(sr.bodyUsed, true, "reading the stream uses the body");
  assert.equal((await reader.read()).done, true);
  const afterText = new Response("x");
  await afterText.text();
  assert.ok(afterText.body instanceof ReadableStream, "body after text() is still a stream");
  assert.equal(afterText.bodyUsed, true);
  assert.equal(new Response("").body instanceof ReadableStream, true, "an empty body is not a null body");
  assert.equal((await new Response("").body.getReader().read()).done, true);
  let total = "";
  for await (const chunk of new Response("iterate me").body) total += new TextDecoder().decode(chunk);
  assert.equal(total, "iterate me", "for await over a body");

  // bodies from ReadableStreams
  assert.equal(await new Response(stream(enc.encode("ab"), enc.encode("cd"))).text(), "abcd");
  let pulled = 0;
  const pulling = new ReadableStream({
    pull(c) {
      pulled++;
      if (pulled > 3) c.close();
      else c.enqueue(enc.encode(String(pulled)));
    },
  });
  assert.equal(await new Response(pulling).text(), "123", "pull-based streams");
  await assert.rejects(new Response(stream("not bytes")).text(), TypeError, "chunks must be Uint8Array");
  await assert.rejects(new Response(stream(new Uint16Array([1]))).text(), TypeError, "other typed arrays are rejected too");
  const failing = new ReadableStream({
    pull() {
      throw new RangeError("source failed");
    },
  });
  await assert.rejects(new Response(failing).text(), RangeError, "stream errors reject the read");
  const used = stream(enc.encode("x"));
  await used.getReader().read();
  assert.throws(() => new Response(used), TypeError, "a disturbed stream cannot be a body");
  const locked = stream();
  locked.getReader();
  assert.throws(() => new Response(locked), TypeError, "a locked stream cannot be a body");
  const streamBody = new Response(stream(enc.encode("s")));
  assert.equal(streamBody.headers.get("content-type"), null, "streams imply no Content-Type");

  // body types and the Content-Type they imply
  const types = [
    ["string", "s", "text/plain;charset=UTF-8", "s"],
    ["URLSearchParams", new URLSearchParams({ a: "1 2", b: "é" }), "application/x-www-form-urlencoded;charset=UTF-8", "a=1+2&b=%C3%A9"],
    ["Blob", new Blob(["blob"], { type: "image/png" }), "image/png", "blob"],
    ["untyped Blob", new Blob(["blob"]), null, "blob"],
    ["ArrayBuffer", enc.encode("buf").buffer, null, "buf"],
    ["Uint8Array", enc.encode("u8"), null, "u8"],
    ["DataView", new DataView(enc.encode("dv").buffer), null, "dv"],
    ["subarray", enc.encode("xsubx").subarray(1, 4), null, "sub"],
    ["number", 42, "text/plain;charset=UTF-8", "42"],
    ["object", { a: 1 }, "text/plain;charset=UTF-8", "[object Object]"],
  ];
  for (const [name, init, type, text] of types) {
    const r = new Response(init);
    assert.equal(r.headers.get("content-type"), type, `Content-Type for ${name}`);
    assert.equal(await r.text(), text, `body for ${name}`);
  }
  const explicit = new Response("x", { headers: { "content-type": "application/custom" } });
  assert.equal(explicit.headers.get("content-type"), "application/custom", "an explicit Content-Type wins");
  const copied = enc.encode("abc");
  const snapshot = new Response(copied);
  copied[0] = 122;
  assert.equal(await snapshot.text(), "abc", "buffer bodies are copied");

  // text() decoding
  assert.equal(await new Response(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])).text(), "A", "BOM is stripped");
  assert.equal(await new Response(new Uint8Array([0x41, 0xff, 0x42])).text(), "A\ufffdB", "invalid UTF-8 becomes U+FFFD");

  // clone
  const original = new Response("cloned body");
  const twin = original.clone();
  assert.equal(await original.text(), "cloned body");
  assert.equal(await twin.text(), "cloned body", "a clone has its own copy of the body");
  const streamed = new Response(stream(enc.encode("s1"), enc.encode("s2")));
  const streamedTwin = streamed.clone();
  assert.equal(await streamedTwin.text(), "s1s2", "stream bodies are teed");
  assert.equal(await streamed.text(), "s1s2");
  const reqOriginal = new Request("https://example.com/", { method: "POST", body: "request body" });
  const reqTwin = reqOriginal.clone();
  assert.equal(await reqTwin.text(), "request body");
  assert.equal(await reqOriginal.text(), "request body");

  // a large body
  const big = "x".repeat(1 << 20) + "é";
  const bigRes = new Response(big);
  assert.equal((await bigRes.clone().arrayBuffer()).byteLength, (1 << 20) + 2);
  assert.equal(await bigRes.text(), big);
})
