// 30_url.js: URL and URLSearchParams (WHATWG URL Standard). Parsing and the URL setters run
// on the host ("url_parse", "url_set": package runtime/weburl), which answers with the
// URLRecord of the URL's getter values, kept by each URL object; URLSearchParams and the
// application/x-www-form-urlencoded parser and serializer are here.
//
// Other runtime files use webUrl (not the globals, which user code may replace): its URL and
// URLSearchParams classes, and parseForm/serializeForm for application/x-www-form-urlencoded
// bodies (lists of [name, value] pairs).
const webUrl = (() => {
  const { defineProperty, getOwnPropertyNames, getOwnPropertyDescriptor, getPrototypeOf } = Object;
  const { ownKeys } = Reflect;
  const jsonStringify = JSON.stringify;
  const jsonParse = JSON.parse;
  const hostCall = host.call;
  const { fromCodePoint } = String;
  const encodeComponent = encodeURIComponent;
  const customInspect = Symbol.for("nodejs.util.inspect.custom");
  const IteratorPrototype = getPrototypeOf(getPrototypeOf([][Symbol.iterator]()));

  // WebIDL USVString conversion: ToString (a Symbol throws TypeError), then each lone
  // surrogate becomes U+FFFD.
  const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
  const toUSV = (v) => {
    const s = `${v}`;
    return typeof s.isWellFormed === "function"
      ? s.isWellFormed()
        ? s
        : s.toWellFormed()
      : s.replace(loneSurrogate, "\uFFFD");
  };

  const requireArgs = (what, got, need) => {
    if (got < need) {
      throw new TypeError(`${what}: ${need} argument${need > 1 ? "s" : ""} required, but only ${got} present`);
    }
  };

  // The host throws TypeError "Invalid URL: ..." when parsing fails. The last few records
  // are kept, parsed: a handler typically parses the same URL more than once (the Request,
  // then `new URL(request.url)`), and a warm worker sees the same URLs again. A record is
  // never changed (setters make a new one) nor handed out, so URLs may share one.
  const recent = new Map();
  const parseRecord = (input, base) => {
    const key = base === undefined ? "\u0001" + input : base + "\u0000" + input;
    let rec = recent.get(key);
    if (rec === undefined) {
      rec = jsonParse(hostCall("url_parse", jsonStringify(base === undefined ? { input } : { input, base })));
      if (recent.size >= 16) recent.delete(recent.keys().next().value);
      recent.set(key, rec);
    }
    return rec;
  };
  const setRecord = (href, prop, value) => jsonParse(hostCall("url_set", jsonStringify({ href, prop, value })));

  // ---- application/x-www-form-urlencoded

  const hexValue = (c) => {
    if (c >= 0x30 && c <= 0x39) return c - 0x30;
    if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
    if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
    return -1;
  };

  // utf8Decode is the Encoding Standard's UTF-8 decode (without BOM handling): each
  // maximal ill-formed subsequence becomes one U+FFFD.
  const utf8Decode = (bytes) => {
    let out = "";
    let chunk = [];
    const flush = () => {
      out += fromCodePoint(...chunk);
      chunk = [];
    };
    let need = 0; // bytes still needed
    let cp = 0;
    let lower = 0x80;
    let upper = 0xbf;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (need === 0) {
        if (b <= 0x7f) chunk.push(b);
        else if (b >= 0xc2 && b <= 0xdf) {
          need = 1;
          cp = b & 0x1f;
        } else if (b >= 0xe0 && b <= 0xef) {
          if (b === 0xe0) lower = 0xa0;
          if (b === 0xed) upper = 0x9f;
          need = 2;
          cp = b & 0xf;
        } else if (b >= 0xf0 && b <= 0xf4) {
          if (b === 0xf0) lower = 0x90;
          if (b === 0xf4) upper = 0x8f;
          need = 3;
          cp = b & 0x7;
        } else chunk.push(0xfffd);
      } else if (b < lower || b > upper) {
        // Ill-formed: emit U+FFFD and reprocess this byte.
        need = 0;
        lower = 0x80;
        upper = 0xbf;
        chunk.push(0xfffd);
        i--;
      } else {
        lower = 0x80;
        upper = 0xbf;
        cp = (cp << 6) | (b & 0x3f);
        if (--need === 0) chunk.push(cp);
      }
      if (chunk.length >= 4096) flush();
    }
    if (need !== 0) chunk.push(0xfffd);
    flush();
    return out;
  };

  // utf8Encode appends the UTF-8 bytes of code point c to bytes.
  const utf8Encode = (bytes, c) => {
    if (c < 0x80) bytes.push(c);
    else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else bytes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  };

  // formDecode: "+" is a space, then percent-decode and UTF-8 decode (the input is a
  // USVString, so its UTF-8 encoding is exact).
  const formDecode = (s) => {
    if (s.indexOf("+") >= 0) s = s.replaceAll("+", " ");
    if (s.indexOf("%") < 0) return s;
    const bytes = [];
    for (let i = 0; i < s.length; i++) {
      const c = s.codePointAt(i);
      if (c > 0xffff) i++;
      if (c === 0x25 && i + 2 < s.length) {
        const h = hexValue(s.charCodeAt(i + 1));
        const l = hexValue(s.charCodeAt(i + 2));
        if (h >= 0 && l >= 0) {
          bytes.push((h << 4) | l);
          i += 2;
          continue;
        }
      }
      utf8Encode(bytes, c);
    }
    return utf8Decode(bytes);
  };

  // parseForm is the application/x-www-form-urlencoded parser.
  const parseForm = (input) => {
    const list = [];
    const sequences = input.split("&");
    for (let i = 0; i < sequences.length; i++) {
      const sequence = sequences[i];
      if (sequence === "") continue;
      const eq = sequence.indexOf("=");
      const name = eq < 0 ? sequence : sequence.slice(0, eq);
      const value = eq < 0 ? "" : sequence.slice(eq + 1);
      list.push([formDecode(name), formDecode(value)]);
    }
    return list;
  };

  // formEncode is the application/x-www-form-urlencoded byte serializer of a USVString:
  // everything but ASCII alphanumerics and *-._ is percent-encoded, a space becomes "+".
  const formSpecial = /[!'()~]/g;
  const formEncode = (s) =>
    encodeComponent(s)
      .replace(formSpecial, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase())
      .replaceAll("%20", "+");

  const serializeForm = (list) => {
    const parts = new Array(list.length);
    for (let i = 0; i < list.length; i++) parts[i] = formEncode(list[i][0]) + "=" + formEncode(list[i][1]);
    return parts.join("&");
  };

  // ---- URL

  // Friend access between the two classes (set in their static blocks).
  let urlSetQuery; // (url, serializedQuery) => void: the URLSearchParams update steps
  let paramsSetList; // (params, list) => void
  let paramsNew; // (url, query) => URLSearchParams linked to url
  let listOf; // (params) => its list
  const ofURL = {}; // URLSearchParams's argument from paramsNew: no user code can pass it

  class URL {
    #rec;
    #params = null; // the URLSearchParams object, made on first use

    constructor(url, base = undefined) {
      requireArgs("URL constructor", arguments.length, 1);
      url = toUSV(url);
      if (base !== undefined) base = toUSV(base);
      this.#rec = parseRecord(url, base);
    }

    static canParse(url, base = undefined) {
      requireArgs("URL.canParse", arguments.length, 1);
      url = toUSV(url);
      if (base !== undefined) base = toUSV(base);
      try {
        parseRecord(url, base);
        return true;
      } catch {
        return false;
      }
    }

    static parse(url, base = undefined) {
      requireArgs("URL.parse", arguments.length, 1);
      url = toUSV(url);
      if (base !== undefined) base = toUSV(base);
      try {
        return new URL(url, base);
      } catch {
        return null;
      }
    }

    static {
      urlSetQuery = (url, serialized) => {
        url.#rec = setRecord(url.#rec.href, "search", serialized);
      };
    }

    // #set runs a URL setter other than href and search: they leave the query alone.
    #set(prop, value) {
      this.#rec = setRecord(this.#rec.href, prop, toUSV(value));
    }

    get href() {
      return this.#rec.href;
    }
    set href(value) {
      this.#rec = parseRecord(toUSV(value)); // throws TypeError for an invalid URL
      if (this.#params !== null) {
        const q = this.#rec.search;
        paramsSetList(this.#params, q === "" ? [] : parseForm(q.slice(1)));
      }
    }

    get origin() {
      return this.#rec.origin;
    }

    get protocol() {
      return this.#rec.protocol;
    }
    set protocol(value) {
      this.#set("protocol", value);
    }

    get username() {
      return this.#rec.username;
    }
    set username(value) {
      this.#set("username", value);
    }

    get password() {
      return this.#rec.password;
    }
    set password(value) {
      this.#set("password", value);
    }

    get host() {
      return this.#rec.host;
    }
    set host(value) {
      this.#set("host", value);
    }

    get hostname() {
      return this.#rec.hostname;
    }
    set hostname(value) {
      this.#set("hostname", value);
    }

    get port() {
      return this.#rec.port;
    }
    set port(value) {
      this.#set("port", value);
    }

    get pathname() {
      return this.#rec.pathname;
    }
    set pathname(value) {
      this.#set("pathname", value);
    }

    get search() {
      return this.#rec.search;
    }
    set search(value) {
      value = toUSV(value);
      this.#rec = setRecord(this.#rec.href, "search", value);
      if (this.#params !== null) {
        paramsSetList(this.#params, value === "" ? [] : parseForm(value[0] === "?" ? value.slice(1) : value));
      }
    }

    get searchParams() {
      if (this.#params === null) {
        const q = this.#rec.search;
        this.#params = paramsNew(this, q === "" ? "" : q.slice(1));
      }
      return this.#params;
    }

    get hash() {
      return this.#rec.hash;
    }
    set hash(value) {
      this.#set("hash", value);
    }

    toString() {
      return this.#rec.href;
    }

    toJSON() {
      return this.#rec.href;
    }

    [customInspect](depth, options, inspect) {
      const r = this.#rec;
      const shown = {
        href: r.href,
        origin: r.origin,
        protocol: r.protocol,
        username: r.username,
        password: r.password,
        host: r.host,
        hostname: r.hostname,
        port: r.port,
        pathname: r.pathname,
        search: r.search,
        searchParams: this.searchParams,
        hash: r.hash,
      };
      return typeof inspect === "function" ? "URL " + inspect(shown, options) : shown;
    }
  }

  // ---- URLSearchParams

  // parsedQuery is parseForm(query), its lists kept for the last 16 queries: a warm
  // worker reads the same query strings again (`new URL(request.url).searchParams`). A
  // kept list and its pairs are frozen and shared; URLSearchParams copies one before it
  // changes it (#own).
  const parsedQueries = new Map();
  const parsedQuery = (query) => {
    let list = parsedQueries.get(query);
    if (list === undefined) {
      list = parseForm(query);
      for (const t of list) Object.freeze(t);
      Object.freeze(list);
      if (parsedQueries.size >= 16) parsedQueries.delete(parsedQueries.keys().next().value);
      parsedQueries.set(query, list);
    }
    return list;
  };

  class URLSearchParams {
    #list = [];
    #shared = false; // #list is parsedQuery's, shared: copied before it is changed
    #url = null; // the URL object whose query this is, or null

    constructor(init = "") {
      if (init === ofURL) return; // paramsNew fills it in
      if ((typeof init === "object" && init !== null) || typeof init === "function") {
        const iteratorMethod = init[Symbol.iterator];
        if (iteratorMethod !== undefined && iteratorMethod !== null) {
          // sequence<sequence<USVString>>
          if (typeof iteratorMethod !== "function") {
            throw new TypeError("URLSearchParams constructor: init[Symbol.iterator] is not a function");
          }
          for (const pair of { [Symbol.iterator]: () => iteratorMethod.call(init) }) {
            if ((typeof pair !== "object" || pair === null) && typeof pair !== "function") {
              throw new TypeError("URLSearchParams constructor: each name-value pair must be an iterable object");
            }
            const items = [];
            for (const item of pair) items.push(toUSV(item));
            if (items.length !== 2) {
              throw new TypeError("URLSearchParams constructor: each name-value pair must have exactly 2 items");
            }
            this.#list.push(items);
          }
        } else {
          // record<USVString, USVString>: a later key equal after conversion replaces the value
          const index = new Map();
          for (const key of ownKeys(init)) {
            const desc = getOwnPropertyDescriptor(init, key);
            if (desc === undefined || !desc.enumerable) continue;
            const name = toUSV(key); // a Symbol key throws TypeError, as WebIDL requires
            const value = toUSV(init[key]);
            const at = index.get(name);
            if (at === undefined) {
              index.set(name, this.#list.length);
              this.#list.push([name, value]);
            } else this.#list[at][1] = value;
          }
        }
      } else {
        init = toUSV(init);
        const query = init[0] === "?" ? init.slice(1) : init;
        if (query !== "") {
          this.#list = parsedQuery(query);
          this.#shared = true;
        }
      }
    }

    static {
      paramsSetList = (params, list) => {
        params.#list = list;
        params.#shared = false;
      };
      paramsNew = (url, query) => {
        const params = new URLSearchParams(ofURL);
        if (query !== "") {
          params.#list = parsedQuery(query); // no "?" stripping here, unlike the constructor
          params.#shared = true;
        }
        params.#url = url;
        return params;
      };
    }

    // #own makes #list this object's own before it is changed in place.
    #own() {
      if (this.#shared) {
        this.#list = this.#list.map((t) => [t[0], t[1]]);
        this.#shared = false;
      }
    }

    // #update is the standard's "update" steps: the URL's query follows the list.
    #update() {
      if (this.#url !== null) urlSetQuery(this.#url, serializeForm(this.#list));
    }

    get size() {
      return this.#list.length;
    }

    append(name, value) {
      requireArgs("URLSearchParams.append", arguments.length, 2);
      const pair = [toUSV(name), toUSV(value)];
      this.#own();
      this.#list.push(pair);
      this.#update();
    }

    delete(name, value = undefined) {
      requireArgs("URLSearchParams.delete", arguments.length, 1);
      name = toUSV(name);
      if (value === undefined) this.#list = this.#list.filter((t) => t[0] !== name);
      else {
        value = toUSV(value);
        this.#list = this.#list.filter((t) => t[0] !== name || t[1] !== value);
      }
      this.#update();
    }

    get(name) {
      requireArgs("URLSearchParams.get", arguments.length, 1);
      name = toUSV(name);
      const list = this.#list;
      for (let i = 0; i < list.length; i++) if (list[i][0] === name) return list[i][1];
      return null;
    }

    getAll(name) {
      requireArgs("URLSearchParams.getAll", arguments.length, 1);
      name = toUSV(name);
      return this.#list.filter((t) => t[0] === name).map((t) => t[1]);
    }

    has(name, value = undefined) {
      requireArgs("URLSearchParams.has", arguments.length, 1);
      name = toUSV(name);
      if (value === undefined) return this.#list.some((t) => t[0] === name);
      value = toUSV(value);
      return this.#list.some((t) => t[0] === name && t[1] === value);
    }

    set(name, value) {
      requireArgs("URLSearchParams.set", arguments.length, 2);
      name = toUSV(name);
      value = toUSV(value);
      this.#own();
      const i = this.#list.findIndex((t) => t[0] === name);
      if (i < 0) this.#list.push([name, value]);
      else {
        this.#list[i][1] = value;
        this.#list = this.#list.filter((t, j) => j <= i || t[0] !== name);
      }
      this.#update();
    }

    sort() {
      // Array.prototype.sort is stable, and < compares strings by UTF-16 code units.
      this.#own();
      this.#list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      this.#update();
    }

    forEach(callback, thisArg = undefined) {
      requireArgs("URLSearchParams.forEach", arguments.length, 1);
      if (typeof callback !== "function") {
        throw new TypeError("URLSearchParams.forEach: callback is not a function");
      }
      // The list is read again at each step: the callback may change it.
      for (let i = 0; i < this.#list.length; i++) {
        const [name, value] = this.#list[i];
        callback.call(thisArg, value, name, this);
      }
    }

    entries() {
      return makeIterator(this, "key+value");
    }

    keys() {
      return makeIterator(this, "key");
    }

    values() {
      return makeIterator(this, "value");
    }

    toString() {
      return serializeForm(this.#list);
    }

    [customInspect](depth, options, inspect) {
      if (typeof inspect !== "function") return this;
      const items = this.#list.map(([k, v]) => `${inspect(k, options)} => ${inspect(v, options)}`);
      return items.length === 0 ? "URLSearchParams {}" : `URLSearchParams { ${items.join(", ")} }`;
    }

    static {
      listOf = (params) => params.#list;
    }
  }

  // ---- URLSearchParams Iterator: live over the list, like the WebIDL default iterator.

  const iteratorState = new WeakMap(); // iterator -> {params, kind, index}
  const URLSearchParamsIteratorPrototype = Object.create(IteratorPrototype, {
    next: {
      value: function next() {
        const st = iteratorState.get(this);
        if (st === undefined) throw new TypeError("next called on an object that is not a URLSearchParams Iterator");
        const list = listOf(st.params);
        if (st.index >= list.length) return { value: undefined, done: true };
        const [name, value] = list[st.index++];
        return { value: st.kind === "key" ? name : st.kind === "value" ? value : [name, value], done: false };
      },
      writable: true,
      enumerable: true,
      configurable: true,
    },
    [Symbol.toStringTag]: { value: "URLSearchParams Iterator", configurable: true },
  });
  const makeIterator = (params, kind) => {
    listOf(params); // brand check: throws TypeError for other objects
    const it = Object.create(URLSearchParamsIteratorPrototype);
    iteratorState.set(it, { params, kind, index: 0 });
    return it;
  };

  // WebIDL shapes: attributes and operations are enumerable, @@iterator is entries, and
  // each prototype has its @@toStringTag.
  for (const [C, tag] of [
    [URL, "URL"],
    [URLSearchParams, "URLSearchParams"],
  ]) {
    for (const name of getOwnPropertyNames(C.prototype)) {
      if (name !== "constructor") defineProperty(C.prototype, name, { enumerable: true });
    }
    for (const name of getOwnPropertyNames(C)) {
      if (name === "canParse" || name === "parse") defineProperty(C, name, { enumerable: true });
    }
    defineProperty(C.prototype, Symbol.toStringTag, { value: tag, configurable: true });
  }
  defineProperty(URLSearchParams.prototype, Symbol.iterator, {
    value: URLSearchParams.prototype.entries,
    writable: true,
    configurable: true,
  });

  return { URL, URLSearchParams, parseForm, serializeForm };
})();

for (const name of ["URL", "URLSearchParams"]) {
  Object.defineProperty(globalThis, name, { value: webUrl[name], writable: true, configurable: true, enumerable: false });
}
