// crypto.getRandomValues, crypto.randomUUID, crypto.subtle.digest.
(async (assert) => {
  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
  const enc = new TextEncoder();

  assert.equal(typeof crypto, "object");
  assert.ok(crypto instanceof Crypto, "crypto is a Crypto");
  assert.ok(crypto.subtle instanceof SubtleCrypto);
  assert.equal(crypto.subtle, crypto.subtle, "subtle is one object");
  assert.equal(Object.prototype.toString.call(crypto), "[object Crypto]");
  assert.throws(() => new Crypto(), TypeError, "Crypto is not constructible");
  assert.throws(() => new SubtleCrypto(), TypeError, "SubtleCrypto is not constructible");

  // getRandomValues
  const u8 = new Uint8Array(64);
  assert.equal(crypto.getRandomValues(u8), u8, "returns its argument");
  assert.ok(u8.some((b) => b !== 0), "bytes are filled");
  for (const C of [Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array]) {
    const a = new C(8);
    crypto.getRandomValues(a);
    assert.ok(a.some((x) => x != 0), `${C.name} is filled`);
  }
  const big = new Uint8Array(65536);
  crypto.getRandomValues(big);
  assert.ok(big.some((b) => b !== 0), "the 65536-byte maximum is accepted");
  const window = new Uint8Array(16);
  crypto.getRandomValues(window.subarray(4, 8));
  assert.ok(window.slice(0, 4).every((b) => b === 0) && window.slice(8).every((b) => b === 0), "only the view is written");
  assert.equal(crypto.getRandomValues(new Uint8Array(0)).length, 0, "empty arrays are fine");
  assert.throws(() => crypto.getRandomValues(new Uint8Array(65537)), "QuotaExceededError", "more than 65536 bytes");
  assert.throws(() => crypto.getRandomValues(new Uint32Array(16385)), "QuotaExceededError", "limit is in bytes");
  assert.throws(() => crypto.getRandomValues(new Float32Array(4)), "TypeMismatchError", "float arrays");
  assert.throws(() => crypto.getRandomValues(new Float64Array(4)), "TypeMismatchError");
  assert.throws(() => crypto.getRandomValues(new DataView(new ArrayBuffer(4))), "TypeMismatchError", "DataView");
  assert.throws(() => crypto.getRandomValues([1, 2, 3]), TypeError, "plain arrays");
  assert.throws(() => crypto.getRandomValues(new ArrayBuffer(4)), TypeError, "ArrayBuffer");
  assert.throws(() => crypto.getRandomValues(), TypeError);
  const { getRandomValues } = crypto;
  assert.throws(() => getRandomValues(new Uint8Array(4)), TypeError, "unbound call is an illegal invocation");
  assert.equal(crypto.getRandomValues.call(crypto, new Uint8Array(2)).length, 2);
  const qe = assert.throws(() => crypto.getRandomValues(new Uint8Array(70000)), DOMException);
  assert.equal(qe.code, 22, "QuotaExceededError code");

  // randomUUID
  const uuid = crypto.randomUUID();
  assert.equal(typeof uuid, "string");
  assert.ok(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(uuid), `v4 format: ${uuid}`);
  const uuids = new Set(Array.from({ length: 100 }, () => crypto.randomUUID()));
  assert.equal(uuids.size, 100, "UUIDs are unique");

  // digest
  const abc = enc.encode("abc");
  const vectors = {
    "SHA-1": "a9993e364706816aba3e25717850c26c9cd0d89d",
    "SHA-256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "SHA-384": "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
    "SHA-512":
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
  };
  for (const [alg, want] of Object.entries(vectors)) {
    const p = crypto.subtle.digest(alg, abc);
    assert.ok(p instanceof Promise, "digest returns a promise");
    const out = await p;
    assert.ok(out instanceof ArrayBuffer, `${alg} resolves to an ArrayBuffer`);
    assert.equal(hex(out), want, alg);
  }
  assert.equal(hex(await crypto.subtle.digest({ name: "sha-256" }, abc)), vectors["SHA-256"], "object form, any case");
  assert.equal(hex(await crypto.subtle.digest("sha-1", abc.buffer)), vectors["SHA-1"], "ArrayBuffer input");
  assert.equal(hex(await crypto.subtle.digest("SHA-256", new DataView(abc.buffer))), vectors["SHA-256"], "DataView input");
  const padded = new Uint8Array([0, 0x61, 0x62, 0x63, 0]);
  assert.equal(hex(await crypto.subtle.digest("SHA-256", padded.subarray(1, 4))), vectors["SHA-256"], "view offsets respected");
  assert.equal(hex(await crypto.subtle.digest("SHA-256", new Uint8Array(0))), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty input");
  const mutable = enc.encode("abc");
  const pending = crypto.subtle.digest("SHA-256", mutable);
  mutable[0] = 0;
  assert.equal(hex(await pending), vectors["SHA-256"], "input is copied at call time");
  const long = new Uint8Array(100000).fill(0x61);
  assert.equal((await crypto.subtle.digest("SHA-512", long)).byteLength, 64, "long input");

  await assert.rejects(crypto.subtle.digest("MD5", abc), "NotSupportedError", "unknown algorithm");
  await assert.rejects(crypto.subtle.digest("SHA-257", abc), "NotSupportedError");
  await assert.rejects(crypto.subtle.digest({ name: "nope" }, abc), "NotSupportedError");
  await assert.rejects(crypto.subtle.digest({}, abc), TypeError, "algorithm object without a name");
  await assert.rejects(crypto.subtle.digest("SHA-256", "abc"), TypeError, "strings are not BufferSources");
  await assert.rejects(crypto.subtle.digest("SHA-256"), TypeError, "data is required");
  await assert.rejects(crypto.subtle.digest("SHA-256", [1, 2]), TypeError);
  const notThrown = (() => {
    try {
      crypto.subtle.digest("MD5", abc).catch(() => {});
      return true;
    } catch {
      return false;
    }
  })();
  assert.ok(notThrown, "errors are rejections, never synchronous throws");
})
