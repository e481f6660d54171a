// TextEncoder / TextDecoder.
(async (assert) => {
  const enc = new TextEncoder();
  const bytes = (...b) => new Uint8Array(b);
  const hex = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, "0")).join(" ");

  // TextEncoder
  assert.equal(enc.encoding, "utf-8");
  assert.equal(Object.prototype.toString.call(enc), "[object TextEncoder]");
  assert.ok(enc.encode("abc") instanceof Uint8Array, "encode returns a Uint8Array");
  assert.deepEqual(enc.encode("abc"), bytes(0x61, 0x62, 0x63));
  assert.deepEqual(enc.encode(), bytes(), "no argument encodes the empty string");
  assert.deepEqual(enc.encode(""), bytes());
  assert.equal(hex(enc.encode("é€😀")), "c3 a9 e2 82 ac f0 9f 98 80");
  assert.equal(hex(enc.encode("\u0000\u007f\u0080\u07ff\u0800\uffff")), "00 7f c2 80 df bf e0 a0 80 ef bf bf");
  assert.equal(hex(enc.encode("\ud800")), "ef bf bd", "lone lead surrogate becomes U+FFFD");
  assert.equal(hex(enc.encode("a\udc00b")), "61 ef bf bd 62", "lone trail surrogate becomes U+FFFD");
  assert.equal(hex(enc.encode("\udc00\ud800")), "ef bf bd ef bf bd", "reversed pair is two replacements");
  assert.deepEqual(enc.encode(123), bytes(0x31, 0x32, 0x33), "non-strings are converted with String()");
  assert.equal(enc.encode("x").buffer.byteLength, 1, "the buffer is exactly as long as the output");
  // Short ASCII strings take a loop of their own (20_encoding.js); at its bound and past it,
  // and when the first other unit comes last, the bytes are the same as the general path's.
  const a64 = "a".repeat(64);
  assert.deepEqual(enc.encode(a64), new Uint8Array(64).fill(0x61), "64 ASCII characters");
  assert.deepEqual(enc.encode(a64 + "b").length, 65, "65 ASCII characters");
  assert.equal(hex(enc.encode("a".repeat(63) + "é").subarray(62)), "61 c3 a9", "non-ASCII last");
  assert.equal(hex(enc.encode("ab\ud800")), "61 62 ef bf bd", "a short string with a lone surrogate last");
  assert.equal(hex(enc.encode("\x7f\x80")), "7f c2 80", "the ASCII bound");
  assert.throws(() => enc.encode(Symbol("s")), TypeError, "symbols cannot be converted");

  // encodeInto
  const dest = new Uint8Array(5);
  assert.deepEqual(enc.encodeInto("héllo", dest), { read: 4, written: 5 }, "stops before a character that does not fit");
  assert.equal(hex(dest), "68 c3 a9 6c 6c");
  assert.deepEqual(enc.encodeInto("😀", new Uint8Array(3)), { read: 0, written: 0 }, "never splits a 4-byte sequence");
  assert.deepEqual(enc.encodeInto("😀", new Uint8Array(4)), { read: 2, written: 4 }, "read counts UTF-16 units");
  assert.deepEqual(enc.encodeInto("", new Uint8Array(0)), { read: 0, written: 0 });
  const big = new Uint8Array(10);
  const sub = big.subarray(2, 6);
  enc.encodeInto("abcd", sub);
  assert.equal(hex(big), "00 00 61 62 63 64 00 00 00 00", "writes through a subarray view");
  assert.throws(() => enc.encodeInto("a", new ArrayBuffer(4)), TypeError, "destination must be a Uint8Array");
  assert.throws(() => enc.encodeInto("a", new Uint16Array(4)), TypeError);

  // TextDecoder construction and labels
  const dec = new TextDecoder();
  assert.equal(dec.encoding, "utf-8");
  assert.equal(dec.fatal, false);
  assert.equal(dec.ignoreBOM, false);
  assert.equal(Object.prototype.toString.call(dec), "[object TextDecoder]");
  for (const label of ["utf8", "UTF-8", " utf-8\n", "unicode-1-1-utf-8", "unicode11utf8", "x-unicode20utf8"]) {
    assert.equal(new TextDecoder(label).encoding, "utf-8", `label ${JSON.stringify(label)}`);
  }
  for (const label of ["utf-16le", "utf-16", "UTF-16LE", "ucs-2", "unicode"]) {
    assert.equal(new TextDecoder(label).encoding, "utf-16le", `label ${label}`);
  }
  assert.equal(new TextDecoder("utf-16be").encoding, "utf-16be");
  assert.equal(new TextDecoder("latin1").encoding, "windows-1252");
  assert.equal(new TextDecoder("ascii").encoding, "windows-1252");
  assert.throws(() => new TextDecoder("utf-7"), RangeError, "unknown label");
  assert.throws(() => new TextDecoder("nope"), RangeError);
  assert.throws(() => new TextDecoder(""), RangeError);
  assert.throws(() => new TextDecoder("utf-8", 5), TypeError, "options must be an object");
  assert.equal(new TextDecoder("utf-8", { fatal: 1, ignoreBOM: "yes" }).fatal, true);
  assert.equal(new TextDecoder("utf-8", { ignoreBOM: true }).ignoreBOM, true);
  assert.throws(() => TextDecoder.prototype.decode.call({}, bytes(1)), TypeError, "brand check");

  // Valid UTF-8
  assert.equal(dec.decode(bytes(0x68, 0x69)), "hi");
  assert.equal(dec.decode(), "", "no input decodes to the empty string");
  assert.equal(dec.decode(enc.encode("é€😀 mixed ascii")), "é€😀 mixed ascii");
  assert.equal(dec.decode(enc.encode("x").buffer), "x", "accepts ArrayBuffer");
  assert.equal(dec.decode(new DataView(enc.encode("dv").buffer)), "dv", "accepts DataView");
  assert.equal(dec.decode(new Uint16Array([0x6968])), "hi", "accepts any typed array (bytes in memory order)");
  assert.equal(dec.decode(enc.encode("abcdef").subarray(2, 4)), "cd", "respects view offset and length");
  assert.throws(() => dec.decode("string"), TypeError, "strings are not BufferSources");
  assert.throws(() => dec.decode([1, 2]), TypeError, "arrays are not BufferSources");
  assert.throws(() => dec.decode(null), TypeError);
  assert.throws(() => dec.decode(bytes(1), 5), TypeError, "options must be an object");
  const long = "x".repeat(50000) + "é";
  assert.equal(dec.decode(enc.encode(long)), long, "long input is decoded whole");

  // BOM handling
  assert.equal(dec.decode(bytes(0xef, 0xbb, 0xbf, 0x61)), "a", "leading BOM is stripped");
  assert.equal(dec.decode(bytes(0x61, 0xef, 0xbb, 0xbf)), "a\ufeff", "a BOM elsewhere is kept");
  assert.equal(dec.decode(bytes(0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf)), "\ufeff", "only the first BOM is stripped");
  assert.equal(new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes(0xef, 0xbb, 0xbf, 0x61)), "\ufeffa", "ignoreBOM keeps it");

  // Invalid UTF-8: each maximal subpart becomes one U+FFFD
  const R = "\ufffd";
  const cases = [
    [[0x80], R],
    [[0xff], R],
    [[0xc0, 0x80], R + R],
    [[0xc1, 0xbf], R + R],
    [[0xe0, 0x80, 0x80], R + R + R],
    [[0xe0, 0xa0], R],
    [[0xe2, 0x82], R],
    [[0xe2, 0x82, 0x41], R + "A"],
    [[0xed, 0xa0, 0x80], R + R + R],
    [[0xf0, 0x9f, 0x98], R],
    [[0xf0, 0x80, 0x80, 0x80], R + R + R + R],
    [[0xf4, 0x90, 0x80, 0x80], R + R + R + R],
    [[0xf5, 0x80], R + R],
    [[0x61, 0xf1, 0x80, 0x80, 0xe1, 0x80, 0xc2, 0x62, 0x80, 0x63, 0x80, 0xbf, 0x64], "a" + R + R + R + "b" + R + "c" + R + R + "d"],
    [[0xc2], R],
    [[0xc2, 0x41], R + "A"],
  ];
  for (const [input, want] of cases) {
    assert.equal(dec.decode(new Uint8Array(input)), want, `decode ${hex(new Uint8Array(input))}`);
  }

  // fatal
  const fatal = new TextDecoder("utf-8", { fatal: true });
  assert.equal(fatal.decode(enc.encode("ok é")), "ok é");
  assert.throws(() => fatal.decode(bytes(0xff)), TypeError, "invalid byte");
  assert.throws(() => fatal.decode(bytes(0xc3)), TypeError, "truncated sequence");
  assert.throws(() => fatal.decode(bytes(0xed, 0xa0, 0x80)), TypeError, "encoded surrogate");
  assert.equal(fatal.decode(bytes(0x61)), "a", "usable again after an error");
  assert.equal(fatal.decode(bytes(0xc3), { stream: true }), "", "a partial sequence is fine while streaming");
  assert.throws(() => fatal.decode(), TypeError, "but not at the end of the stream");

  // streaming
  const s = new TextDecoder();
  const euro = enc.encode("€"); // e2 82 ac
  assert.equal(s.decode(euro.subarray(0, 1), { stream: true }), "");
  assert.equal(s.decode(euro.subarray(1, 2), { stream: true }), "");
  assert.equal(s.decode(euro.subarray(2), { stream: true }), "€", "a character split over three chunks");
  assert.equal(s.decode(bytes(0xf0, 0x9f), { stream: true }), "");
  assert.equal(s.decode(bytes(0x98, 0x80)), "😀", "final chunk completes a 4-byte sequence");
  assert.equal(s.decode(bytes(0xe2), { stream: true }), "");
  assert.equal(s.decode(), R, "flushing an incomplete sequence gives U+FFFD");
  assert.equal(s.decode(bytes(0xe2), { stream: true }), "");
  assert.equal(s.decode(bytes(0x41), { stream: true }), R + "A", "a bad continuation ends the subpart");
  assert.equal(s.decode(), "", "end of that stream");
  assert.equal(s.decode(bytes(0xef, 0xbb), { stream: true }), "", "BOM split across chunks");
  assert.equal(s.decode(bytes(0xbf, 0x62)), "b", "is still stripped at the start of a new stream");
  assert.equal(s.decode(bytes(0xef, 0xbb, 0xbf, 0x63), { stream: true }), "c", "BOM stripped at start of stream");
  assert.equal(s.decode(bytes(0xef, 0xbb, 0xbf, 0x64)), "\ufeffd", "but not later in the same stream");
  // ASCII and whole inputs take shortcuts that must agree with the full algorithm
  const ascii = "\0\x01\t\n ~\x7f" + "plain text ".repeat(50);
  assert.deepEqual([...enc.encode(ascii)], [...ascii].map((c) => c.charCodeAt(0)), "ASCII encodes byte for byte");
  assert.equal(new TextDecoder().decode(enc.encode(ascii)), ascii, "ASCII decodes back");
  assert.deepEqual([...enc.encode("a\x80")], [0x61, 0xc2, 0x80], "U+0080 is not ASCII");
  assert.equal(new TextDecoder().decode(bytes(0x61, 0x80)), "a" + R, "nor is the byte 0x80");
  const again = new TextDecoder();
  assert.equal(again.decode(bytes(0x61, 0xe2), { stream: true }), "a");
  assert.equal(again.decode(bytes(0x82, 0xac)), "€", "a whole decode after a streamed one continues it");
  assert.equal(again.decode(bytes(0xef, 0xbb, 0xbf, 0x62)), "b", "and the stream after it starts anew");
  const chunks = enc.encode("héllo wörld 😀 ☃");
  let out = "";
  const sd = new TextDecoder();
  for (const b of chunks) out += sd.decode(new Uint8Array([b]), { stream: true });
  out += sd.decode();
  assert.equal(out, "héllo wörld 😀 ☃", "byte-at-a-time streaming");

  // UTF-16
  const le = new TextDecoder("utf-16le");
  assert.equal(le.decode(bytes(0x68, 0x00, 0x69, 0x00)), "hi");
  assert.equal(le.decode(bytes(0xff, 0xfe, 0x68, 0x00)), "h", "UTF-16LE BOM is stripped");
  assert.equal(le.decode(bytes(0x3d, 0xd8, 0x00, 0xde)), "😀", "surrogate pair");
  assert.equal(le.decode(bytes(0x3d, 0xd8, 0x41, 0x00)), R + "A", "unpaired lead surrogate");
  assert.equal(le.decode(bytes(0x00, 0xde, 0x41, 0x00)), R + "A", "lone trail surrogate");
  assert.equal(le.decode(bytes(0x41, 0x00, 0x42)), "A" + R, "odd trailing byte");
  assert.equal(le.decode(bytes(0x3d, 0xd8)), R, "lead surrogate at end");
  assert.equal(le.decode(bytes(0x41), { stream: true }), "");
  assert.equal(le.decode(bytes(0x00, 0x3d), { stream: true }), "A");
  assert.equal(le.decode(bytes(0xd8, 0x00), { stream: true }), "");
  assert.equal(le.decode(bytes(0xde)), "😀", "pair split across chunks");
  assert.throws(() => new TextDecoder("utf-16le", { fatal: true }).decode(bytes(0x00, 0xd8)), TypeError);
  assert.equal(new TextDecoder("utf-16be").decode(bytes(0xfe, 0xff, 0x00, 0x68, 0x00, 0x69)), "hi", "UTF-16BE with BOM");

  // windows-1252
  const w = new TextDecoder("windows-1252");
  assert.equal(w.decode(bytes(0x41, 0xe9, 0x80, 0x9f, 0xff)), "Aé€Ÿÿ");
  assert.equal(w.decode(bytes(0x81, 0x8d)), "\u0081\u008d", "undefined code points map to C1 controls");
  assert.equal(w.decode(bytes(0xef, 0xbb, 0xbf)), "ï»¿", "no BOM handling");

  // long inputs (processed in slices of 2^20 units or bytes)
  const M = 1 << 20;
  const pairAcross = "a".repeat(M - 1) + "😀" + "é";
  assert.equal(dec.decode(enc.encode(pairAcross)), pairAcross, "a surrogate pair across a slice boundary");
  const loneAcross = "a".repeat(M - 1) + "\ud800b";
  assert.equal(dec.decode(enc.encode(loneAcross)), "a".repeat(M - 1) + "\ufffdb", "a lone surrogate at a slice boundary");
  const euroAcross = "a".repeat(M - 1) + "€";
  assert.equal(dec.decode(enc.encode(euroAcross)), euroAcross, "a 3-byte sequence across a slice boundary");
  const badLate = new Uint8Array(M + 10).fill(0x61);
  badLate[M + 5] = 0xff;
  assert.equal(dec.decode(badLate), "a".repeat(M + 5) + R + "aaaa", "an invalid byte after the first slice");
  assert.throws(() => fatal.decode(badLate), TypeError, "fatal sees it too");
  const tail = new TextDecoder();
  assert.equal(tail.decode(enc.encode("x".repeat(M) + "€").subarray(0, M + 2), { stream: true }), "x".repeat(M), "a long chunk ending mid-sequence");
  assert.equal(tail.decode(new Uint8Array([0xac])), "€");
  assert.deepEqual(enc.encodeInto("héllo", new Uint8Array(100)), { read: 5, written: 6 }, "encodeInto with room to spare");

  // round trip of every code point class
  const all = "\u0000\u0001\u007f\u0080\u00ff\u0100\u07ff\u0800\ud7ff\ue000\ufffd\uffff\u{10000}\u{10ffff}";
  assert.equal(dec.decode(enc.encode(all)), all, "round trip");
})
