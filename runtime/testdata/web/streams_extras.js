// TextEncoderStream, TextDecoderStream, IdentityTransformStream, FixedLengthStream,
// CompressionStream round trips (55_streams.js).
(async (assert) => {
  const collect = async (stream) => {
    const out = [];
    for await (const chunk of stream) out.push(chunk);
    return out;
  };
  const through = (chunks, ts) => collect(ReadableStream.from(chunks).pipeThrough(ts));
  const concat = (parts) => {
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    return all;
  };

  // ---- TextDecoderStream: characters split across chunks ----
  {
    const bytes = new TextEncoder().encode("é€𝄞!"); // 2, 3, 4 and 1 bytes
    const oneByte = [...bytes].map((b) => new Uint8Array([b]));
    assert.equal((await through(oneByte, new TextDecoderStream())).join(""), "é€𝄞!", "one byte per chunk");
    const split = [bytes.slice(0, 1), bytes.slice(1, 4), bytes.slice(4, 7), bytes.slice(7)];
    assert.equal((await through(split, new TextDecoderStream())).join(""), "é€𝄞!");
    const d = new TextDecoderStream("utf-8", { fatal: true });
    assert.equal(d.encoding, "utf-8");
    assert.equal(d.fatal, true);
    await assert.rejects(through([new Uint8Array([0x61, 0xff])], d), TypeError, "fatal: invalid bytes error the stream");
    await assert.rejects(through([new Uint8Array([0xe2, 0x82])], new TextDecoderStream("utf-8", { fatal: true })), TypeError,
      "fatal: a truncated character at the end errors the stream");
    assert.deepEqual(await through([new Uint8Array([0x61, 0xe2, 0x82])], new TextDecoderStream()), ["a", "\uFFFD"],
      "not fatal: a truncated character becomes U+FFFD at the end");
    await assert.rejects(through(["not bytes"], new TextDecoderStream()), TypeError);
  }

  // ---- TextEncoderStream: a surrogate pair split across chunks ----
  {
    const pair = "𝄞";
    const out = await through(["a" + pair[0], pair[1] + "b"], new TextEncoderStream());
    assert.equal(new TextDecoder().decode(concat(out)), "a𝄞b", "the pair encodes as one character");
    const lone = await through(["x\uD834"], new TextEncoderStream());
    assert.equal(new TextDecoder().decode(concat(lone)), "x\uFFFD", "a lone surrogate at the end is U+FFFD");
    assert.equal(new TextEncoderStream().encoding, "utf-8");
  }

  // ---- IdentityTransformStream and FixedLengthStream ----
  {
    const id = new IdentityTransformStream();
    assert.ok(id instanceof TransformStream);
    assert.deepEqual(await through([new Uint8Array([1, 2]), new Uint8Array([3]).buffer], id), [new Uint8Array([1, 2]), new Uint8Array([3])]);
    await assert.rejects(through(["text"], new IdentityTransformStream()), TypeError, "only bytes");

    assert.deepEqual(concat(await through([new Uint8Array(3), new Uint8Array(2)], new FixedLengthStream(5))), new Uint8Array(5));
    await assert.rejects(through([new Uint8Array(6)], new FixedLengthStream(5)), TypeError, "too many bytes");
    await assert.rejects(through([new Uint8Array(4)], new FixedLengthStream(5)), TypeError, "too few bytes");
    assert.throws(() => new FixedLengthStream(-1), RangeError);
    assert.throws(() => new FixedLengthStream(), TypeError);

    // A Response whose body is a FixedLengthStream's readable side says its length, as on
    // Workers; a Content-Length the caller gave wins, and other streams say none.
    const fixed = new FixedLengthStream(5);
    const res = new Response(fixed.readable, { headers: { "content-type": "application/octet-stream" } });
    assert.equal(res.headers.get("content-length"), "5");
    const w = fixed.writable.getWriter();
    w.write(new Uint8Array([1, 2, 3, 4, 5]));
    w.close();
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), new Uint8Array([1, 2, 3, 4, 5]));
    assert.equal(new Response(new FixedLengthStream(0).readable).headers.get("content-length"), "0");
    assert.equal(new Response(new FixedLengthStream(7).readable, { headers: { "content-length": "7" } }).headers.get("content-length"), "7");
    assert.equal(new Response(new IdentityTransformStream().readable).headers.get("content-length"), null);
    assert.equal(new Response(new ReadableStream()).headers.get("content-length"), null);
  }

  // ---- compression round trips in the sandbox (Go is the oracle in engine/compress_test.go) ----
  {
    const text = "streams ".repeat(5000) + "é€𝄞";
    for (const format of ["gzip", "deflate", "deflate-raw"]) {
      const compressed = concat(await through([new TextEncoder().encode(text)], new CompressionStream(format)));
      assert.ok(compressed.length < text.length / 10, `${format} compresses`);
      const back = await new Response(new Blob([compressed]).stream().pipeThrough(new DecompressionStream(format))).text();
      assert.equal(back, text, `${format} round trip`);
    }
    assert.deepEqual(
      [...concat(await through([new Uint8Array([1])], new CompressionStream("gzip"))).subarray(0, 2)],
      [0x1f, 0x8b],
      "gzip output starts with the gzip magic",
    );
    assert.throws(() => new CompressionStream("zstd"), TypeError);
    assert.throws(() => new DecompressionStream(), TypeError);
    await assert.rejects(through(["text"], new CompressionStream("gzip")), TypeError, "only bytes");
    await assert.rejects(through([new Uint8Array([1, 2, 3])], new DecompressionStream("deflate")), TypeError, "invalid data");
  }
})
