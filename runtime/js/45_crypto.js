// 45_crypto.js: crypto (getRandomValues, randomUUID) and crypto.subtle (Web Crypto), whose
// work runs in the host on Go's crypto packages (engine/crypto*.go). A CryptoKey holds only
// a handle into the sandbox's key table in the host: a non-extractable key's bytes never
// enter this sandbox. Everything here that touches key material or results uses builtins
// captured before user code runs (user code may replace Uint8Array.prototype.toBase64 or
// JSON.stringify in its own sandbox; key bytes must not pass through its functions).
{
  const integerArrays = [
    Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array,
  ];
  const apply = Reflect.apply;
  const { toBase64 } = Uint8Array.prototype;
  const { fromBase64 } = Uint8Array;
  const u8slice = Uint8Array.prototype.slice;
  const u8set = Uint8Array.prototype.set;
  const abSlice = ArrayBuffer.prototype.slice;
  const isView = ArrayBuffer.isView;
  const getter = (C, name) => Object.getOwnPropertyDescriptor(C.prototype, name).get;
  const abLength = getter(ArrayBuffer, "byteLength");
  const sabLength = getter(SharedArrayBuffer, "byteLength");
  const isBuffer = (v) => {
    for (const g of [abLength, sabLength]) {
      try {
        apply(g, v, []);
        return true;
      } catch {}
    }
    return false;
  };
  const dataView = (g) => {
    const typed = getter(Object.getPrototypeOf(Uint8Array), g);
    const dv = getter(DataView, g);
    // the typed arrays' [Symbol.toStringTag] getter is undefined for a DataView
    return (v) => apply(apply(primordials.typedArrayTag, v, []) === undefined ? dv : typed, v, []);
  };
  const viewBuffer = dataView("buffer");
  const viewOffset = dataView("byteOffset");
  const viewLength = dataView("byteLength");
  const objectFreeze = Object.freeze;
  const arrayIncludes = Array.prototype.includes;
  const arrayPush = Array.prototype.push;
  const stringToUpperCase = String.prototype.toUpperCase;
  const U8 = Uint8Array;
  const TE = TextEncoder;
  const TD = TextDecoder;
  const teEncode = TextEncoder.prototype.encode;
  const tdDecode = TextDecoder.prototype.decode;
  const encodeUTF8 = (s) => apply(teEncode, new TE(), [s]);
  const decodeUTF8 = (b) => apply(tdDecode, new TD("utf-8", { fatal: true }), [b]);
  const Registry = FinalizationRegistry;
  const registryRegister = FinalizationRegistry.prototype.register;

  function expose(name, value) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  }

  const MAX_RANDOM_BYTES = 65536;
  const constructKey = Symbol("crypto");

  function randomBytes(n) {
    return new Uint8Array(host.bytes("random", String(n)));
  }

  // copyBufferSource copies a BufferSource's bytes (the operation must not see later changes).
  // Buffers are recognized by their internal slots (a byteLength getter that throws for
  // anything else), not instanceof, which the guest can hook.
  function copyBufferSource(data, what = "The data") {
    if (isBuffer(data)) return apply(u8slice, new U8(data), []);
    if (isView(data)) {
      const bytes = new U8(viewBuffer(data), viewOffset(data), viewLength(data));
      return apply(u8slice, bytes, []);
    }
    throw new TypeError(`${what} must be an ArrayBuffer or ArrayBufferView`);
  }
  const b64 = (bytes) => apply(toBase64, bytes, []);
  const bufferFromB64 = (s) => fromBase64(s).buffer;

  // domError turns an error the host reported ("DataError", ... or the native SyntaxError
  // of the glue) into the DOMException Web Crypto specifies; TypeError stays a TypeError.
  const domNames = ["NotSupportedError", "InvalidAccessError", "DataError", "OperationError", "SyntaxError", "QuotaExceededError"];
  function domError(e) {
    if (e !== null && typeof e === "object" && !(e instanceof DOMException) && apply(arrayIncludes, domNames, [e.name])) {
      return new DOMException(e.message, e.name);
    }
    return e;
  }
  // dom runs a host call, throwing its error as domError does.
  function dom(f) {
    try {
      return f();
    } catch (e) {
      throw domError(e);
    }
  }

  // ---- algorithm normalization ----

  const algorithmNames = [
    "SHA-1", "SHA-256", "SHA-384", "SHA-512", "HMAC", "AES-GCM", "AES-CBC", "AES-CTR", "AES-KW", "HKDF", "PBKDF2",
    "ECDSA", "ECDH", "Ed25519", "X25519", "RSASSA-PKCS1-v1_5", "RSA-PSS", "RSA-OAEP", "Ed448", "X448",
  ];
  const byUpper = new Map();
  for (const n of algorithmNames) byUpper.set(apply(stringToUpperCase, n, []), n);
  const digests = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"];
  const aes = ["AES-GCM", "AES-CBC", "AES-CTR", "AES-KW"];
  const rsa = ["RSASSA-PKCS1-v1_5", "RSA-PSS", "RSA-OAEP"];
  // supported: the algorithms each operation accepts (the spec's registered algorithms).
  const supported = {
    digest: digests,
    sign: ["HMAC", "ECDSA", "Ed25519", "Ed448", "RSASSA-PKCS1-v1_5", "RSA-PSS"],
    encrypt: ["AES-GCM", "AES-CBC", "AES-CTR", "RSA-OAEP"],
    generateKey: ["HMAC", ...aes, "ECDSA", "ECDH", "Ed25519", "X25519", "Ed448", "X448", ...rsa],
    importKey: algorithmNames.slice(4),
    deriveBits: ["HKDF", "PBKDF2", "ECDH", "X25519", "X448"],
    wrapKey: [...aes, "RSA-OAEP"],
    getKeyLength: ["HMAC", ...aes, "HKDF", "PBKDF2"],
  };
  supported.verify = supported.sign;
  supported.decrypt = supported.encrypt;
  supported.unwrapKey = supported.wrapKey;
  supported.deriveKey = supported.deriveBits;
  // hashed: the algorithms whose parameters dictionary for an operation has a hash member
  // (HmacImportParams, RsaHashedImportParams, EcdsaParams, HkdfParams, Pbkdf2Params, ...).
  // Only those read it: importKey("raw", k, {name: "HKDF", hash: ""}, ...) ignores it, as
  // a WebIDL dictionary ignores members it does not declare.
  const hashed = {
    importKey: ["HMAC", ...rsa],
    generateKey: ["HMAC", ...rsa],
    sign: ["ECDSA"],
    deriveBits: ["HKDF", "PBKDF2"],
    getKeyLength: ["HMAC"],
  };
  hashed.verify = hashed.sign;
  hashed.deriveKey = hashed.deriveBits;

  function canonicalName(name) {
    const found = byUpper.get(apply(stringToUpperCase, `${name}`, []));
    if (!found) throw new DOMException(`Unrecognized algorithm name: ${name}`, "NotSupportedError");
    return found;
  }

  function hashName(h) {
    if (h === undefined) return undefined;
    const name = canonicalName(h !== null && typeof h === "object" ? h.name : h);
    if (!apply(arrayIncludes, digests, [name])) throw new DOMException(`${name} is not a hash`, "NotSupportedError");
    return name;
  }

  const bufferMembers = ["iv", "counter", "additionalData", "label", "salt", "info", "publicExponent", "context"];
  const numberMembers = ["length", "tagLength", "saltLength", "iterations", "modulusLength"];

  // normalize turns an AlgorithmIdentifier into the plain data the host reads (buffers in
  // base64, hash as a name, a peer public key as its handle).
  function normalize(algorithm, op) {
    if (typeof algorithm === "string") algorithm = { name: algorithm };
    if (algorithm === null || typeof algorithm !== "object") throw new TypeError("Algorithm: must be a string or an object");
    if (algorithm.name === undefined) throw new TypeError("Algorithm: name is required");
    const name = canonicalName(algorithm.name);
    if (!apply(arrayIncludes, supported[op], [name])) {
      throw new DOMException(`${name} does not support ${op}`, "NotSupportedError");
    }
    const out = { __proto__: null, name };
    if (hashed[op] !== undefined && apply(arrayIncludes, hashed[op], [name])) {
      const hash = hashName(algorithm.hash);
      if (hash !== undefined) out.hash = hash;
    }
    if (algorithm.namedCurve !== undefined) out.namedCurve = `${algorithm.namedCurve}`;
    for (const m of numberMembers) {
      const v = algorithm[m];
      if (v !== undefined) {
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0) throw new TypeError(`Algorithm: ${m} must be a non-negative integer`);
        out[m] = Math.trunc(n);
      }
    }
    if (name === "RSA-PSS" && (op === "sign" || op === "verify") && out.saltLength === undefined) {
      throw new TypeError("RSA-PSS: saltLength is required"); // RsaPssParams' required member
    }
    for (const m of bufferMembers) {
      if (m === "context" && name !== "Ed448") continue; // only Ed448Params has it
      const v = algorithm[m];
      if (v !== undefined) out[m] = b64(copyBufferSource(v, `Algorithm: ${m}`));
    }
    if (name === "ECDH" || name === "X25519" || name === "X448") {
      if (op === "deriveBits" || op === "deriveKey") {
        const pub = algorithm.public;
        if (!(pub instanceof CryptoKey)) throw new TypeError("Algorithm: public must be a CryptoKey");
        if (pub.type !== "public") throw new DOMException("Algorithm: public must be a public key", "InvalidAccessError");
        out.public = handleOf(pub);
      }
    }
    return out;
  }

  function usagesOf(keyUsages) {
    if (keyUsages === null || typeof keyUsages !== "object" || typeof keyUsages[Symbol.iterator] !== "function") {
      throw new TypeError("keyUsages must be a sequence");
    }
    const out = [];
    const valid = ["encrypt", "decrypt", "sign", "verify", "deriveKey", "deriveBits", "wrapKey", "unwrapKey"];
    for (const u of keyUsages) {
      const s = `${u}`;
      if (!apply(arrayIncludes, valid, [s])) throw new TypeError(`"${s}" is not a valid KeyUsage`);
      if (!apply(arrayIncludes, out, [s])) apply(arrayPush, out, [s]);
    }
    return out;
  }

  // ---- CryptoKey ----

  let handleOf;
  const registry = new Registry((handle) => {
    try {
      host.call("crypto_free", '{"handle":' + (handle | 0) + "}");
    } catch {
      // outside an invocation: the entry stays until the next key is dropped in one
    }
  });

  class CryptoKey {
    #handle;
    #type;
    #extractable;
    #algorithm;
    #usages;

    constructor(key, d) {
      if (key !== constructKey) throw new TypeError("Illegal constructor");
      this.#handle = d.handle;
      this.#type = d.type;
      this.#extractable = d.extractable;
      const a = { name: d.algorithm.name };
      if (d.algorithm.modulusLength !== undefined) {
        a.modulusLength = d.algorithm.modulusLength;
        a.publicExponent = fromBase64(d.algorithm.publicExponent);
      }
      if (d.algorithm.hash !== undefined) a.hash = { name: d.algorithm.hash };
      if (d.algorithm.length !== undefined) a.length = d.algorithm.length;
      if (d.algorithm.namedCurve !== undefined) a.namedCurve = d.algorithm.namedCurve;
      this.#algorithm = a;
      this.#usages = objectFreeze(d.usages);
      apply(registryRegister, registry, [this, d.handle]);
    }

    static {
      handleOf = (k) => {
        if (!(#handle in k)) throw new TypeError("not a CryptoKey");
        return k.#handle;
      };
    }

    get type() {
      return this.#type;
    }
    get extractable() {
      return this.#extractable;
    }
    get algorithm() {
      return this.#algorithm;
    }
    get usages() {
      return this.#usages;
    }
  }

  function newKeys(d) {
    if (d.publicKey !== undefined) {
      return { publicKey: new CryptoKey(constructKey, d.publicKey), privateKey: new CryptoKey(constructKey, d.privateKey) };
    }
    return new CryptoKey(constructKey, d);
  }

  function requireKey(key, what = "key") {
    if (!(key instanceof CryptoKey)) throw new TypeError(`The ${what} must be a CryptoKey`);
    return handleOf(key);
  }

  // jwkOf copies the members of a JsonWebKey dictionary the host reads. An unwrapped JWK
  // (internal) holds key bytes the guest may not see: only its own members are read, so no
  // getter the guest put on Object.prototype is handed the object.
  function jwkOf(jwk, internal) {
    if (jwk === null || typeof jwk !== "object") throw new TypeError("The JWK must be an object");
    const get = internal ? (m) => own(jwk, m) : (m) => jwk[m];
    const out = { __proto__: null };
    for (const m of ["kty", "use", "alg", "crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi", "k"]) {
      const v = get(m);
      if (v !== undefined) out[m] = typeof v === "string" ? v : `${v}`;
    }
    if (get("ext") !== undefined) out.ext = !!get("ext");
    if (get("key_ops") !== undefined) out.key_ops = usagesOf(get("key_ops"));
    // JsonWebKey does not require kty; each algorithm's import then finds it missing (DataError)
    if (out.kty === undefined) throw new DOMException("The JWK needs kty", "DataError");
    return out;
  }

  const formats = ["raw", "pkcs8", "spki", "jwk"];
  function formatOf(format) {
    const f = `${format}`;
    if (!apply(arrayIncludes, formats, [f])) throw new TypeError(`"${f}" is not a valid KeyFormat`);
    return f;
  }

  // importKeyNow imports keyData; internal key data (derived bits, an unwrapped key: a
  // Uint8Array from the host, or a parsed JWK) is never handed to the guest's functions.
  function importKeyNow(format, keyData, algorithm, extractable, keyUsages, internal = false) {
    format = formatOf(format);
    const alg = normalize(algorithm, "importKey");
    let data;
    if (format === "jwk") data = jwkOf(keyData, internal);
    else data = b64(internal ? keyData : copyBufferSource(keyData, "The key data"));
    const d = jsonParse(dom(() => host.call("crypto_import", jsonStringify({ __proto__: null, format, algorithm: alg, extractable: !!extractable, usages: usagesOf(keyUsages), data }))));
    return newKeys(d);
  }

  function exportKeyNow(format, key) {
    format = formatOf(format);
    const d = jsonParse(dom(() => host.call("crypto_export", jsonStringify({ __proto__: null, handle: requireKey(key), format }))));
    return format === "jwk" ? d.jwk : bufferFromB64(d.data);
  }

  // run runs a key operation; alg is normalized (normalize(algorithm, op)).
  function run(op, alg, key, fields) {
    const handle = requireKey(key);
    return dom(() => host.bytes("crypto_run", jsonStringify({ __proto__: null, op, handle, algorithm: alg, ...fields })));
  }

  // keyLength is the length in bits deriveKey derives for a key of derivedKeyType (null:
  // the derivation's whole output, for HKDF and PBKDF2).
  function keyLength(derivedKeyType) {
    const a = normalize(derivedKeyType, "getKeyLength");
    if (a.name === "HMAC") {
      if (a.length !== undefined) return a.length;
      if (a.hash === undefined) throw new TypeError("HMAC: hash is required");
      return a.hash === "SHA-384" || a.hash === "SHA-512" ? 1024 : 512;
    }
    if (a.name === "HKDF" || a.name === "PBKDF2") return null;
    if (a.length !== 128 && a.length !== 192 && a.length !== 256) {
      throw new DOMException("AES key length must be 128, 192 or 256", "OperationError");
    }
    return a.length;
  }

  // Each method returns a promise in every case: WebIDL turns argument errors of
  // promise-returning methods into rejections (async functions do exactly that).
  class SubtleCrypto {
    constructor(key) {
      if (key !== constructKey) throw new TypeError("Illegal constructor");
    }

    async digest(algorithm, data) {
      if (arguments.length < 2) throw new TypeError(`digest requires 2 arguments, but only ${arguments.length} present.`);
      const name = normalize(algorithm, "digest").name;
      return host.bytes(`digest:${name}`, copyBufferSource(data));
    }

    async importKey(format, keyData, algorithm, extractable, keyUsages) {
      if (arguments.length < 5) throw new TypeError("importKey requires 5 arguments");
      return importKeyNow(format, keyData, algorithm, extractable, keyUsages);
    }

    async exportKey(format, key) {
      if (arguments.length < 2) throw new TypeError("exportKey requires 2 arguments");
      return exportKeyNow(format, key);
    }

    async generateKey(algorithm, extractable, keyUsages) {
      if (arguments.length < 3) throw new TypeError("generateKey requires 3 arguments");
      const alg = normalize(algorithm, "generateKey");
      const usages = usagesOf(keyUsages);
      return newKeys(jsonParse(dom(() => host.call("crypto_generate", jsonStringify({ __proto__: null, algorithm: alg, extractable: !!extractable, usages })))));
    }

    async sign(algorithm, key, data) {
      if (arguments.length < 3) throw new TypeError("sign requires 3 arguments");
      return run("sign", normalize(algorithm, "sign"), key, { data: b64(copyBufferSource(data)) });
    }

    async verify(algorithm, key, signature, data) {
      if (arguments.length < 4) throw new TypeError("verify requires 4 arguments");
      const sig = b64(copyBufferSource(signature, "The signature"));
      const r = run("verify", normalize(algorithm, "verify"), key, { data: b64(copyBufferSource(data)), signature: sig });
      return new Uint8Array(r)[0] === 1;
    }

    async encrypt(algorithm, key, data) {
      if (arguments.length < 3) throw new TypeError("encrypt requires 3 arguments");
      return run("encrypt", normalize(algorithm, "encrypt"), key, { data: b64(copyBufferSource(data)) });
    }

    async decrypt(algorithm, key, data) {
      if (arguments.length < 3) throw new TypeError("decrypt requires 3 arguments");
      return run("decrypt", normalize(algorithm, "decrypt"), key, { data: b64(copyBufferSource(data)) });
    }

    async deriveBits(algorithm, baseKey, length = null) {
      if (arguments.length < 2) throw new TypeError("deriveBits requires 2 arguments");
      const fields = length === null || length === undefined ? {} : { length: Math.trunc(Number(length)) };
      return run("deriveBits", normalize(algorithm, "deriveBits"), baseKey, fields);
    }

    async deriveKey(algorithm, baseKey, derivedKeyType, extractable, keyUsages) {
      if (arguments.length < 5) throw new TypeError("deriveKey requires 5 arguments");
      const length = keyLength(derivedKeyType);
      const fields = length === null ? {} : { length };
      const bits = run("deriveKey", normalize(algorithm, "deriveKey"), baseKey, fields);
      return importKeyNow("raw", new U8(bits), derivedKeyType, extractable, keyUsages, true);
    }

    async wrapKey(format, key, wrappingKey, wrapAlgorithm) {
      if (arguments.length < 4) throw new TypeError("wrapKey requires 4 arguments");
      const alg = normalize(wrapAlgorithm, "wrapKey"); // NotSupportedError before any export
      requireKey(wrappingKey, "wrapping key");
      let bytes = exportKeyNow(format, key);
      bytes = format === "jwk" ? encodeUTF8(jsonStringify(bytes)) : new Uint8Array(bytes);
      return run("wrapKey", alg, wrappingKey, { data: b64(bytes) });
    }

    async unwrapKey(format, wrappedKey, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm, extractable, keyUsages) {
      if (arguments.length < 7) throw new TypeError("unwrapKey requires 7 arguments");
      format = formatOf(format);
      const bytes = new U8(run("unwrapKey", normalize(unwrapAlgorithm, "unwrapKey"), unwrappingKey, { data: b64(copyBufferSource(wrappedKey)) }));
      let data = bytes;
      if (format === "jwk") {
        try {
          data = jsonParse(decodeUTF8(bytes));
        } catch {
          throw new DOMException("The unwrapped key is not a JWK", "DataError");
        }
      }
      return importKeyNow(format, data, unwrappedKeyAlgorithm, extractable, keyUsages, true);
    }

    // timingSafeEqual is the Workers extension: a constant-time comparison of two buffers
    // of the same length (a TypeError otherwise).
    timingSafeEqual(a, b) {
      const x = copyBufferSource(a, "a");
      const y = copyBufferSource(b, "b");
      if (x.length !== y.length) throw new TypeError("timingSafeEqual: the two inputs must have the same byte length");
      const payload = new Uint8Array(4 + 2 * x.length);
      const n = x.length;
      payload[0] = n >>> 24;
      payload[1] = (n >>> 16) & 255;
      payload[2] = (n >>> 8) & 255;
      payload[3] = n & 255;
      apply(u8set, payload, [x, 4]);
      apply(u8set, payload, [y, 4 + n]);
      return new Uint8Array(host.bytes("crypto_equal", payload))[0] === 1;
    }
  }

  class Crypto {
    #subtle = new SubtleCrypto(constructKey);

    constructor(key) {
      if (key !== constructKey) throw new TypeError("Illegal constructor");
    }

    get subtle() {
      return this.#subtle;
    }

    getRandomValues(array) {
      this.#subtle; // brand check: `const { getRandomValues } = crypto` fails as in browsers
      if (!isView(array)) throw new TypeError("getRandomValues: the argument must be an integer TypedArray");
      if (!integerArrays.some((C) => array instanceof C)) {
        throw new DOMException("The provided ArrayBufferView is not an integer array type", "TypeMismatchError");
      }
      const n = array.byteLength;
      if (n > MAX_RANDOM_BYTES) {
        throw new DOMException(
          `The ArrayBufferView's byte length (${n}) exceeds the number of bytes of entropy available via this API (${MAX_RANDOM_BYTES})`,
          "QuotaExceededError",
        );
      }
      if (n > 0) new Uint8Array(array.buffer, array.byteOffset, n).set(randomBytes(n));
      return array;
    }

    randomUUID() {
      this.#subtle;
      const b = randomBytes(16);
      b[6] = (b[6] & 0x0f) | 0x40; // version 4
      b[8] = (b[8] & 0x3f) | 0x80; // variant 10
      const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
  }

  for (const C of [Crypto, SubtleCrypto, CryptoKey]) {
    Object.defineProperty(C.prototype, Symbol.toStringTag, { value: C.name, configurable: true });
    expose(C.name, C);
  }
  expose("crypto", new Crypto(constructKey));
}
