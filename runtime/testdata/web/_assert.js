// _assert.js: the assertion helper the runtime/testdata/web tests receive. Each test file
// evaluates to an async function taking this object; the first failed assertion throws an
// AssertionError (so the test's promise rejects with its message), and `count` tells how
// many assertions ran.
(() => {
  class AssertionError extends Error {
    constructor(message) {
      super(message);
      this.name = "AssertionError";
    }
  }

  // show renders a value for failure messages; JSON cannot show everything, so fall back.
  function show(v) {
    if (typeof v === "string") return JSON.stringify(v);
    if (typeof v === "bigint") return `${v}n`;
    if (typeof v === "number" && Object.is(v, -0)) return "-0";
    if (typeof v === "function") return `[function ${v.name}]`;
    try {
      const s = JSON.stringify(v, (k, x) => (typeof x === "bigint" ? `${x}n` : x));
      return s === undefined ? String(v) : s;
    } catch {
      return Object.prototype.toString.call(v);
    }
  }

  function fail(msg, detail) {
    throw new AssertionError(msg ? `${msg}: ${detail}` : detail);
  }

  const same = (a, b) => a === b || (a !== a && b !== b);

  // deepEqualValues compares structurally: same prototype, same own enumerable keys, and
  // for built-ins their contents (Map, Set, Date, RegExp, ArrayBuffer and views).
  function deepEqualValues(a, b, seen = new Map()) {
    if (same(a, b)) return true;
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    if (seen.get(a) === b) return true;
    seen.set(a, b);
    if (a instanceof Date) return same(a.getTime(), b.getTime());
    if (a instanceof RegExp) return String(a) === String(b);
    if (a instanceof ArrayBuffer) return deepEqualValues(new Uint8Array(a), new Uint8Array(b), seen);
    if (a instanceof DataView) {
      return deepEqualValues(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), new Uint8Array(b.buffer, b.byteOffset, b.byteLength), seen);
    }
    if (ArrayBuffer.isView(a)) {
      if (a.length !== b.length) return false;
      for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
      return true;
    }
    if (a instanceof Map) {
      if (a.size !== b.size) return false;
      for (const [k, v] of a) if (!b.has(k) || !deepEqualValues(v, b.get(k), seen)) return false;
      return true;
    }
    if (a instanceof Set) {
      if (a.size !== b.size) return false;
      for (const v of a) if (!b.has(v)) return false;
      return true;
    }
    if (a instanceof Error && (a.message !== b.message || a.name !== b.name)) return false;
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    for (const k of ka) {
      if (!Object.prototype.hasOwnProperty.call(b, k) || !deepEqualValues(a[k], b[k], seen)) return false;
    }
    return true;
  }

  // matches checks a thrown value against a constructor (instanceof) or a name string
  // (error.name, e.g. "TypeError" or a DOMException name such as "DataCloneError").
  function matches(err, ctorOrName) {
    if (ctorOrName === undefined) return true;
    if (typeof ctorOrName === "string") return err != null && err.name === ctorOrName;
    return err instanceof ctorOrName;
  }

  function expected(ctorOrName) {
    return typeof ctorOrName === "string" ? ctorOrName : (ctorOrName && ctorOrName.name) || "an error";
  }

  const assert = {
    count: 0,
    AssertionError,
    ok(cond, msg) {
      assert.count++;
      if (!cond) fail(msg, `expected a truthy value, got ${show(cond)}`);
    },
    equal(a, b, msg) {
      assert.count++;
      if (!same(a, b)) fail(msg, `expected ${show(b)}, got ${show(a)}`);
    },
    deepEqual(a, b, msg) {
      assert.count++;
      if (!deepEqualValues(a, b)) fail(msg, `expected ${show(b)}, got ${show(a)}`);
    },
    throws(fn, ctorOrName, msg) {
      assert.count++;
      try {
        fn();
      } catch (e) {
        if (!matches(e, ctorOrName)) fail(msg, `expected ${expected(ctorOrName)} to be thrown, got ${e && e.name}: ${e && e.message}`);
        return e;
      }
      fail(msg, `expected ${expected(ctorOrName)} to be thrown, but nothing was`);
    },
    async rejects(promiseOrFn, ctorOrName, msg) {
      assert.count++;
      try {
        await (typeof promiseOrFn === "function" ? promiseOrFn() : promiseOrFn);
      } catch (e) {
        if (!matches(e, ctorOrName)) fail(msg, `expected a rejection with ${expected(ctorOrName)}, got ${e && e.name}: ${e && e.message}`);
        return e;
      }
      fail(msg, `expected a rejection with ${expected(ctorOrName)}, but it fulfilled`);
    },
  };
  globalThis.__assert = assert;
})();
