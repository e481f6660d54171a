// exports: randomBytes randomUUID randomInt getRandomValues createHash createHmac timingSafeEqual getHashes webcrypto subtle
"use strict";
// node:crypto basics: random bytes, hashes and HMACs (SHA-1, SHA-256, SHA-384, SHA-512)
// through the host's digest, and timingSafeEqual. A hash keeps its input until digest():
// the host hashes it in one call.
const { Buffer } = require("node:buffer");
const nodeHost = globalThis.__isobox_node;

const algs = { sha1: ["SHA-1", 64], "sha-1": ["SHA-1", 64], sha256: ["SHA-256", 64], "sha-256": ["SHA-256", 64],
  sha384: ["SHA-384", 128], "sha-384": ["SHA-384", 128], sha512: ["SHA-512", 128], "sha-512": ["SHA-512", 128] };

function algorithm(name) {
  const a = algs[String(name).toLowerCase()];
  if (!a) {
    const e = new Error(`Digest method not supported: ${name} (isobox has sha1, sha256, sha384, sha512)`);
    e.code = "ERR_CRYPTO_INVALID_DIGEST";
    throw e;
  }
  return a;
}

function toBytes(data, enc) {
  if (typeof data === "string") return Buffer.from(data, enc);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView.');
}

function digestOf(alg, chunks) {
  let n = 0;
  for (const c of chunks) n += c.length;
  const all = new Uint8Array(n);
  n = 0;
  for (const c of chunks) { all.set(c, n); n += c.length; }
  return nodeHost.digest(alg, all);
}

class Hash {
  constructor(name) {
    this._alg = algorithm(name)[0];
    this._chunks = [];
    this._done = false;
  }
  update(data, enc) {
    if (this._done) throw Object.assign(new Error("Digest already called"), { code: "ERR_CRYPTO_HASH_FINALIZED" });
    this._chunks.push(toBytes(data, enc).slice());
    return this;
  }
  digest(enc) {
    if (this._done) throw Object.assign(new Error("Digest already called"), { code: "ERR_CRYPTO_HASH_FINALIZED" });
    this._done = true;
    const d = Buffer.from(digestOf(this._alg, this._chunks));
    this._chunks = [];
    return enc === undefined || enc === "buffer" ? d : d.toString(enc);
  }
  copy() {
    const h = new Hash("sha1");
    h._alg = this._alg;
    h._chunks = this._chunks.slice();
    return h;
  }
}

class Hmac {
  constructor(name, key) {
    const [alg, block] = algorithm(name);
    this._alg = alg;
    let k = toBytes(key && key.export ? key.export() : key);
    if (k.length > block) k = nodeHost.digest(alg, k);
    const padded = new Uint8Array(block);
    padded.set(k);
    this._opad = padded.map((b) => b ^ 0x5c);
    this._chunks = [padded.map((b) => b ^ 0x36)];
    this._done = false;
  }
  update(data, enc) {
    if (this._done) throw Object.assign(new Error("Digest already called"), { code: "ERR_CRYPTO_HASH_FINALIZED" });
    this._chunks.push(toBytes(data, enc).slice());
    return this;
  }
  digest(enc) {
    if (this._done) throw Object.assign(new Error("Digest already called"), { code: "ERR_CRYPTO_HASH_FINALIZED" });
    this._done = true;
    const inner = digestOf(this._alg, this._chunks);
    const d = Buffer.from(digestOf(this._alg, [this._opad, inner]));
    return enc === undefined || enc === "buffer" ? d : d.toString(enc);
  }
}

function randomFill(u8) {
  for (let off = 0; off < u8.length; off += 65536) {
    const n = Math.min(65536, u8.length - off);
    u8.set(nodeHost.random(n), off);
  }
  return u8;
}

function randomBytes(size, cb) {
  if (typeof size !== "number" || !(size >= 0) || size > 2 ** 31 - 1) throw new RangeError(`The value of "size" is out of range. Received ${size}`);
  const b = randomFill(Buffer.alloc(size));
  if (typeof cb === "function") { queueMicrotask(() => cb(null, b)); return; }
  return b;
}

function randomInt(min, max, cb) {
  if (max === undefined || typeof max === "function") { cb = max; max = min; min = 0; }
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max <= min) throw new RangeError(`The value of "max" is out of range. It must be greater than ${min}.`);
  const range = max - min;
  const limit = 2 ** 48 - (2 ** 48 % range);
  let x;
  do { x = randomBytes(6).readUIntBE(0, 6); } while (x >= limit);
  const v = min + (x % range);
  if (typeof cb === "function") { queueMicrotask(() => cb(null, v)); return; }
  return v;
}

function timingSafeEqual(a, b) {
  const x = toBytes(a), y = toBytes(b);
  if (x.length !== y.length) {
    const e = new RangeError("Input buffers must have the same byte length");
    e.code = "ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH";
    throw e;
  }
  let d = 0;
  for (let i = 0; i < x.length; i++) d |= x[i] ^ y[i];
  return d === 0;
}

module.exports = {
  randomBytes, randomUUID: () => globalThis.crypto.randomUUID(), randomInt,
  getRandomValues: (a) => globalThis.crypto.getRandomValues(a),
  createHash: (name) => new Hash(name), createHmac: (name, key) => new Hmac(name, key),
  timingSafeEqual, getHashes: () => ["sha1", "sha256", "sha384", "sha512"],
  webcrypto: globalThis.crypto, subtle: globalThis.crypto && globalThis.crypto.subtle,
  Hash, Hmac,
};
