// 20_encoding.js: TextEncoder and TextDecoder (WHATWG Encoding Standard). TextDecoder knows
// UTF-8, UTF-16LE/BE and windows-1252 (which the standard also uses for "latin1", "ascii"
// and "iso-8859-1"); other labels throw RangeError as in browsers that lack them.
{
  const labels = new Map();
  for (const [encoding, names] of [
    ["utf-8", ["unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8"]],
    ["utf-16le", ["csunicode", "iso-10646-ucs-2", "ucs-2", "unicode", "unicodefeff", "utf-16", "utf-16le"]],
    ["utf-16be", ["unicodefffe", "utf-16be"]],
    [
      "windows-1252",
      [
        "ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819", "iso-8859-1", "iso-ir-100",
        "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987", "l1", "latin1", "us-ascii", "windows-1252",
        "x-cp1252",
      ],
    ],
  ]) {
    for (const name of names) labels.set(name, encoding);
  }

  // windows-1252 differs from Latin-1 only in 0x80-0x9F.
  const windows1252High = [
    0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
    0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
  ];

  // bytesOf views a BufferSource (ArrayBuffer, SharedArrayBuffer or any view) as bytes.
  function bytesOf(input, what) {
    if (input instanceof ArrayBuffer || input instanceof SharedArrayBuffer) return new Uint8Array(input);
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    throw new TypeError(`${what} must be an ArrayBuffer or ArrayBufferView`);
  }

  // toStringIDL converts like WebIDL's DOMString: unlike String(), it throws for symbols.
  const toStringIDL = (v) => `${v}`;

  // dictionary applies WebIDL dictionary conversion rules: undefined/null mean {}, and
  // anything other than an object is a TypeError.
  function dictionary(value, what) {
    if (value === undefined || value === null) return {};
    if (typeof value !== "object" && typeof value !== "function") throw new TypeError(`${what} must be an object`);
    return value;
  }

  // ---- native fast paths ----

  // Interpreted loops cost about a third of a microsecond per character in the sandbox, so
  // UTF-8 text goes through the glue's C (host.utf8, host.utf8Decode) and windows-1252 through
  // the engine's base64 functions; the loops below only handle the rest (ill-formed input,
  // streams). Captured now: user code may replace globals.
  const { atob } = globalThis;
  const { toBase64 } = Uint8Array.prototype;
  const CHUNK = 1 << 20; // bounds the transient strings (up to 9 characters per input unit)
  const isLead = (c) => c >= 0xd800 && c <= 0xdbff;
  const isTrail = (c) => c >= 0xdc00 && c <= 0xdfff;

  // binaryFromBytes converts bytes to a "binary string" (one character per byte).
  const binaryFromBytes = (bytes) => atob(Reflect.apply(toBase64, bytes, []));

  // encodeUtf8 encodes a string in slices that do not split surrogate pairs, each in one
  // pass of C (host.utf8); each slice is made well-formed first, because UTF-8 turns lone
  // surrogates into U+FFFD. The slices bound the transient copies.
  const { isWellFormed, toWellFormed } = String.prototype;
  const utf8 = host.utf8;
  const wellFormed = (s) => (Reflect.apply(isWellFormed, s, []) ? s : Reflect.apply(toWellFormed, s, []));

  function encodeUtf8(s) {
    if (s.length <= CHUNK) return utf8(wellFormed(s));
    const parts = [];
    for (let start = 0, end = 0; start < s.length; start = end) {
      end = Math.min(start + CHUNK, s.length);
      if (end < s.length && isLead(s.charCodeAt(end - 1))) end--;
      parts.push(utf8(wellFormed(s.slice(start, end))));
    }
    return parts.length === 1 ? parts[0] : concat(parts);
  }

  function concat(parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }

  // decodeValidUtf8 decodes bytes that hold only whole UTF-8 sequences, in slices of one
  // pass of C each (host.utf8Decode), or returns null if they are not valid UTF-8 (overlong
  // forms, surrogates and code points above U+10FFFF are not, as the Encoding Standard says).
  const utf8Decode = host.utf8Decode;
  function decodeValidUtf8(bytes) {
    if (bytes.length <= CHUNK) return utf8Decode(bytes);
    let out = "";
    for (let start = 0, end = 0; start < bytes.length; start = end) {
      end = Math.min(start + CHUNK, bytes.length);
      if (end < bytes.length) end = sequenceStart(bytes, end);
      const s = utf8Decode(bytes.subarray(start, end));
      if (s === null) return null;
      out += s;
    }
    return out;
  }

  // sequenceStart moves a cut point back to the start of the sequence it falls in.
  function sequenceStart(bytes, i) {
    for (let back = 0; back < 3 && i > 0 && (bytes[i] & 0xc0) === 0x80; back++) i--;
    return i;
  }

  // completeLength is how many leading bytes hold complete sequences: a sequence cut off at
  // the end waits for the next chunk of a stream.
  function completeLength(bytes) {
    if (bytes.length === 0) return 0;
    const i = sequenceStart(bytes, bytes.length - 1);
    const b = bytes[i];
    const size = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xc2 && b <= 0xdf ? 2 : 1;
    return i + size > bytes.length ? i : bytes.length;
  }

  // ---- UTF-8 encoding ----

  // encodeUtf8Into writes as much of s as fits in dest without splitting a character; lone
  // surrogates become U+FFFD (the string is a USVString).
  function encodeUtf8Into(s, dest) {
    const cap = dest.length;
    let read = 0;
    let written = 0;
    while (read < s.length) {
      let c = s.charCodeAt(read);
      if (c < 0x80) {
        if (written >= cap) break;
        dest[written++] = c;
        read++;
        continue;
      }
      let units = 1;
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = s.charCodeAt(read + 1);
        if (isLead(c) && isTrail(next)) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          units = 2;
        } else c = 0xfffd;
      }
      const size = c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
      if (written + size > cap) break;
      if (size === 2) dest[written++] = 0xc0 | (c >> 6);
      else {
        if (size === 3) dest[written++] = 0xe0 | (c >> 12);
        else {
          dest[written++] = 0xf0 | (c >> 18);
          dest[written++] = 0x80 | ((c >> 12) & 0x3f);
        }
        dest[written++] = 0x80 | ((c >> 6) & 0x3f);
      }
      dest[written++] = 0x80 | (c & 0x3f);
      read += units;
    }
    return { read, written };
  }

  class TextEncoder {
    get encoding() {
      return "utf-8";
    }

    encode(input = "") {
      return encodeUtf8(toStringIDL(input));
    }

    encodeInto(source, destination) {
      if (!(destination instanceof Uint8Array)) throw new TypeError("encodeInto: destination must be a Uint8Array");
      const s = toStringIDL(source);
      if (s.length * 3 <= destination.length) {
        const bytes = encodeUtf8(s); // surely fits: at most 3 bytes per UTF-16 unit
        destination.set(bytes);
        return { read: s.length, written: bytes.length };
      }
      return encodeUtf8Into(s, destination);
    }
  }

  // ---- decoding ----

  // unitsToString turns UTF-16 code units into a string in slices, because
  // String.fromCharCode.apply has an argument-count limit.
  function unitsToString(units, length) {
    const SLICE = 8192;
    let s = "";
    for (let i = 0; i < length; i += SLICE) {
      s += String.fromCharCode.apply(null, units.subarray(i, Math.min(i + SLICE, length)));
    }
    return s;
  }

  // Each decoder keeps the state of a streaming decode and turns a chunk of bytes into a
  // string; flush marks the end of the stream. Invalid input yields U+FFFD, or throws
  // TypeError when fatal.
  class Decoder {
    constructor(encoding, fatal) {
      this.encoding = encoding;
      this.fatal = fatal;
    }

    error() {
      if (this.fatal) throw new TypeError(`The encoded data was not valid for encoding ${this.encoding}`);
      return 0xfffd;
    }
  }

  // Utf8Decoder follows the standard's UTF-8 decoder, whose lower/upper bounds on the next
  // byte make each maximal invalid subpart produce exactly one U+FFFD.
  class Utf8Decoder extends Decoder {
    codePoint = 0;
    needed = 0;
    seen = 0;
    lower = 0x80;
    upper = 0xbf;

    // decode takes the native path for the complete, valid sequences at the start of a chunk
    // when no sequence is pending; everything else goes through the standard's algorithm.
    decode(bytes, flush) {
      if (this.needed === 0) {
        const end = completeLength(bytes);
        const text = decodeValidUtf8(bytes.subarray(0, end));
        if (text !== null) return end === bytes.length ? text : text + this.decodeSlowly(bytes.subarray(end), flush);
      }
      return this.decodeSlowly(bytes, flush);
    }

    decodeSlowly(bytes, flush) {
      const out = new Uint16Array(bytes.length + 2);
      let n = 0;
      const emit = (cp) => {
        if (cp >= 0x10000) {
          cp -= 0x10000;
          out[n++] = 0xd800 | (cp >> 10);
          out[n++] = 0xdc00 | (cp & 0x3ff);
        } else out[n++] = cp;
      };
      for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i];
        if (this.needed === 0) {
          if (b < 0x80) out[n++] = b;
          else if (b >= 0xc2 && b <= 0xdf) this.start(1, b & 0x1f);
          else if (b >= 0xe0 && b <= 0xef) {
            if (b === 0xe0) this.lower = 0xa0;
            if (b === 0xed) this.upper = 0x9f;
            this.start(2, b & 0x0f);
          } else if (b >= 0xf0 && b <= 0xf4) {
            if (b === 0xf0) this.lower = 0x90;
            if (b === 0xf4) this.upper = 0x8f;
            this.start(3, b & 0x07);
          } else out[n++] = this.error();
          continue;
        }
        if (b < this.lower || b > this.upper) {
          // The sequence so far is one maximal subpart; b starts over.
          this.reset();
          out[n++] = this.error();
          i--;
          continue;
        }
        this.lower = 0x80;
        this.upper = 0xbf;
        this.codePoint = (this.codePoint << 6) | (b & 0x3f);
        if (++this.seen === this.needed) {
          emit(this.codePoint);
          this.reset();
        }
      }
      if (flush && this.needed !== 0) {
        this.reset();
        out[n++] = this.error();
      }
      return unitsToString(out, n);
    }

    start(needed, bits) {
      this.needed = needed;
      this.codePoint = bits;
    }

    reset() {
      this.codePoint = this.needed = this.seen = 0;
      this.lower = 0x80;
      this.upper = 0xbf;
    }
  }

  class Utf16Decoder extends Decoder {
    leadByte = -1;
    leadSurrogate = -1;

    decode(bytes, flush) {
      const out = new Uint16Array((bytes.length >> 1) + 2);
      let n = 0;
      const bigEndian = this.encoding === "utf-16be";
      for (let i = 0; i < bytes.length; i++) {
        if (this.leadByte < 0) {
          this.leadByte = bytes[i];
          continue;
        }
        const unit = bigEndian ? (this.leadByte << 8) | bytes[i] : this.leadByte | (bytes[i] << 8);
        this.leadByte = -1;
        if (this.leadSurrogate >= 0) {
          const lead = this.leadSurrogate;
          this.leadSurrogate = -1;
          if (isTrail(unit)) {
            out[n++] = lead;
            out[n++] = unit;
            continue;
          }
          out[n++] = this.error(); // an unpaired lead surrogate; unit is decoded afresh below
        }
        if (unit >= 0xd800 && unit <= 0xdbff) this.leadSurrogate = unit;
        else if (isTrail(unit)) out[n++] = this.error();
        else out[n++] = unit;
      }
      if (flush && (this.leadByte >= 0 || this.leadSurrogate >= 0)) {
        this.leadByte = this.leadSurrogate = -1;
        out[n++] = this.error();
      }
      return unitsToString(out, n);
    }
  }

  class Windows1252Decoder extends Decoder {
    decode(bytes) {
      return binaryFromBytes(bytes).replace(/[\x80-\x9f]/g, (c) => String.fromCharCode(windows1252High[c.charCodeAt(0) - 0x80]));
    }
  }

  const decoders = {
    "utf-8": Utf8Decoder,
    "utf-16le": Utf16Decoder,
    "utf-16be": Utf16Decoder,
    "windows-1252": Windows1252Decoder,
  };

  class TextDecoder {
    #encoding;
    #fatal;
    #ignoreBOM;
    #decoder = null; // made when a decode first needs one (most never do: decodeValidUtf8)
    #bomSeen = false;
    #fresh = true; // no bytes fed to #decoder since it was made: it holds no state

    constructor(label = "utf-8", options = undefined) {
      // A label as written in the table ("utf-8", most of them) skips the trim and lower-casing.
      const encoding =
        (typeof label === "string" ? labels.get(label) : undefined) ??
        labels.get(
          toStringIDL(label)
            .replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "")
            .toLowerCase(),
        );
      if (encoding === undefined) throw new RangeError(`The "${label}" encoding is not supported`);
      const opts = options === undefined ? undefined : dictionary(options, "TextDecoder options");
      this.#encoding = encoding;
      this.#fatal = opts !== undefined && Boolean(opts.fatal);
      this.#ignoreBOM = opts !== undefined && Boolean(opts.ignoreBOM);
    }

    get encoding() {
      return this.#encoding;
    }

    get fatal() {
      return this.#fatal;
    }

    get ignoreBOM() {
      return this.#ignoreBOM;
    }

    decode(input = undefined, options = undefined) {
      const bytes = input === undefined ? new Uint8Array(0) : bytesOf(input, "The input");
      const stream = Boolean(dictionary(options, "decode options").stream);
      if (!stream && this.#fresh && this.#encoding === "utf-8") {
        // A whole input and no state (body.text(), most decodes): valid UTF-8 needs neither
        // the decoder nor a new one after it.
        const text = decodeValidUtf8(bytes);
        if (text !== null) return this.#ignoreBOM || text.charCodeAt(0) !== 0xfeff ? text : text.slice(1);
      }
      this.#fresh = false;
      let text;
      try {
        this.#decoder ??= new decoders[this.#encoding](this.#encoding, this.#fatal);
        text = this.#decoder.decode(bytes, !stream);
      } catch (e) {
        this.#reset();
        throw e;
      }
      text = this.#stripBOM(text);
      if (!stream) this.#reset();
      return text;
    }

    // stripBOM drops U+FEFF when it is the first character of the stream (not merely of this
    // chunk); windows-1252 has no byte order mark.
    #stripBOM(text) {
      if (this.#bomSeen || text === "" || this.#ignoreBOM || this.#encoding === "windows-1252") return text;
      this.#bomSeen = true;
      return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    }

    #reset() {
      this.#decoder = null;
      this.#bomSeen = false;
      this.#fresh = true;
    }
  }

  for (const [C, tag] of [
    [TextEncoder, "TextEncoder"],
    [TextDecoder, "TextDecoder"],
  ]) {
    Object.defineProperty(C.prototype, Symbol.toStringTag, { value: tag, configurable: true });
    Object.defineProperty(globalThis, tag, { value: C, writable: true, configurable: true, enumerable: false });
  }
}
