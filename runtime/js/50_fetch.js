// 50_fetch.js: the Fetch API (Headers, Request, Response, fetch) with what it needs: Blob,
// File, FormData and ReadableStream (default and BYOB readers; a byte stream's controller and
// BYOB reads are in 51_bytestreams.js; pipes, writable and transform streams are in 55_streams.js). fetch() runs on the host's async "fetch" operation; bodies travel as base64 and
// are buffered whole. Two helpers stay in the shared scope for the dispatcher (90_worker.js):
//
//	bodyToBytes(response) -> Promise<Uint8Array>   the whole body (consumes it)
//	bodyBytesNow(response)                         a body held whole (bytes or a string), or undefined
//	responseWire.status/statusText/pairs(response)  what goes on the wire, from the Response's own state
//	makeRequest(method, url, headers, body)        an incoming request, headers immutable
const { bodyToBytes, bodyBytesNow, bodyReader, makeRequest, responseWire, streamInternals } = (() => {
  const { URL, URLSearchParams, parseForm } = webUrl;
  const paramsToString = URLSearchParams.prototype.toString;
  const NativeAbortSignal = AbortSignal;
  const encoder = new TextEncoder();
  const utf8Decoder = new TextDecoder(); // the standard's "UTF-8 decode": U+FFFD for errors, BOM dropped
  const toBase64 = Uint8Array.prototype.toBase64;
  const fromBase64 = Uint8Array.fromBase64;
  const { atob } = globalThis;
  const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");
  const { propertyIsEnumerable } = Object.prototype;
  const isEnumerable = Function.prototype.call.bind(propertyIsEnumerable); // (object, key)
  const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
  const constructKey = Symbol("internal construction");
  const EMPTY = new Uint8Array(0);
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const nullBodyStatuses = [101, 103, 204, 205, 304];
  const redirectStatuses = [301, 302, 303, 307, 308];

  // ---- WebIDL-style conversions ----

  function requireArgs(args, n, what) {
    if (args.length < n) {
      throw new TypeError(`${what}: ${n} argument${n > 1 ? "s" : ""} required, but only ${args.length} present.`);
    }
  }

  const isObject = (v) => v !== null && (typeof v === "object" || typeof v === "function");
  const isIterable = (v) => isObject(v) && typeof v[Symbol.iterator] === "function";

  function dictionary(value, what) {
    if (value === undefined || value === null) return {};
    if (!isObject(value)) throw new TypeError(`${what} must be an object`);
    return value;
  }

  // toUSVString is String conversion that throws for symbols and replaces lone surrogates.
  function toUSVString(v) {
    const s = `${v}`;
    return s.isWellFormed() ? s : s.toWellFormed();
  }

  function toByteString(v, what) {
    const s = `${v}`;
    if (/[^\x00-\xff]/.test(s)) throw new TypeError(`${what} contains a character outside the byte range: "${s}"`);
    return s;
  }

  function enumValue(v, allowed, what) {
    const s = `${v}`;
    if (!allowed.includes(s)) throw new TypeError(`'${s}' is not a valid value for ${what}`);
    return s;
  }

  // toUnsignedShort converts like WebIDL's `unsigned short` (wrapping modulo 2^16).
  function toUnsignedShort(v) {
    if (typeof v === "number" && v >= 0 && v <= 65535 && (v | 0) === v) return v | 0; // -0 too
    const n = +v;
    if (!Number.isFinite(n)) return 0;
    return ((Math.trunc(n) % 65536) + 65536) % 65536;
  }

  // bufferSourceBytes copies a BufferSource's bytes, or returns null for anything else.
  function bufferSourceBytes(v) {
    if (v instanceof ArrayBuffer || v instanceof SharedArrayBuffer) return new Uint8Array(v).slice();
    if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
    return null;
  }

  function concatBytes(chunks) {
    if (chunks.length === 1) return chunks[0];
    let total = 0;
    for (const c of chunks) total += c.length;
    const out = new Uint8Array(total);
    let offset = 0;
    for (const c of chunks) {
      out.set(c, offset);
      offset += c.length;
    }
    return out;
  }

  function parseURL(input, what) {
    const s = toUSVString(input);
    try {
      return new URL(s);
    } catch {
      throw new TypeError(`${what}: Failed to parse URL from ${s}`);
    }
  }

  // defineIterable gives a class of name/value pairs the WebIDL iterable methods: entries,
  // keys, values, forEach and @@iterator. pairsOf(object) is read on every step, so the
  // iteration sees changes made meanwhile, as the standard says.
  function defineIterable(C, pairsOf) {
    const iteratorState = new WeakMap();
    const iteratorProto = Object.create(IteratorPrototype);
    Object.defineProperties(iteratorProto, {
      next: {
        value: function next() {
          const state = iteratorState.get(this);
          if (!state) throw new TypeError("Illegal invocation");
          const pairs = pairsOf(state.target);
          if (state.index >= pairs.length) return { value: undefined, done: true };
          const pair = pairs[state.index++];
          const name = pair[0];
          const value = pair[1];
          return { value: state.kind === "keys" ? name : state.kind === "values" ? value : [name, value], done: false };
        },
        writable: true,
        enumerable: true,
        configurable: true,
      },
      [Symbol.toStringTag]: { value: `${C.name} Iterator`, configurable: true },
    });
    const iterator = (kind) =>
      function () {
        pairsOf(this); // brand check
        const it = Object.create(iteratorProto);
        iteratorState.set(it, { target: this, kind, index: 0 });
        return it;
      };
    const methods = {
      entries: iterator("entries"),
      keys: iterator("keys"),
      values: iterator("values"),
      forEach(callback, thisArg = undefined) {
        if (typeof callback !== "function") throw new TypeError(`${C.name}.forEach: the callback must be a function`);
        for (let i = 0, pairs = pairsOf(this); i < pairs.length; i++, pairs = pairsOf(this)) {
          Reflect.apply(callback, thisArg, [pairs[i][1], pairs[i][0], this]);
        }
      },
    };
    for (const [name, fn] of Object.entries(methods)) {
      Object.defineProperty(C.prototype, name, { value: fn, writable: true, enumerable: true, configurable: true });
    }
    Object.defineProperty(C.prototype, Symbol.iterator, { value: methods.entries, writable: true, configurable: true });
    // What iterating an instance runs, for a copy that skips it while the guest changed
    // none of it (pristineIteration).
    return { __proto__: null, entries: methods.entries, proto: iteratorProto, next: iteratorProto.next };
  }

  // pristineIteration says whether iterating v (the WebIDL sequence conversion: for-of over
  // it, then over each pair) would run only the runtime's own code: v's @@iterator is the
  // one defineIterable gave its class (it), whose iterator's next is unchanged, and arrays
  // iterate with the built-in iterator. Then a copy of the pairs gives what the iteration
  // would.
  const ArrayIteratorPrototype = Object.getPrototypeOf([][Symbol.iterator]());
  const arrayValues = Array.prototype[Symbol.iterator];
  const arrayIteratorNext = ArrayIteratorPrototype.next;
  const pristineIteration = (v, it) => v[Symbol.iterator] === it.entries && it.proto.next === it.next &&
    Array.prototype[Symbol.iterator] === arrayValues && ArrayIteratorPrototype.next === arrayIteratorNext;

  // pairsToObject shows name/value pairs as an object, repeated names as arrays.
  function pairsToObject(pairs) {
    const shown = {};
    for (const [k, v] of pairs) shown[k] = Object.hasOwn(shown, k) ? [].concat(shown[k], v) : v;
    return shown;
  }

  // defineInspect makes console.log show an object's state (which private fields hide).
  function defineInspect(C, fields) {
    Object.defineProperty(C.prototype, inspectSymbol, {
      value(depth, options, inspect) {
        return `${C.name} ${inspect(fields(this), options)}`;
      },
      writable: true,
      configurable: true,
    });
  }

  // ---- Headers ----

  // knownNames maps header names already checked to their lowercase form: requests and
  // responses use the same few names, and a lookup costs a tenth of the checks (bounded, so
  // a worker that invents names cannot grow it).
  const knownNames = new Map();
  const KNOWN_NAMES_MAX = 256;

  function headerName(name) {
    if (typeof name === "string") {
      const known = knownNames.get(name);
      if (known !== undefined) return known;
    }
    const s = toByteString(name, "Header name");
    if (!TOKEN.test(s)) throw new TypeError(`Invalid header name: "${s}"`);
    const lower = s.toLowerCase();
    if (knownNames.size < KNOWN_NAMES_MAX) knownNames.set(s, lower);
    return lower;
  }

  // Most header values are plain: normalization leaves them as they are (bytes only, no
  // leading or trailing whitespace, no NUL, CR or LF). One pass of the glue's C says so
  // (host.headerValuePlain: ~0.3 µs, where a regular expression took ~3 µs in the
  // interpreter); the others, and values too long for one unpolled pass (PLAIN_MAX), take
  // the standard's steps.
  const headerValuePlain = host.headerValuePlain;
  const PLAIN_MAX = 8192;

  function headerValue(value) {
    if (typeof value === "string" && value.length <= PLAIN_MAX && headerValuePlain(value)) return value;
    const s = toByteString(value, "Header value").replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
    if (/[\0\r\n]/.test(s)) throw new TypeError(`Invalid header value: ${JSON.stringify(s)}`);
    return s;
  }

  let headerList; // (headers) -> its [lowercase name, value] list, in insertion order
  let getHeader; // (headers, lowercase name) -> combined value or null
  let appendHeader; // (headers, name, value), bypassing the immutability guard
  let sortedHeaders; // (headers) -> the sorted and combined pairs that iteration shows
  // byName orders header pairs by name (lower-case byte strings: code units compare as
  // the standard's byte order does).
  const byName = (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  let newHeaders; // (list, immutable) -> Headers with a trusted list
  let headersImmutable;

  class Headers {
    #list = [];
    #immutable = false; // the "immutable" guard of responses from fetch() and incoming requests
    #sorted = null; // cache of sortedHeaders, dropped on every change

    constructor(init = undefined) {
      if (init === undefined) return;
      if (!isObject(init)) throw new TypeError("Headers must be built from an object, an iterable of [name, value] pairs or Headers");
      if (#list in init && pristineIteration(init, headersIteration)) {
        // Another Headers (Hono's responses are built from one), its names and values
        // already checked. Its pairs are copied as they are, not sorted and combined as
        // iterating it yields them: the two lists iterate, get and getSetCookie alike, and
        // sorting a fresh Headers of 12 pairs cost ~60 µs in the sandbox. A pair is never
        // changed in place (set replaces it), so the lists may share pairs, and the sorted
        // copy too (a change drops it rather than change it).
        this.#list = init.#list.slice();
        this.#sorted = init.#sorted;
        return;
      }
      if (typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
          const p = isIterable(pair) ? [...pair] : null;
          if (!p || p.length !== 2) throw new TypeError("Each header must be a [name, value] pair");
          this.#append(p[0], p[1]);
        }
        return;
      }
      // A record<ByteString, ByteString>: own keys, each read if enumerable ([[GetOwnProperty]]
      // then [[Get]], as the standard's conversion does).
      const keys = Reflect.ownKeys(init);
      for (let i = 0; i < keys.length; i++) {
        if (isEnumerable(init, keys[i])) this.#append(keys[i], init[keys[i]]);
      }
    }

    append(name, value) {
      requireArgs(arguments, 2, "Headers.append");
      this.#append(name, value);
    }

    delete(name) {
      requireArgs(arguments, 1, "Headers.delete");
      const n = headerName(name);
      this.#checkMutable();
      this.#drop(n, 0);
    }

    get(name) {
      requireArgs(arguments, 1, "Headers.get");
      return this.#get(headerName(name));
    }

    getSetCookie() {
      const list = this.#list;
      const out = [];
      for (let i = 0; i < list.length; i++) if (list[i][0] === "set-cookie") out.push(list[i][1]);
      return out;
    }

    has(name) {
      requireArgs(arguments, 1, "Headers.has");
      const n = headerName(name);
      const list = this.#list;
      for (let i = 0; i < list.length; i++) if (list[i][0] === n) return true;
      return false;
    }

    set(name, value) {
      requireArgs(arguments, 2, "Headers.set");
      const n = headerName(name);
      const v = headerValue(value);
      this.#checkMutable();
      const list = this.#list;
      let i = 0;
      while (i < list.length && list[i][0] !== n) i++;
      if (i === list.length) {
        this.#push(n, v);
        return;
      }
      // The first pair of the name takes the value; the later ones go.
      list[i] = [n, v];
      this.#drop(n, i + 1);
    }

    // drop removes the pairs named n from index from on, in place (as push adds them: the
    // list is only ever read synchronously), and drops the sorted copy.
    #drop(n, from) {
      const list = this.#list;
      let w = from;
      for (let r = from; r < list.length; r++) if (list[r][0] !== n) list[w++] = list[r];
      list.length = w;
      this.#sorted = null;
    }

    #append(name, value) {
      const n = headerName(name);
      const v = headerValue(value);
      this.#checkMutable();
      this.#push(n, v);
    }

    // push adds a pair in place: a list is only ever read synchronously by its users
    // (iteration reads the sorted copy, which is dropped here), so it need not be copied.
    #push(n, v) {
      this.#list.push([n, v]);
      this.#sorted = null;
    }

    #get(n) {
      const list = this.#list;
      let out = null;
      for (let i = 0; i < list.length; i++) {
        if (list[i][0] === n) out = out === null ? list[i][1] : out + ", " + list[i][1];
      }
      return out;
    }

    #checkMutable() {
      if (this.#immutable) throw new TypeError("Can't modify immutable headers");
    }

    // sorted is the standard's "sort and combine": names in order, values of one name joined
    // with ", " except Set-Cookie, whose values stay separate.
    // sortedPairs is what iteration shows (the standard's "sort and combine"): the pairs in
    // name order, the values of a name joined by ", " in the order they were added, but
    // each set-cookie apart. One stable sort and one pass; pairs of a name that appears
    // once are shared with the list.
    #sortedPairs() {
      if (this.#sorted) return this.#sorted;
      const pairs = this.#list.slice();
      pairs.sort(byName);
      const out = [];
      for (let i = 0, n = pairs.length; i < n; ) {
        const name = pairs[i][0];
        let j = i + 1;
        if (name === "set-cookie") {
          out.push(pairs[i]);
          i = j;
          continue;
        }
        let value = pairs[i][1];
        for (; j < n && pairs[j][0] === name; j++) value += ", " + pairs[j][1];
        out.push(j === i + 1 ? pairs[i] : [name, value]);
        i = j;
      }
      return (this.#sorted = out);
    }

    static {
      headerList = (h) => h.#list;
      getHeader = (h, name) => h.#get(name);
      appendHeader = (h, name, value) => h.#push(name, value);
      sortedHeaders = (h) => h.#sortedPairs();
      headersImmutable = (h) => h.#immutable;
      newHeaders = (list, immutable) => {
        const h = new Headers();
        h.#list = list;
        h.#immutable = immutable;
        return h;
      };
    }
  }
  const headersIteration = defineIterable(Headers, sortedHeaders);
  defineInspect(Headers, (h) => pairsToObject(sortedHeaders(h)));

  // copyHeaders copies a header list, keeping its guard (for clone()).
  const copyHeaders = (h, immutable) => newHeaders(headerList(h).map((p) => [...p]), immutable);

  // headersFromHost builds immutable headers from trusted [name, value] pairs, or from the
  // fetch message's names and values joined by newlines (engine/message.go).
  function headersFromHost(pairs) {
    if (typeof pairs === "string") {
      if (pairs === "") return newHeaders([], true);
      const parts = pairs.split("\n");
      const list = new Array(parts.length >> 1);
      for (let i = 0; i < list.length; i++) list[i] = [parts[2 * i].toLowerCase(), parts[2 * i + 1]];
      return newHeaders(list, true);
    }
    const list = new Array(pairs.length);
    for (let i = 0; i < pairs.length; i++) list[i] = [String(pairs[i][0]).toLowerCase(), String(pairs[i][1])];
    return newHeaders(list, true);
  }

  // ---- Blob and File ----

  // A Blob's bytes are copied in and never modified, so slices and bodies may share them.
  let blobBytes;
  let isBlob;

  function normalizeBlobType(type) {
    const s = `${type}`;
    return /^[\x20-\x7e]*$/.test(s) ? s.toLowerCase() : "";
  }

  // relativeIndex resolves slice()'s start/end: negative values count from the end.
  function relativeIndex(value, size, fallback) {
    if (value === undefined) return fallback;
    const n = Math.trunc(+value) || 0;
    return n < 0 ? Math.max(size + n, 0) : Math.min(n, size);
  }

  function blobPartsBytes(parts, endings) {
    const chunks = [];
    for (const part of parts) {
      if (isBlob(part)) chunks.push(blobBytes(part));
      else {
        let bytes = bufferSourceBytes(part);
        if (!bytes) {
          const text = toUSVString(part);
          bytes = encoder.encode(endings === "native" ? text.replace(/\r\n?/g, "\n") : text);
        }
        chunks.push(bytes);
      }
    }
    return chunks.length ? concatBytes(chunks) : EMPTY;
  }

  class Blob {
    #bytes = EMPTY;
    #type = "";

    constructor(blobParts = undefined, options = undefined) {
      if (blobParts !== undefined && !isIterable(blobParts)) throw new TypeError("Blob parts must be an iterable");
      const parts = blobParts === undefined ? [] : [...blobParts];
      const opts = dictionary(options, "Blob options");
      const endings = opts.endings === undefined ? "transparent" : enumValue(opts.endings, ["transparent", "native"], "endings");
      this.#type = opts.type === undefined ? "" : normalizeBlobType(opts.type);
      this.#bytes = blobPartsBytes(parts, endings);
    }

    get size() {
      return this.#bytes.length;
    }

    get type() {
      return this.#type;
    }

    slice(start = undefined, end = undefined, contentType = undefined) {
      const size = this.#bytes.length;
      const from = relativeIndex(start, size, 0);
      const to = relativeIndex(end, size, size);
      const blob = new Blob();
      blob.#bytes = this.#bytes.subarray(from, Math.max(from, to));
      blob.#type = contentType === undefined ? "" : normalizeBlobType(contentType);
      return blob;
    }

    async text() {
      return utf8Decoder.decode(this.#bytes);
    }

    async arrayBuffer() {
      return this.#bytes.slice().buffer;
    }

    async bytes() {
      return this.#bytes.slice();
    }

    stream() {
      return byteStream(this.#bytes);
    }

    static {
      blobBytes = (b) => b.#bytes;
      isBlob = (v) => isObject(v) && #bytes in v;
    }
  }
  defineInspect(Blob, (b) => ({ size: b.size, type: b.type }));

  class File extends Blob {
    #name;
    #lastModified;

    constructor(fileBits, fileName, options = undefined) {
      requireArgs(arguments, 2, "File constructor");
      super(fileBits, options);
      const { lastModified } = dictionary(options, "File options");
      this.#name = toUSVString(fileName);
      this.#lastModified = lastModified === undefined ? Date.now() : Math.trunc(+lastModified) || 0;
    }

    get name() {
      return this.#name;
    }

    get lastModified() {
      return this.#lastModified;
    }

    get webkitRelativePath() {
      return "";
    }
  }
  defineInspect(File, (f) => ({ size: f.size, type: f.type, name: f.name, lastModified: f.lastModified }));

  // ---- FormData ----

  let formEntries; // (form) -> its [name, string | File] list
  let isFormData;

  // formEntry is the standard's "create an entry": Blobs become Files (named "blob" unless a
  // filename is given), anything else a string.
  function formEntry(name, value, filename, argCount) {
    const n = toUSVString(name);
    if (!isBlob(value)) {
      if (argCount > 2) throw new TypeError("FormData: a filename can only be given with a Blob value");
      return [n, toUSVString(value)];
    }
    const isFile = value instanceof File;
    if (isFile && filename === undefined) return [n, value];
    const fileName = filename !== undefined ? toUSVString(filename) : isFile ? value.name : "blob";
    return [n, new File([value], fileName, { type: value.type, lastModified: isFile ? value.lastModified : undefined })];
  }

  class FormData {
    #entries = [];

    constructor(form = undefined) {
      if (form !== undefined) throw new TypeError("FormData: there are no HTML forms here; create it empty and append entries");
    }

    append(name, value, filename = undefined) {
      requireArgs(arguments, 2, "FormData.append");
      this.#entries.push(formEntry(name, value, filename, arguments.length));
    }

    delete(name) {
      requireArgs(arguments, 1, "FormData.delete");
      const n = toUSVString(name);
      this.#entries = this.#entries.filter(([k]) => k !== n);
    }

    get(name) {
      requireArgs(arguments, 1, "FormData.get");
      const n = toUSVString(name);
      const entry = this.#entries.find(([k]) => k === n);
      return entry ? entry[1] : null;
    }

    getAll(name) {
      requireArgs(arguments, 1, "FormData.getAll");
      const n = toUSVString(name);
      return this.#entries.filter(([k]) => k === n).map(([, v]) => v);
    }

    has(name) {
      requireArgs(arguments, 1, "FormData.has");
      const n = toUSVString(name);
      return this.#entries.some(([k]) => k === n);
    }

    set(name, value, filename = undefined) {
      requireArgs(arguments, 2, "FormData.set");
      const entry = formEntry(name, value, filename, arguments.length);
      const i = this.#entries.findIndex(([k]) => k === entry[0]);
      if (i < 0) this.#entries.push(entry);
      else this.#entries = this.#entries.flatMap((e, j) => (j === i ? [entry] : e[0] === entry[0] ? [] : [e]));
    }

    static {
      formEntries = (f) => f.#entries;
      isFormData = (v) => isObject(v) && #entries in v;
    }
  }
  defineIterable(FormData, formEntries);
  defineInspect(FormData, (f) => pairsToObject(formEntries(f)));

  // multipartBody serializes a FormData as multipart/form-data (the HTML standard's
  // encoding: CRLF line breaks in names and string values, quotes and newlines in names
  // and filenames percent-escaped).
  function multipartBody(form) {
    const boundary = `----isoboxFormBoundary${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
    const crlf = (s) => s.replace(/\r\n|\r|\n/g, "\r\n");
    const escape = (s) => s.replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/"/g, "%22");
    const chunks = [];
    for (const [name, value] of formEntries(form)) {
      let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escape(crlf(name))}"`;
      if (typeof value === "string") {
        chunks.push(encoder.encode(`${head}\r\n\r\n${crlf(value)}\r\n`));
        continue;
      }
      head += `; filename="${escape(value.name)}"\r\nContent-Type: ${value.type || "application/octet-stream"}\r\n\r\n`;
      chunks.push(encoder.encode(head), blobBytes(value), encoder.encode("\r\n"));
    }
    chunks.push(encoder.encode(`--${boundary}--\r\n`));
    return { bytes: concatBytes(chunks), type: `multipart/form-data; boundary=${boundary}` };
  }

  function dispositionParam(disposition, key) {
    const m = new RegExp(`;\\s*${key}=(?:"([^"]*)"|([^;\\s]*))`, "i").exec(disposition);
    if (!m) return undefined;
    return (m[1] !== undefined ? m[1] : m[2]).replace(/%0A/g, "\n").replace(/%0D/g, "\r").replace(/%22/g, '"');
  }

  // parseMultipart reads a multipart/form-data body into a FormData.
  function parseMultipart(bytes, contentType) {
    const malformed = () => new TypeError("Could not parse content as FormData: malformed multipart body");
    const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
    if (!m) throw new TypeError("Could not parse content as FormData: the multipart boundary is missing");
    const delimiter = `--${m[1] || m[2]}`;
    const text = atob(Reflect.apply(toBase64, bytes, [])); // one character per byte: indexes are byte offsets
    const form = new FormData();
    let pos = text.indexOf(delimiter);
    if (pos < 0) throw malformed();
    for (;;) {
      pos += delimiter.length;
      if (text.startsWith("--", pos)) return form;
      if (!text.startsWith("\r\n", pos)) throw malformed();
      pos += 2;
      const headerEnd = text.indexOf("\r\n\r\n", pos);
      const next = headerEnd < 0 ? -1 : text.indexOf(`\r\n${delimiter}`, headerEnd + 4);
      if (next < 0) throw malformed();
      const headers = new Map();
      for (const line of utf8Decoder.decode(bytes.subarray(pos, headerEnd)).split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      const disposition = headers.get("content-disposition") || "";
      const name = dispositionParam(disposition, "name");
      if (name === undefined) throw malformed();
      const filename = dispositionParam(disposition, "filename");
      const content = bytes.subarray(headerEnd + 4, next);
      formEntries(form).push(
        filename === undefined
          ? [name, utf8Decoder.decode(content)]
          : [name, new File([content], filename, { type: headers.get("content-type") || "" })],
      );
      pos = next + 2;
    }
  }

  // ---- ReadableStream ----

  // A stream's internals live in a record ("s") shared with its controller and reader:
  // state ("readable" | "closed" | "errored"), the queue of [chunk, size], the reader
  // record ({requests, closed}) if locked, and the underlying source's pull/cancel.
  let streamOf; // (stream) -> its record
  let isStream;

  function sourceMethod(source, name) {
    const fn = source[name];
    if (fn === undefined) return null;
    if (typeof fn !== "function") throw new TypeError(`The underlying source's ${name} must be a function`);
    return (...args) => Reflect.apply(fn, source, args);
  }

  function desiredSize(s) {
    if (s.state === "errored") return null;
    if (s.state === "closed") return 0;
    return s.highWaterMark - s.queueTotal;
  }

  const canEnqueue = (s) => s.state === "readable" && !s.closeRequested;

  function enqueueChunk(s, chunk) {
    if (s.bytes) {
      byteStreams.enqueue(s, chunk); // 51_bytestreams.js
      return;
    }
    if (s.reader && s.reader.requests.length > 0) {
      s.reader.requests.shift().resolve({ value: chunk, done: false });
    } else {
      let size;
      try {
        size = s.size(chunk);
        if (!(size >= 0 && size < Infinity)) throw new RangeError("The chunk size must be a finite, non-negative number");
      } catch (e) {
        errorStream(s, e);
        throw e;
      }
      s.queue.push([chunk, size]);
      s.queueTotal += size;
    }
    pullIfNeeded(s);
  }

  // clearAlgorithms lets a default stream that is closed or errored go of its controller
  // and its source's algorithms, as the standard's ReadableStreamDefaultControllerClear-
  // Algorithms does: the controller and the source's closures hold the stream's state, and
  // the cycles would otherwise wait for the cycle collector. (A byte stream's controller
  // still answers BYOB requests after close.)
  const countChunk = () => 1; // the default strategy's size: every chunk counts 1
  function clearAlgorithms(s) {
    if (s.bytes) return;
    s.controller = null;
    s.pull = null;
    s.cancel = null;
    s.size = countChunk;
  }

  // closeStream finishes a stream whose chunks have all been read (or that was canceled).
  // A BYOB reader's pending reads are not answered here: the byte source answers them
  // (byobRequest.respond(0)), as the standard has it.
  function closeStream(s) {
    s.state = "closed";
    clearAlgorithms(s);
    if (!s.reader) return;
    s.reader.closed.resolve(); // the standard's order: closed first, then the pending reads
    if (!s.reader.byob) for (const request of s.reader.requests.splice(0)) request.resolve({ value: undefined, done: true });
  }

  function errorStream(s, e) {
    if (s.state !== "readable") return;
    s.state = "errored";
    s.error = e;
    s.queue = [];
    s.queueTotal = 0;
    clearAlgorithms(s);
    if (s.bytes) byteStreams.reset(s);
    if (!s.reader) return;
    s.reader.closed.reject(e); // the standard's order: closed first, then the pending reads
    for (const request of s.reader.requests.splice(0)) request.reject(e);
  }

  // pullIfNeeded calls the source's pull when a reader waits or the queue is below its
  // high-water mark; pulls never overlap, a pull wanted meanwhile runs after.
  function pullIfNeeded(s) {
    if (!s.started || !s.pull || !canEnqueue(s)) return;
    if (!(s.reader && s.reader.requests.length > 0) && !(desiredSize(s) > 0)) return;
    if (s.pulling) {
      s.pullAgain = true;
      return;
    }
    s.pulling = true;
    new Promise((resolve) => resolve(s.pull(s.controller))).then(
      () => {
        s.pulling = false;
        if (s.pullAgain) {
          s.pullAgain = false;
          pullIfNeeded(s);
        }
      },
      (e) => errorStream(s, e),
    );
  }

  function readChunk(s) {
    s.disturbed = true;
    if (s.state === "closed") return Promise.resolve({ value: undefined, done: true });
    if (s.state === "errored") return Promise.reject(s.error);
    if (s.queue.length > 0) {
      const [chunk, size] = s.queue.shift();
      s.queueTotal = Math.max(0, s.queueTotal - size); // floating-point sizes may not sum back to 0
      if (s.closeRequested && s.queue.length === 0) closeStream(s);
      else pullIfNeeded(s);
      return Promise.resolve({ value: chunk, done: false });
    }
    if (s.bytes) byteStreams.autoAllocate(s);
    const request = Promise.withResolvers();
    s.reader.requests.push(request);
    pullIfNeeded(s);
    return request.promise;
  }

  function cancelStream(s, reason) {
    s.disturbed = true;
    if (s.state === "closed") return Promise.resolve();
    if (s.state === "errored") return Promise.reject(s.error);
    s.queue = [];
    s.queueTotal = 0;
    if (s.bytes) byteStreams.reset(s);
    const cancel = s.cancel; // closeStream clears it: the standard closes first, then cancels
    closeStream(s);
    if (s.reader && s.reader.byob) for (const request of s.reader.requests.splice(0)) request.resolve({ value: undefined, done: true });
    return new Promise((resolve) => resolve(cancel ? cancel(reason) : undefined)).then(() => undefined);
  }

  class ReadableStream {
    #s;

    constructor(underlyingSource = undefined, strategy = undefined) {
      if (underlyingSource === null) throw new TypeError("The underlying source must be an object, not null"); // WebIDL: object, not nullable
      const source = underlyingSource === undefined ? {} : underlyingSource;
      if (!isObject(source)) throw new TypeError("The underlying source must be an object");
      const bytes = source.type !== undefined && enumValue(source.type, ["bytes"], "ReadableStream type") === "bytes";
      const { highWaterMark, size } = dictionary(strategy, "The queuing strategy");
      if (size !== undefined && typeof size !== "function") throw new TypeError("The queuing strategy's size must be a function");
      const hwm = highWaterMark === undefined ? (bytes ? 0 : 1) : +highWaterMark;
      if (Number.isNaN(hwm) || hwm < 0) throw new RangeError("The highWaterMark must be a non-negative number");
      let sizeOf = countChunk; // the default strategy counts chunks; byte streams count bytes
      if (bytes) sizeOf = (chunk) => chunk.byteLength;
      else if (size) sizeOf = (chunk) => +Reflect.apply(size, undefined, [chunk]);
      const s = (this.#s = {
        state: "readable",
        queue: [],
        queueTotal: 0,
        error: undefined,
        reader: null,
        disturbed: false,
        started: false,
        pulling: false,
        pullAgain: false,
        closeRequested: false,
        bytes,
        highWaterMark: hwm,
        size: sizeOf,
        pull: sourceMethod(source, "pull"),
        cancel: sourceMethod(source, "cancel"),
        controller: null,
      });
      s.controller = bytes ? byteStreams.setUp(s, source, size !== undefined) : new ReadableStreamDefaultController(constructKey, s);
      const start = sourceMethod(source, "start");
      Promise.resolve(start ? start(s.controller) : undefined).then(
        () => {
          s.started = true;
          pullIfNeeded(s);
        },
        (e) => errorStream(s, e),
      );
    }

    get locked() {
      return this.#s.reader !== null;
    }

    async cancel(reason = undefined) {
      if (this.#s.reader) throw new TypeError("Cannot cancel a locked ReadableStream");
      return cancelStream(this.#s, reason);
    }

    getReader(options = undefined) {
      const { mode } = dictionary(options, "The reader options");
      if (mode !== undefined) {
        enumValue(mode, ["byob"], "the reader mode");
        return new ReadableStreamBYOBReader(this);
      }
      return new ReadableStreamDefaultReader(this);
    }

    tee() {
      return teeStream(this);
    }

    values(options = undefined) {
      const { preventCancel } = dictionary(options, "The iterator options");
      return iterateStream(new ReadableStreamDefaultReader(this), Boolean(preventCancel));
    }

    // from makes a stream of the values of an iterable or async iterable.
    static from(asyncIterable) {
      const asyncMethod = asyncIterable == null ? undefined : asyncIterable[Symbol.asyncIterator];
      const method = asyncMethod != null ? asyncMethod : asyncIterable == null ? undefined : asyncIterable[Symbol.iterator];
      if (typeof method !== "function") throw new TypeError("ReadableStream.from() needs an iterable or async iterable");
      const iterator = Reflect.apply(method, asyncIterable, []);
      if (!isObject(iterator)) throw new TypeError("The iterator must be an object");
      return new ReadableStream(
        {
          async pull(controller) {
            const result = await iterator.next();
            if (!isObject(result)) throw new TypeError("The iterator result must be an object");
            if (result.done) controller.close();
            else controller.enqueue(await result.value);
          },
          async cancel(reason) {
            if (typeof iterator.return !== "function") return;
            const result = await iterator.return(reason);
            if (!isObject(result)) throw new TypeError("The iterator result must be an object");
          },
        },
        { highWaterMark: 0 },
      );
    }

    static {
      streamOf = (v) => v.#s;
      isStream = (v) => isObject(v) && #s in v;
    }
  }
  Object.defineProperty(ReadableStream.prototype, Symbol.asyncIterator, {
    value: ReadableStream.prototype.values,
    writable: true,
    configurable: true,
  });
  defineInspect(ReadableStream, (r) => ({ locked: r.locked, state: streamOf(r).state, supportsBYOB: streamOf(r).bytes }));

  class ReadableStreamDefaultController {
    #s;

    constructor(key, s) {
      if (key !== constructKey) throw new TypeError("Illegal constructor");
      this.#s = s;
    }

    get desiredSize() {
      return desiredSize(this.#s);
    }

    close() {
      const s = this.#s;
      if (!canEnqueue(s)) throw new TypeError("The stream is already closed or errored");
      s.closeRequested = true;
      if (s.queue.length === 0) closeStream(s);
    }

    enqueue(chunk = undefined) {
      if (!canEnqueue(this.#s)) throw new TypeError("Cannot enqueue into a stream that is closed or errored");
      enqueueChunk(this.#s, chunk);
    }

    error(e = undefined) {
      errorStream(this.#s, e);
    }
  }

  let readerHolds;
  let markBYOB;

  class ReadableStreamDefaultReader {
    // #reader is this reader's record while it holds the lock, {requests, closed}, which the
    // stream's state holds as s.reader; #s is that state. The record does not point back at
    // the state, so a stream and its reader make no reference cycle.
    #reader = null;
    #s = null;
    #closed;

    constructor(stream) {
      requireArgs(arguments, 1, "ReadableStreamDefaultReader constructor");
      if (!isStream(stream)) throw new TypeError("ReadableStreamDefaultReader needs a ReadableStream");
      const s = streamOf(stream);
      if (s.reader) throw new TypeError("ReadableStream is locked to another reader");
      this.#closed = Promise.withResolvers();
      this.#closed.promise.catch(() => {}); // rejections nobody awaits are not "unhandled"
      this.#reader = { requests: [], closed: this.#closed };
      this.#s = s;
      s.reader = this.#reader;
      if (s.state === "closed") this.#closed.resolve();
      else if (s.state === "errored") this.#closed.reject(s.error);
    }

    get closed() {
      return this.#closed.promise;
    }

    // read answers readChunk's promise itself (not through an async function, whose extra
    // promise ticks would let reader.closed settle before the read it follows).
    read() {
      if (!this.#reader) return Promise.reject(new TypeError("This reader has been released"));
      return readChunk(this.#s);
    }

    releaseLock() {
      const r = this.#reader;
      if (!r) return;
      const s = this.#s;
      const released = new TypeError("The reader was released");
      for (const request of r.requests.splice(0)) request.reject(released);
      if (s.bytes) byteStreams.released(s);
      if (s.state !== "readable") {
        this.#closed = Promise.withResolvers();
        this.#closed.promise.catch(() => {});
      }
      this.#closed.reject(released);
      s.reader = null;
      this.#reader = null;
      this.#s = null;
    }

    async cancel(reason = undefined) {
      if (!this.#reader) throw new TypeError("This reader has been released");
      return cancelStream(this.#s, reason);
    }

    static {
      // readerHolds says whether a reader holds s's lock (ReadableStreamBYOBReader's read).
      readerHolds = (r, s) => r.#reader !== null && r.#s === s;
      markBYOB = (r) => {
        r.#reader.byob = true;
      };
    }
  }

  // A BYOB reader of a byte stream reads into the caller's view (transferred, as the
  // standard has it); the reads are 51_bytestreams.js's pull-into descriptors.
  class ReadableStreamBYOBReader extends ReadableStreamDefaultReader {
    #s;

    constructor(stream) {
      if (!isStream(stream)) throw new TypeError("ReadableStreamBYOBReader needs a ReadableStream");
      if (!streamOf(stream).bytes) throw new TypeError("A BYOB reader needs a byte stream (type: \"bytes\")");
      super(stream);
      markBYOB(this);
      this.#s = streamOf(stream);
    }

    async read(view = undefined, options = undefined) {
      const s = this.#s;
      if (!ArrayBuffer.isView(view)) throw new TypeError("ReadableStreamBYOBReader.read needs an ArrayBufferView");
      if (!readerHolds(this, s)) throw new TypeError("This reader has been released");
      return byteStreams.read(s, view, options);
    }
  }

  // iterateStream is the stream's async iterator (WebIDL's, with the Streams standard's
  // steps): next() reads through the reader's own methods as they were when the runtime
  // started, calls queue behind each other, the lock is released when the stream ends or
  // errors, and return() (a for-await loop left early) cancels the stream unless
  // preventCancel and releases the lock at once.
  const AsyncIteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype);
  const readerRead = ReadableStreamDefaultReader.prototype.read;
  const readerCancel = ReadableStreamDefaultReader.prototype.cancel;
  const readerRelease = ReadableStreamDefaultReader.prototype.releaseLock;
  const promiseThen = (p, ok, fail) => Reflect.apply(primordials.promiseThen, p, [ok, fail]);
  const iterators = new WeakMap(); // iterator -> {reader, preventCancel, ongoing, finished}
  const iterResult = (value, done) => ({ value, done });
  const ReadableStreamAsyncIteratorPrototype = Object.create(AsyncIteratorPrototype);
  Object.defineProperties(ReadableStreamAsyncIteratorPrototype, {
    next: {
      value: function next() {
        const it = iterators.get(this);
        if (!it) return Promise.reject(new TypeError("next() called on an object that is not a ReadableStream async iterator"));
        const nextSteps = () => {
          if (it.finished) return Promise.resolve(iterResult(undefined, true));
          return promiseThen(
            Reflect.apply(readerRead, it.reader, []),
            (r) => {
              it.ongoing = null;
              if (r.done) {
                it.finished = true;
                Reflect.apply(readerRelease, it.reader, []);
                return iterResult(undefined, true);
              }
              return iterResult(r.value, false);
            },
            (e) => {
              it.ongoing = null;
              it.finished = true;
              Reflect.apply(readerRelease, it.reader, []);
              throw e;
            },
          );
        };
        it.ongoing = it.ongoing ? promiseThen(it.ongoing, nextSteps, nextSteps) : nextSteps();
        return it.ongoing;
      },
      writable: true,
      enumerable: true,
      configurable: true,
    },
    return: {
      value: function (value) {
        const it = iterators.get(this);
        if (!it) return Promise.reject(new TypeError("return() called on an object that is not a ReadableStream async iterator"));
        const returnSteps = () => {
          if (it.finished) return Promise.resolve(iterResult(value, true));
          it.finished = true;
          if (it.preventCancel) {
            Reflect.apply(readerRelease, it.reader, []);
            return Promise.resolve(undefined);
          }
          const result = Reflect.apply(readerCancel, it.reader, [value]);
          Reflect.apply(readerRelease, it.reader, []);
          return result;
        };
        it.ongoing = it.ongoing ? promiseThen(it.ongoing, returnSteps, returnSteps) : returnSteps();
        return promiseThen(it.ongoing, () => iterResult(value, true));
      },
      writable: true,
      enumerable: true,
      configurable: true,
    },
    [Symbol.toStringTag]: { value: "ReadableStream AsyncIterator", configurable: true },
  });
  Object.defineProperty(ReadableStreamAsyncIteratorPrototype.return, "name", { value: "return" });

  function iterateStream(reader, preventCancel) {
    const it = Object.create(ReadableStreamAsyncIteratorPrototype);
    iterators.set(it, { reader, preventCancel, ongoing: null, finished: false });
    return it;
  }

  // teeStream splits a stream in two branches that see the same chunks; the source is
  // canceled only when both branches are. A byte stream's branches are byte streams.
  function teeStream(stream) {
    if (streamOf(stream).bytes) return byteStreams.tee(stream, ReadableStream, ReadableStreamDefaultReader, ReadableStreamBYOBReader); // 51_bytestreams.js
    const reader = new ReadableStreamDefaultReader(stream);
    const canceled = [false, false];
    const reasons = [];
    const bothCanceled = Promise.withResolvers();
    let reading = false;
    const forBranches = (fn) => branches.forEach((b, i) => !canceled[i] && canEnqueue(streamOf(b)) && fn(streamOf(b)));
    const pull = () => {
      if (reading) return undefined;
      reading = true;
      // readChunk, not the reader's async read(): a chunk must reach the branches before
      // an error the same pull causes does (the standard's read request is synchronous).
      return readChunk(streamOf(stream)).then(
        ({ value, done }) => {
          reading = false;
          if (done) {
            forBranches((s) => {
              s.closeRequested = true;
              if (s.queue.length === 0) closeStream(s);
            });
            bothCanceled.resolve();
          } else forBranches((s) => enqueueChunk(s, value));
        },
        (e) => {
          branches.forEach((b) => errorStream(streamOf(b), e));
          bothCanceled.resolve();
        },
      );
    };
    const branch = (i) =>
      new ReadableStream({
        pull,
        cancel(reason) {
          canceled[i] = true;
          reasons[i] = reason;
          if (canceled[0] && canceled[1]) bothCanceled.resolve(reader.cancel(reasons));
          return bothCanceled.promise;
        },
      });
    const branches = [branch(0), branch(1)];
    // The source's error reaches both branches when it happens, not at their next pull.
    reader.closed.catch((e) => {
      branches.forEach((b) => errorStream(streamOf(b), e));
      bothCanceled.resolve();
    });
    return branches;
  }

  // byteStream is a stream of one chunk holding a copy of bytes.
  function byteStream(bytes) {
    return new ReadableStream({
      type: "bytes",
      start(controller) {
        if (bytes.length) controller.enqueue(bytes.slice());
        controller.close();
      },
    });
  }

  // ---- bodies ----

  // A body record is {bytes, stream, used}: the bytes when the whole body is known (the
  // stream is then made only if .body is read), or the stream it comes from. A body given
  // as a string keeps the string in bytes until something needs its bytes (bytesOf): a
  // handler's `new Response("hi")` or `Response.json(v)` goes to the host as it is, and
  // encoding it (~2.5 µs in the sandbox, a Uint8Array and its buffer) is left to the
  // readers that want bytes.
  const newBody = (bytes, stream) => ({ bytes, stream, used: false });
  const isWellFormed = uncurryThis(primordials.isWellFormed);
  function bytesOf(body) {
    const b = body.bytes;
    return typeof b === "string" ? (body.bytes = encoder.encode(b)) : b;
  }

  function isBodyUsed(body) {
    return body !== null && (body.used || (body.stream !== null && streamOf(body.stream).disturbed));
  }

  function bodyStream(body) {
    if (body === null) return null;
    if (body.stream === null) {
      body.stream = byteStream(body.used ? EMPTY : bytesOf(body));
      if (body.used) streamOf(body.stream).disturbed = true;
    }
    return body.stream;
  }

  // extractBody turns a BodyInit into a body record and the Content-Type it implies.
  function extractBody(init) {
    if (typeof init === "string") return { body: newBody(init, null), type: "text/plain;charset=UTF-8" };
    if (isStream(init)) {
      const s = streamOf(init);
      if (s.disturbed || s.reader) throw new TypeError("The ReadableStream body is locked or has already been read");
      // a FixedLengthStream's readable side knows its length (Workers: Content-Length)
      return { body: newBody(null, init), type: null, length: s.expectedLength };
    }
    if (isBlob(init)) return { body: newBody(blobBytes(init), null), type: init.type || null };
    const bytes = bufferSourceBytes(init);
    if (bytes) return { body: newBody(bytes, null), type: null };
    if (isFormData(init)) {
      const form = multipartBody(init);
      return { body: newBody(form.bytes, null), type: form.type };
    }
    if (init instanceof URLSearchParams) {
      return { body: newBody(encoder.encode(Reflect.apply(paramsToString, init, [])), null), type: "application/x-www-form-urlencoded;charset=UTF-8" };
    }
    return { body: newBody(encoder.encode(`${init}`), null), type: "text/plain;charset=UTF-8" };
  }

  // consumeBody reads a whole body once; the result may be shared with the body's source,
  // so callers that hand it out copy it. It marks the body used synchronously.
  async function consumeBody(body) {
    if (body === null) return EMPTY;
    if (isBodyUsed(body)) throw new TypeError("Body has already been used");
    if (body.stream === null) {
      body.used = true;
      return bytesOf(body);
    }
    if (streamOf(body.stream).reader) throw new TypeError("The body's ReadableStream is locked");
    body.used = true;
    return readAllBytes(body.stream);
  }

  async function readAllBytes(stream) {
    const reader = new ReadableStreamDefaultReader(stream);
    const chunks = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return chunks.length ? concatBytes(chunks) : EMPTY;
      if (!(value instanceof Uint8Array)) {
        await reader.cancel();
        throw new TypeError(`A body's ReadableStream must produce Uint8Array chunks, not ${typeof value === "object" ? Object.prototype.toString.call(value) : typeof value}`);
      }
      chunks.push(value);
    }
  }

  // cloneBody is the standard's "clone a body": a stream is teed, bytes are shared.
  function cloneBody(body) {
    if (body === null) return null;
    if (body.stream === null) return newBody(body.bytes, null);
    const [mine, theirs] = teeStream(body.stream);
    body.stream = mine;
    return newBody(null, theirs);
  }

  // takeBody moves a body to a new owner (new Request(request)); the old owner's is used.
  function takeBody(body) {
    const taken = newBody(body.bytes, body.stream);
    body.used = true;
    return taken;
  }

  function formDataFromBody(bytes, contentType) {
    const essence = contentType.split(";")[0].trim().toLowerCase();
    if (essence === "multipart/form-data") return parseMultipart(bytes, contentType);
    if (essence === "application/x-www-form-urlencoded") {
      const form = new FormData();
      for (const [name, value] of parseForm(utf8Decoder.decode(bytes))) formEntries(form).push([name, value]);
      return form;
    }
    throw new TypeError(`Could not parse content as FormData: unsupported content-type "${contentType}"`);
  }

  // The Body mixin, shared by Request and Response: bodyOf(this) is the body record and
  // headersOf(this) the Headers (both brand checks: they throw for other objects).
  function installBody(C, bodyOf, headersOf) {
    const methods = {
      get body() {
        return bodyStream(bodyOf(this));
      },
      get bodyUsed() {
        return isBodyUsed(bodyOf(this));
      },
      async arrayBuffer() {
        return (await consumeBody(bodyOf(this))).slice().buffer;
      },
      async bytes() {
        return (await consumeBody(bodyOf(this))).slice();
      },
      async text() {
        return utf8Decoder.decode(await consumeBody(bodyOf(this)));
      },
      async json() {
        return JSON.parse(utf8Decoder.decode(await consumeBody(bodyOf(this))));
      },
      async blob() {
        const body = bodyOf(this);
        const headers = headersOf(this);
        return new Blob([await consumeBody(body)], { type: getHeader(headers, "content-type") || "" });
      },
      async formData() {
        const body = bodyOf(this);
        const headers = headersOf(this);
        return formDataFromBody(await consumeBody(body), getHeader(headers, "content-type") || "");
      },
    };
    for (const [name, desc] of Object.entries(Object.getOwnPropertyDescriptors(methods))) {
      Object.defineProperty(C.prototype, name, { ...desc, enumerable: false });
    }
  }

  // ---- Request ----

  function normalizeMethod(method) {
    const m = toByteString(method, "The method");
    if (!TOKEN.test(m)) throw new TypeError(`'${m}' is not a valid HTTP method`);
    const upper = m.toUpperCase();
    if (["CONNECT", "TRACE", "TRACK"].includes(upper)) throw new TypeError(`'${m}' HTTP method is unsupported`);
    return ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"].includes(upper) ? upper : m;
  }

  const followSignal = (signal) => NativeAbortSignal.any(signal ? [signal] : []);

  let requestParts; // (request) -> its private fields
  let requestBody; // (request) -> its body record
  let requestHeaders; // (request) -> its Headers
  let createRequest; // (fields) -> Request, without validation
  let incomingRequest; // (method, url, [name, value] pairs, body record) -> the incoming Request

  class Request {
    #method = "GET";
    #url = "";
    #headers = null;
    #hostHeaders = null; // an incoming request's [name, value] pairs, until #headers is made
    #body = null;
    #signal = null;
    #redirect = "follow";
    #mode = "cors";
    #credentials = "same-origin";
    #cache = "default";
    #integrity = "";
    #keepalive = false;

    constructor(input, init = undefined) {
      if (input === constructKey) return; // createRequest fills in the fields
      requireArgs(arguments, 1, "Request constructor");
      const source = isObject(input) && #url in input ? input : null;
      if (source) {
        this.#url = source.#url;
        this.#method = source.#method;
        this.#redirect = source.#redirect;
        this.#mode = source.#mode;
        this.#credentials = source.#credentials;
        this.#cache = source.#cache;
        this.#integrity = source.#integrity;
        this.#keepalive = source.#keepalive;
      } else {
        const url = parseURL(input, "Request");
        if (url.username || url.password) {
          throw new TypeError(`Request cannot be constructed from a URL that includes credentials: ${url.href}`);
        }
        this.#url = url.href;
      }
      const opts = dictionary(init, "RequestInit");
      if (opts.method !== undefined) this.#method = normalizeMethod(opts.method);
      if (opts.redirect !== undefined) this.#redirect = enumValue(opts.redirect, ["follow", "error", "manual"], "redirect");
      if (opts.mode !== undefined) {
        this.#mode = enumValue(opts.mode, ["same-origin", "no-cors", "cors", "navigate"], "mode");
        if (this.#mode === "navigate") throw new TypeError("Cannot construct a Request with mode 'navigate'");
      }
      if (opts.credentials !== undefined) this.#credentials = enumValue(opts.credentials, ["omit", "same-origin", "include"], "credentials");
      if (opts.cache !== undefined) {
        this.#cache = enumValue(opts.cache, ["default", "no-store", "reload", "no-cache", "force-cache", "only-if-cached"], "cache");
      }
      if (opts.integrity !== undefined) this.#integrity = `${opts.integrity}`;
      if (opts.keepalive !== undefined) this.#keepalive = Boolean(opts.keepalive);

      let signal = source ? source.#signal : null;
      if (opts.signal !== undefined) {
        if (opts.signal !== null && !(opts.signal instanceof NativeAbortSignal)) throw new TypeError("RequestInit.signal must be an AbortSignal");
        signal = opts.signal;
      }
      this.#signal = followSignal(signal);
      if (opts.headers !== undefined) this.#headers = new Headers(opts.headers);
      else this.#headers = source ? copyHeaders(source.#headersNow(), false) : new Headers();

      const inputBody = source ? source.#body : null;
      const hasInitBody = opts.body !== undefined && opts.body !== null;
      if ((hasInitBody || inputBody !== null) && (this.#method === "GET" || this.#method === "HEAD")) {
        throw new TypeError("Request with GET/HEAD method cannot have body.");
      }
      if (hasInitBody) {
        const { body, type } = extractBody(opts.body);
        this.#body = body;
        if (type && getHeader(this.#headers, "content-type") === null) appendHeader(this.#headers, "content-type", type);
      } else if (inputBody !== null) {
        if (isBodyUsed(inputBody) || (inputBody.stream && streamOf(inputBody.stream).reader)) {
          throw new TypeError("Cannot construct a Request with a Request object that has already been used.");
        }
        this.#body = takeBody(inputBody);
      }
    }

    get method() {
      return this.#method;
    }
    get url() {
      return this.#url;
    }
    get headers() {
      return this.#headersNow();
    }

    // headersNow makes an incoming request's Headers on first use: most handlers never
    // look at them.
    #headersNow() {
      if (this.#headers === null) {
        this.#headers = headersFromHost(this.#hostHeaders);
        this.#hostHeaders = null;
      }
      return this.#headers;
    }

    get destination() {
      return "";
    }
    get referrer() {
      return "about:client";
    }
    get referrerPolicy() {
      return "";
    }
    get mode() {
      return this.#mode;
    }
    get credentials() {
      return this.#credentials;
    }
    get cache() {
      return this.#cache;
    }
    get redirect() {
      return this.#redirect;
    }
    get integrity() {
      return this.#integrity;
    }
    get keepalive() {
      return this.#keepalive;
    }
    get isReloadNavigation() {
      return false;
    }
    get isHistoryNavigation() {
      return false;
    }
    get signal() {
      // An incoming request's signal is made on first use: most handlers never look.
      return (this.#signal ??= followSignal(null));
    }
    get duplex() {
      return "half";
    }

    clone() {
      if (isBodyUsed(this.#body)) throw new TypeError("Request.clone: the body has already been used");
      return createRequest({
        ...requestParts(this),
        headers: copyHeaders(this.#headersNow(), headersImmutable(this.#headersNow())),
        body: cloneBody(this.#body),
        signal: followSignal(this.#signal),
      });
    }

    static {
      requestParts = (r) => ({
        method: r.#method,
        url: r.#url,
        headers: r.#headersNow(),
        body: r.#body,
        signal: (r.#signal ??= followSignal(null)),
        redirect: r.#redirect,
        mode: r.#mode,
        credentials: r.#credentials,
        cache: r.#cache,
        integrity: r.#integrity,
        keepalive: r.#keepalive,
      });
      requestBody = (r) => r.#body;
      requestHeaders = (r) => r.#headersNow();
      incomingRequest = (method, url, hostHeaders, body) => {
        const r = new Request(constructKey);
        r.#method = method;
        r.#url = url;
        r.#hostHeaders = hostHeaders;
        r.#body = body;
        return r;
      };
      createRequest = (f) => {
        const r = new Request(constructKey);
        r.#method = f.method;
        r.#url = f.url;
        r.#headers = f.headers || null;
        r.#hostHeaders = f.hostHeaders || null;
        r.#body = f.body;
        r.#signal = f.signal;
        r.#redirect = f.redirect || "follow";
        r.#mode = f.mode || "cors";
        r.#credentials = f.credentials || "same-origin";
        r.#cache = f.cache || "default";
        r.#integrity = f.integrity || "";
        r.#keepalive = Boolean(f.keepalive);
        return r;
      };
    }
  }
  installBody(Request, requestBody, requestHeaders);
  defineInspect(Request, (r) => ({
    method: r.method,
    url: r.url,
    headers: r.headers,
    bodyUsed: r.bodyUsed,
    redirect: r.redirect,
    signal: r.signal,
  }));

  // ---- Response ----

  let responseParts;
  let responseBody; // (response) -> its body record
  let createResponse;
  // responseStatus, responseStatusText and responseWirePairs read what goes on the wire
  // from a Response's own state (the dispatcher's answer), not through its getters.
  let responseIs;
  let responseStatus;
  let responseStatusText;
  let responseWirePairs;
  // The one header of a response whose body is a string or Response.json's, as its pairs
  // on the wire, while its Headers has not been asked for.
  const TEXT_TYPE = "text/plain;charset=UTF-8";
  const JSON_TYPE = "application/json";
  const lazyPairs = { __proto__: null };
  for (const t of [TEXT_TYPE, JSON_TYPE]) lazyPairs[t] = Object.freeze([Object.freeze(["content-type", t])]);

  function checkStatusText(text) {
    const s = toByteString(text, "statusText");
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(s)) throw new TypeError(`Invalid statusText: ${JSON.stringify(s)}`);
    return s;
  }

  class Response {
    #status = 200;
    #statusText = "";
    // A Headers, or, for `new Response(string)` and `Response.json(v)` without an init, the
    // content type of its one header until the Headers is asked for (#headersNow): most
    // handlers' responses go to the host unread, and a Headers costs ~3.4 µs to make.
    #headers = null;
    #body = null;
    #type = "default";
    #url = "";
    #redirected = false;

    constructor(body = null, init = undefined) {
      if (body === constructKey) return; // createResponse fills in the fields
      if (init === undefined || init === null) {
        // new Response(body): status 200, no headers but the body's type. A string body
        // (the common case) gets its one header as a known-valid pair.
        if (typeof body === "string") {
          this.#headers = TEXT_TYPE;
          this.#body = newBody(body, null);
          return;
        }
        this.#headers = new Headers();
        if (body !== null && body !== undefined) this.#setBody(extractBody(body));
        return;
      }
      const opts = dictionary(init, "ResponseInit");
      const status = opts.status === undefined ? 200 : toUnsignedShort(opts.status);
      if (status < 200 || status > 599) {
        throw new RangeError(`Failed to construct 'Response': The status provided (${status}) is outside the range [200, 599].`);
      }
      this.#status = status;
      this.#statusText = opts.statusText === undefined ? "" : checkStatusText(opts.statusText);
      this.#headers = new Headers(opts.headers);
      if (body !== null && body !== undefined) this.#setBody(extractBody(body));
    }

    #headersNow() {
      const h = this.#headers;
      return typeof h === "string" ? (this.#headers = newHeaders([["content-type", h]], false)) : h;
    }

    // setBody is the end of "initialize a response": no body for null-body statuses, and the
    // body's Content-Type unless the headers have one.
    #setBody({ body, type, length }) {
      if (nullBodyStatuses.includes(this.#status)) {
        throw new TypeError(`Response with null body status (${this.#status}) cannot have a body`);
      }
      this.#body = body;
      if (type && getHeader(this.#headers, "content-type") === null) appendHeader(this.#headers, "content-type", type);
      if (length !== undefined && getHeader(this.#headers, "content-length") === null) appendHeader(this.#headers, "content-length", `${length}`);
    }

    static error() {
      return createResponse({ type: "error", status: 0, headers: newHeaders([], true) });
    }

    static json(data, init = undefined) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError("Response.json: the value is not JSON serializable");
      if (init === undefined || init === null) {
        // no init: status 200 and the one header, as a known-valid pair
        const response = new Response(constructKey);
        response.#headers = JSON_TYPE;
        response.#body = newBody(text, null);
        return response;
      }
      const response = new Response(null, init);
      response.#setBody({ body: newBody(text, null), type: "application/json" });
      return response;
    }

    static redirect(url, status = 302) {
      requireArgs(arguments, 1, "Response.redirect");
      const location = parseURL(url, "Response.redirect").href;
      const code = toUnsignedShort(status);
      if (!redirectStatuses.includes(code)) throw new RangeError(`Response.redirect: invalid redirect status ${code}`);
      return createResponse({ status: code, headers: newHeaders([["location", location]], true) });
    }

    get type() {
      return this.#type;
    }
    get url() {
      return this.#url;
    }
    get redirected() {
      return this.#redirected;
    }
    get status() {
      return this.#status;
    }
    get ok() {
      return this.#status >= 200 && this.#status <= 299;
    }
    get statusText() {
      return this.#statusText;
    }
    get headers() {
      return this.#headersNow();
    }

    clone() {
      if (isBodyUsed(this.#body)) throw new TypeError("Response.clone: the body has already been used");
      return createResponse({
        ...responseParts(this),
        headers: copyHeaders(this.#headersNow(), headersImmutable(this.#headersNow())),
        body: cloneBody(this.#body),
      });
    }

    static {
      responseBody = (r) => r.#body;
      responseParts = (r) => ({
        status: r.#status,
        statusText: r.#statusText,
        headers: r.#headersNow(),
        body: r.#body,
        type: r.#type,
        url: r.#url,
        redirected: r.#redirected,
      });
      responseIs = (r) => typeof r === "object" && r !== null && #status in r;
      responseStatus = (r) => r.#status;
      responseStatusText = (r) => r.#statusText;
      responseWirePairs = (r) => {
        const h = r.#headers;
        return typeof h === "string" ? lazyPairs[h] : headerList(h);
      };
      createResponse = (f) => {
        const r = new Response(constructKey);
        r.#status = f.status;
        r.#statusText = f.statusText || "";
        r.#headers = f.headers;
        r.#body = f.body || null;
        r.#type = f.type || "default";
        r.#url = f.url || "";
        r.#redirected = Boolean(f.redirected);
        return r;
      };
    }
  }
  installBody(Response, responseBody, (r) => responseParts(r).headers);
  defineInspect(Response, (r) => ({
    status: r.status,
    statusText: r.statusText,
    headers: r.headers,
    bodyUsed: r.bodyUsed,
    ok: r.ok,
    redirected: r.redirected,
    type: r.type,
    url: r.url,
  }));

  // ---- fetch ----

  // hostBodyStream reads a response body the host holds open, chunk by chunk, as the
  // guest pulls: a large download never sits whole in the sandbox unless it is read whole.
  function hostBodyStream(handle) {
    return new ReadableStream({
      type: "bytes",
      pull(controller) {
        return host.startOp("body_read", { handle }).promise.then((r) => {
          if (r.chunk) controller.enqueue(fromBase64(r.chunk));
          if (r.done) {
            controller.close();
            const request = controller.byobRequest; // a BYOB read still waiting ends empty
            if (request !== null) request.respond(0);
          }
        });
      },
      cancel() {
        host.call("body_cancel", JSON.stringify({ handle }));
      },
    });
  }

  function responseFromHost(result, request) {
    const status = result.status;
    const hasBody = request.method !== "HEAD" && !nullBodyStatuses.includes(status);
    let body = null;
    if (result.bodyHandle !== undefined) {
      if (hasBody) body = newBody(null, hostBodyStream(result.bodyHandle));
      else host.call("body_cancel", JSON.stringify({ handle: result.bodyHandle }));
    } else if (hasBody) {
      body = newBody(result.body ? fromBase64(result.body) : EMPTY, null);
    }
    return createResponse({
      status,
      statusText: result.statusText,
      headers: headersFromHost(result.headers || []),
      body,
      type: "basic",
      url: result.url || request.url,
      redirected: result.redirected,
    });
  }

  // fetch sends the request through the host. Aborting the request's signal rejects with
  // the signal's reason (an AbortError DOMException by default) and drops the host operation.
  function fetch(input, init = undefined) {
    let request; // the parts of the Request
    try {
      request = requestParts(new Request(input, init));
    } catch (e) {
      return Promise.reject(e);
    }
    const { signal } = request;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      let opId = 0;
      const onAbort = () => {
        if (opId) host.cancelOp(opId);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort);
      const finish = () => signal.removeEventListener("abort", onAbort);
      const body = request.body;
      const streamed = body !== null && body.stream !== null;
      if (streamed) {
        // A ReadableStream body goes out as it is produced: the host holds the request open
        // and each chunk is written to it (body_write resolves once the transport took it).
        let reader;
        try {
          if (isBodyUsed(body)) throw new TypeError("Body has already been used");
          if (streamOf(body.stream).reader) throw new TypeError("The body's ReadableStream is locked");
          body.used = true;
          reader = new ReadableStreamDefaultReader(body.stream);
        } catch (e) {
          finish();
          reject(e);
          return;
        }
        const op = host.startOp("fetch", {
          method: request.method,
          url: request.url,
          headers: headerList(request.headers),
          body: null,
          bodyStream: true,
          redirect: request.redirect,
        });
        opId = op.id;
        const upload = (async () => {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            if (!(value instanceof Uint8Array)) {
              throw new TypeError("A body's ReadableStream must produce Uint8Array chunks");
            }
            await host.startOp("body_write", { handle: op.id, chunk: Reflect.apply(toBase64, value, []) }).promise;
          }
          host.call("body_end", JSON.stringify({ handle: op.id }));
        })();
        upload.catch((e) => {
          host.call("body_end", JSON.stringify({ handle: op.id, error: String((e && e.message) || e) }));
          reader.cancel(e).catch(() => {});
        });
        op.promise.then(
          (result) => {
            finish();
            resolve(responseFromHost(result, request));
          },
          (e) => {
            finish();
            reject(e);
          },
        );
        return;
      }
      consumeBody(body)
        .then((bytes) => {
          if (signal.aborted) return;
          const op = host.startOp("fetch", {
            method: request.method,
            url: request.url,
            headers: headerList(request.headers),
            body: body === null ? null : Reflect.apply(toBase64, bytes, []),
            redirect: request.redirect,
          });
          opId = op.id;
          return op.promise.then((result) => {
            finish();
            resolve(responseFromHost(result, request));
          });
        })
        .catch((e) => {
          finish();
          reject(e);
        });
    });
  }

  for (const C of [
    Headers, Blob, File, FormData, ReadableStream, ReadableStreamDefaultController, ReadableStreamDefaultReader, ReadableStreamBYOBReader,
    Request, Response,
  ]) {
    Object.defineProperty(C.prototype, Symbol.toStringTag, { value: C.name, configurable: true });
    Object.defineProperty(globalThis, C.name, { value: C, writable: true, configurable: true, enumerable: false });
  }
  Object.defineProperty(globalThis, "fetch", { value: fetch, writable: true, configurable: true, enumerable: false });

  return {
    // streamInternals lets 55_streams.js (writable and transform streams, pipes) reach a
    // ReadableStream's record: its state, stored error and queue.
    streamInternals: { streamOf, isStream, canEnqueue, desiredSize, errorStream, closeStream, pullIfNeeded, ReadableStreamDefaultReader },
    // bodyToBytes reads a Response's whole body; the bytes may be shared with the response,
    // so they must not be modified.
    async bodyToBytes(response) {
      return consumeBody(responseBody(response));
    },
    // responseWire reads what goes on the wire from a Response's own state: its status,
    // status text and header pairs as stored (names lowercase, in insertion order, repeated
    // names not combined; not to be modified). A guest that replaces Response.prototype's
    // getters, or a subclass that overrides them, changes what its own code reads, not the
    // response, as in workerd. is tells a Response from anything else, a Proxy of one or
    // an object made from Response.prototype included.
    responseWire: { is: responseIs, status: responseStatus, statusText: responseStatusText, pairs: responseWirePairs },
    // bodyBytesNow takes a response's body when it is bytes already (no stream to read),
    // marking it used; it returns undefined for a stream or a used body. A body given as a
    // well-formed string comes back as that string, whose UTF-8 the host reads; one with a
    // lone surrogate is encoded here, which makes it U+FFFD as the standard's encoding does.
    bodyBytesNow(response) {
      const body = responseBody(response);
      if (body === null) return EMPTY;
      if (body.stream !== null || isBodyUsed(body)) return undefined;
      body.used = true;
      const b = body.bytes;
      return typeof b === "string" && isWellFormed(b) ? b : bytesOf(body);
    },
    // bodyReader takes a response's stream body for the dispatcher to send chunk by chunk
    // (90_worker.js, a streamed response): a default reader holding the stream, marked
    // used; it throws TypeError for a used or locked body.
    bodyReader(response) {
      const body = responseParts(response).body;
      if (isBodyUsed(body)) throw new TypeError("Body has already been used");
      if (streamOf(body.stream).reader) throw new TypeError("The body's ReadableStream is locked");
      body.used = true;
      return new ReadableStreamDefaultReader(body.stream);
    },
    // makeRequest is the incoming request: only the fields the message gives are set (the
    // others keep their initial values), its Headers and signal are made on first use.
    makeRequest(method, url, headers, body) {
      return incomingRequest(method, url, headers ?? "", body != null && method !== "GET" && method !== "HEAD" ? newBody(body, null) : null);
    },
  };
})();
