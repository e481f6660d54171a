// exports: Buffer kMaxLength kStringMaxLength constants SlowBuffer atob btoa isUtf8 isAscii INSPECT_MAX_BYTES Blob File
"use strict";
// node:buffer: Buffer, a Uint8Array subclass with Node's encodings and integer accessors.
const kMaxLength = 2 ** 31 - 1;
const te = new TextEncoder();
const td = new TextDecoder("utf-8");

function normEnc(enc) {
  if (enc === undefined || enc === null) return "utf8";
  switch (String(enc).toLowerCase()) {
    case "utf8": case "utf-8": return "utf8";
    case "hex": return "hex";
    case "base64": return "base64";
    case "base64url": return "base64url";
    case "latin1": case "binary": return "latin1";
    case "ascii": return "ascii";
    case "ucs2": case "ucs-2": case "utf16le": case "utf-16le": return "utf16le";
  }
  throw new TypeError(`Unknown encoding: ${enc}`);
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const b64map = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) { b64map[B64.charCodeAt(i)] = i; b64map[B64URL.charCodeAt(i)] = i; }

function b64encode(b, url) {
  const a = url ? B64URL : B64;
  let s = "";
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    s += a[n >> 18] + a[(n >> 12) & 63] + a[(n >> 6) & 63] + a[n & 63];
  }
  if (i < b.length) {
    const n = (b[i] << 16) | ((i + 1 < b.length ? b[i + 1] : 0) << 8);
    s += a[n >> 18] + a[(n >> 12) & 63];
    s += i + 1 < b.length ? a[(n >> 6) & 63] : url ? "" : "=";
    s += url ? "" : "=";
  }
  return s;
}

// b64decode is Node's lenient decoder: either alphabet, characters outside it skipped,
// decoding stops at the first "=".
function b64decode(s) {
  const out = new Uint8Array(Math.floor((s.length * 3) / 4) + 3);
  let n = 0, bits = 0, acc = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 61) break;
    const v = c < 128 ? b64map[c] : -1;
    if (v < 0) continue;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 255;
    }
  }
  return out.subarray(0, n);
}

function hexdecode(s) {
  const out = new Uint8Array(s.length >>> 1);
  let n = 0;
  for (; n < out.length; n++) {
    const v = parseInt(s.substr(n * 2, 2), 16);
    if (Number.isNaN(v) || !/^[0-9a-fA-F]{2}$/.test(s.substr(n * 2, 2))) break;
    out[n] = v;
  }
  return out.subarray(0, n);
}

function encode(str, enc) {
  switch (normEnc(enc)) {
    case "utf8": return te.encode(str);
    case "hex": return hexdecode(str);
    case "base64": case "base64url": return b64decode(str);
    case "latin1": case "ascii": {
      const out = new Uint8Array(str.length);
      for (let i = 0; i < str.length; i++) out[i] = str.charCodeAt(i) & 255;
      return out;
    }
    case "utf16le": {
      const out = new Uint8Array(str.length * 2);
      for (let i = 0; i < str.length; i++) {
        const c = str.charCodeAt(i);
        out[i * 2] = c & 255;
        out[i * 2 + 1] = c >> 8;
      }
      return out;
    }
  }
}

function decode(b, enc) {
  switch (normEnc(enc)) {
    case "utf8": return td.decode(b);
    case "hex": {
      let s = "";
      for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
      return s;
    }
    case "base64": return b64encode(b, false);
    case "base64url": return b64encode(b, true);
    case "latin1": case "ascii": {
      const mask = normEnc(enc) === "ascii" ? 127 : 255;
      let s = "";
      for (let i = 0; i < b.length; i += 8192) {
        const part = b.subarray(i, i + 8192);
        s += String.fromCharCode.apply(null, mask === 255 ? part : Array.from(part, (x) => x & mask));
      }
      return s;
    }
    case "utf16le": {
      let s = "";
      for (let i = 0; i + 1 < b.length; i += 2) s += String.fromCharCode(b[i] | (b[i + 1] << 8));
      return s;
    }
  }
}

function checkSize(size) {
  if (typeof size !== "number" || !(size >= 0) || size > kMaxLength || !Number.isInteger(size)) {
    throw new RangeError(`The argument 'size' is invalid. Received ${size}`);
  }
}

