// exports: StringDecoder
"use strict";
// node:string_decoder: decodes a stream of Buffers without splitting characters.
const { Buffer } = require("node:buffer");

class StringDecoder {
  constructor(encoding) {
    const enc = (encoding === undefined ? "utf8" : String(encoding)).toLowerCase();
    if (!Buffer.isEncoding(enc)) throw new TypeError(`Unknown encoding: ${encoding}`);
    this.encoding = { "utf-8": "utf8", binary: "latin1", ucs2: "utf16le", "ucs-2": "utf16le", "utf-16le": "utf16le" }[enc] || enc;
    this.pending = new Uint8Array(0);
    if (this.encoding === "utf8") this.td = new TextDecoder("utf-8");
  }
  write(buf) {
    if (typeof buf === "string") return buf;
    const b = buf instanceof Uint8Array ? buf : new Uint8Array(buf.buffer || buf, buf.byteOffset || 0, buf.byteLength);
    if (this.td) return this.td.decode(b, { stream: true });
    const all = new Uint8Array(this.pending.length + b.length);
    all.set(this.pending);
    all.set(b, this.pending.length);
    const unit = this.encoding === "utf16le" ? 2 : this.encoding === "base64" || this.encoding === "base64url" ? 3 : 1;
    const keep = all.length % unit;
    this.pending = all.slice(all.length - keep);
    return Buffer.from(all.buffer, 0, all.length - keep).toString(this.encoding);
  }
  end(buf) {
    let s = buf === undefined ? "" : this.write(buf);
    if (this.td) {
      s += this.td.decode();
      this.td = new TextDecoder("utf-8");
    } else if (this.pending.length > 0) {
      s += Buffer.from(this.pending).toString(this.encoding);
      this.pending = new Uint8Array(0);
    }
    return s;
  }
}
module.exports = { StringDecoder };