let memoryLimit;

// allocate makes a zeroed Buffer. One larger than the sandbox's whole memory could never
// fit: it is a RangeError rather than the end of the sandbox (memory_limit_exceeded).
function allocate(size) {
  checkSize(size);
  if (memoryLimit === undefined) memoryLimit = globalThis.__isobox_node.memoryLimit();
  if (size > memoryLimit) {
    throw new RangeError(`Array buffer allocation failed: ${size} bytes is more than the sandbox's memory limit of ${memoryLimit} bytes`);
  }
  try {
    return new Buffer(size);
  } catch (e) {
    if (e instanceof RangeError) throw e;
    throw new RangeError(`Array buffer allocation failed (${size} bytes): ${e && e.message}`);
  }
}

function checkOffset(buf, offset, n) {
  if (offset === undefined) offset = 0;
  if (typeof offset !== "number" || !Number.isInteger(offset) || offset < 0 || offset + n > buf.length) {
    const e = new RangeError(`The value of "offset" is out of range. It must be >= 0 and <= ${buf.length - n}. Received ${offset}`);
    e.code = "ERR_OUT_OF_RANGE";
    throw e;
  }
  return offset;
}

function dv(buf) {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

class Buffer extends Uint8Array {
  static from(value, encOrOffset, length) {
    if (typeof value === "string") return fromBytes(encode(value, encOrOffset));
    if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer)) {
      const off = encOrOffset === undefined ? 0 : +encOrOffset;
      const len = length === undefined ? value.byteLength - off : +length;
      return new Buffer(value, off, len);
    }
    if (ArrayBuffer.isView(value)) {
      if (value instanceof Uint8Array) return fromBytes(Uint8Array.prototype.slice.call(value));
      return fromBytes(Uint8Array.from(value, (x) => Number(x) & 255));
    }
    if (value !== null && typeof value === "object") {
      if (value.type === "Buffer" && Array.isArray(value.data)) return fromBytes(Uint8Array.from(value.data));
      if (typeof value.length === "number" || Array.isArray(value)) return fromBytes(Uint8Array.from(value, (x) => Number(x) & 255));
      const prim = typeof value.valueOf === "function" ? value.valueOf() : undefined;
      if (prim !== undefined && prim !== value) return Buffer.from(prim, encOrOffset, length);
    }
    throw new TypeError("The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object.");
  }
  static alloc(size, fill, enc) {
    const b = allocate(size);
    if (fill !== undefined && fill !== 0) b.fill(fill, 0, b.length, enc);
    return b;
  }
  static allocUnsafe(size) { return allocate(size); }
  static allocUnsafeSlow(size) { return allocate(size); }
  static isBuffer(b) { return b instanceof Buffer; }
  static isEncoding(enc) {
    try { normEnc(enc); return typeof enc === "string"; } catch { return false; }
  }
  static byteLength(s, enc) {
    if (typeof s !== "string") {
      if (ArrayBuffer.isView(s) || s instanceof ArrayBuffer) return s.byteLength;
      throw new TypeError('The "string" argument must be of type string or an instance of Buffer or ArrayBuffer.');
    }
    return normEnc(enc) === "utf8" ? te.encode(s).length : encode(s, enc).length;
  }
  static concat(list, total) {
    if (!Array.isArray(list)) throw new TypeError('The "list" argument must be an instance of Array.');
    if (total === undefined) total = list.reduce((n, b) => n + b.length, 0);
    const out = allocate(total);
    let pos = 0;
    for (const b of list) {
      if (!(b instanceof Uint8Array)) throw new TypeError('The "list" argument must contain only Buffer or Uint8Array instances.');
      const part = b.subarray(0, Math.min(b.length, total - pos));
      out.set(part, pos);
      pos += part.length;
      if (pos >= total) break;
    }
    return out;
  }
  static compare(a, b) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
  }

  toString(enc, start, end) {
    start = start === undefined ? 0 : Math.max(0, start | 0);
    end = end === undefined ? this.length : Math.min(this.length, end | 0);
    if (end <= start) return "";
    return decode(Uint8Array.prototype.subarray.call(this, start, end), enc);
  }
  toLocaleString(enc, start, end) { return this.toString(enc, start, end); }
  write(str, offset, length, enc) {
    if (typeof offset === "string") { enc = offset; offset = 0; length = undefined; }
    else if (typeof length === "string") { enc = length; length = undefined; }
    offset = offset === undefined ? 0 : offset >>> 0;
    const max = this.length - offset;
    length = length === undefined ? max : Math.min(max, length >>> 0);
    let bytes = encode(String(str), enc);
    if (bytes.length > length) {
      bytes = bytes.subarray(0, length);
      if (normEnc(enc) === "utf8") {
        // never write half of a character
        let end = length;
        while (end > 0 && (bytes[end - 1] & 0xc0) === 0x80) end--;
        if (end > 0 && bytes[end - 1] >= 0xc0) {
          const lead = bytes[end - 1];
          const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
          if (length - (end - 1) < need) bytes = bytes.subarray(0, end - 1);
        }
      }
    }
    this.set(bytes, offset);
    return bytes.length;
  }
  toJSON() { return { type: "Buffer", data: Array.from(this) }; }
  equals(other) {
    if (!(other instanceof Uint8Array)) throw new TypeError('The "otherBuffer" argument must be an instance of Buffer or Uint8Array.');
    return Buffer.compare(this, other) === 0;
  }
  compare(target, tStart = 0, tEnd = target.length, sStart = 0, sEnd = this.length) {
    return Buffer.compare(this.subarray(sStart, sEnd), target.subarray(tStart, tEnd));
  }
  copy(target, tStart = 0, sStart = 0, sEnd = this.length) {
    const part = Uint8Array.prototype.subarray.call(this, sStart, Math.min(sEnd, sStart + (target.length - tStart)));
    target.set(part, tStart);
    return part.length;
  }
  slice(start, end) { return this.subarray(start, end); }
  fill(value, offset = 0, end = this.length, enc) {
    if (typeof offset === "string") { enc = offset; offset = 0; end = this.length; }
    if (typeof end === "string") { enc = end; end = this.length; }
    if (typeof value === "string") {
      const bytes = value.length === 1 && normEnc(enc) === "utf8" && value.charCodeAt(0) < 128 ? [value.charCodeAt(0)] : encode(value, enc);
      if (bytes.length === 0) { if (value === "") return Uint8Array.prototype.fill.call(this, 0, offset, end); throw new TypeError(`The argument 'value' is invalid. Received '${value}'`); }
      for (let i = offset, j = 0; i < end; i++, j = (j + 1) % bytes.length) this[i] = bytes[j];
      return this;
    }
    if (value instanceof Uint8Array) {
      for (let i = offset, j = 0; i < end; i++, j = (j + 1) % value.length) this[i] = value[j];
      return this;
    }
    return Uint8Array.prototype.fill.call(this, Number(value) & 255, offset, end);
  }
  indexOf(value, byteOffset = 0, enc) {
    if (typeof byteOffset === "string") { enc = byteOffset; byteOffset = 0; }
    if (byteOffset < 0) byteOffset = Math.max(0, this.length + byteOffset);
    if (typeof value === "number") return Uint8Array.prototype.indexOf.call(this, value & 255, byteOffset);
    const needle = typeof value === "string" ? encode(value, enc) : value;
    if (needle.length === 0) return byteOffset <= this.length ? byteOffset : this.length;
    outer: for (let i = byteOffset; i + needle.length <= this.length; i++) {
      for (let j = 0; j < needle.length; j++) if (this[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  }
  lastIndexOf(value, byteOffset = this.length, enc) {
    const needle = typeof value === "number" ? [value & 255] : typeof value === "string" ? encode(value, enc) : value;
    outer: for (let i = Math.min(byteOffset, this.length - needle.length); i >= 0; i--) {
      for (let j = 0; j < needle.length; j++) if (this[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  }
  includes(value, byteOffset, enc) { return this.indexOf(value, byteOffset, enc) !== -1; }
  swap16() { for (let i = 0; i + 1 < this.length; i += 2) { const t = this[i]; this[i] = this[i + 1]; this[i + 1] = t; } return this; }
  inspect() { return `<Buffer ${Array.from(this.subarray(0, 50), (x) => (x < 16 ? "0" : "") + x.toString(16)).join(" ")}${this.length > 50 ? " ... " + (this.length - 50) + " more bytes" : ""}>`; }
  get parent() { return this.buffer; }
  get offset() { return this.byteOffset; }
}

function fromBytes(u8) {
  return new Buffer(u8.buffer, u8.byteOffset, u8.length);
}

// The integer and float accessors, big- and little-endian.
const accessors = [
  ["UInt8", 1, "getUint8", "setUint8"], ["Int8", 1, "getInt8", "setInt8"],
  ["UInt16", 2, "getUint16", "setUint16"], ["Int16", 2, "getInt16", "setInt16"],
  ["UInt32", 4, "getUint32", "setUint32"], ["Int32", 4, "getInt32", "setInt32"],
  ["Float", 4, "getFloat32", "setFloat32"], ["Double", 8, "getFloat64", "setFloat64"],
  ["BigUInt64", 8, "getBigUint64", "setBigUint64"], ["BigInt64", 8, "getBigInt64", "setBigInt64"],
];
const P = Buffer.prototype;
for (const [name, n, get, set] of accessors) {
  const ends = n === 1 ? [["", false]] : [["BE", false], ["LE", true]];
  for (const [suffix, le] of ends) {
    P["read" + name + suffix] = function (offset) {
      offset = checkOffset(this, offset, n);
      return dv(this)[get](offset, le);
    };
    P["write" + name + suffix] = function (value, offset) {
      offset = checkOffset(this, offset, n);
      if (name.startsWith("Big")) {
        if (typeof value !== "bigint") throw new TypeError('The "value" argument must be of type bigint.');
      } else if (name !== "Float" && name !== "Double") {
        const signed = name.startsWith("Int");
        const max = signed ? 2 ** (8 * n - 1) - 1 : 2 ** (8 * n) - 1;
        const min = signed ? -(2 ** (8 * n - 1)) : 0;
        if (typeof value !== "number" || value > max || value < min) {
          const e = new RangeError(`The value of "value" is out of range. It must be >= ${min} and <= ${max}. Received ${value}`);
          e.code = "ERR_OUT_OF_RANGE";
          throw e;
        }
      }
      dv(this)[set](offset, value, le);
      return offset + n;
    };
  }
}
for (const k of Object.keys(P)) {
  if (/^(read|write)UInt/.test(k)) P[k.replace("UInt", "Uint")] = P[k];
  if (/^(read|write)BigUInt/.test(k)) P[k.replace("BigUInt", "BigUint")] = P[k];
}
for (const [kind, signed] of [["UInt", false], ["Int", true]]) {
  for (const suffix of ["BE", "LE"]) {
    P[`read${kind}${suffix}`] = function (offset, byteLength) {
      offset = checkOffset(this, offset, byteLength);
      let v = 0;
      for (let i = 0; i < byteLength; i++) v = v * 256 + this[offset + (suffix === "BE" ? i : byteLength - 1 - i)];
      if (signed && v >= 2 ** (8 * byteLength - 1)) v -= 2 ** (8 * byteLength);
      return v;
    };
    P[`write${kind}${suffix}`] = function (value, offset, byteLength) {
      offset = checkOffset(this, offset, byteLength);
      let v = value < 0 ? value + 2 ** (8 * byteLength) : value;
      for (let i = 0; i < byteLength; i++) {
        this[offset + (suffix === "BE" ? byteLength - 1 - i : i)] = v % 256;
        v = Math.floor(v / 256);
      }
      return offset + byteLength;
    };
  }
}
for (const k of ["readUIntBE", "readUIntLE", "writeUIntBE", "writeUIntLE"]) P[k.replace("UInt", "Uint")] = P[k];

const isUtf8 = (b) => { try { new TextDecoder("utf-8", { fatal: true }).decode(b); return true; } catch { return false; } };
const isAscii = (b) => Array.prototype.every.call(b, (x) => x < 128);

module.exports = {
  Buffer, kMaxLength, kStringMaxLength: 2 ** 29 - 24, constants: { MAX_LENGTH: kMaxLength, MAX_STRING_LENGTH: 2 ** 29 - 24 },
  Blob: globalThis.Blob, File: globalThis.File,
  SlowBuffer: Buffer, atob: globalThis.atob, btoa: globalThis.btoa, isUtf8, isAscii, INSPECT_MAX_BYTES: 50,
};
