// testharness.js, as far as the web-platform-tests' .any.js files of streams/, urlpattern/
// and WebCryptoAPI/ use it, written for isobox from the harness's documented API (not its
// source): test, promise_test, async_test, the assert_* family, promise_rejects_*, Test's
// step helpers and cleanups. Tests run one after another, like testharness.js runs
// promise tests; __wptRun() runs them and answers {name, status, message} per test.
(() => {
  const tests = [];
  let explicitDone = false;

  class AssertionError extends Error {
    constructor(message) {
      super(message);
      this.name = "AssertionError";
    }
  }
  class SkipTest extends Error {}

  const fmt = (v) => {
    try {
      if (typeof v === "string") return JSON.stringify(v);
      if (typeof v === "symbol" || typeof v === "bigint") return String(v);
      if (Object.is(v, -0)) return "-0";
      if (typeof v === "function") return `function "${v.name}"`;
      if (v !== null && typeof v === "object") return Object.prototype.toString.call(v);
      return String(v);
    } catch {
      return "?";
    }
  };
  const fail = (message, description) => {
    throw new AssertionError((description ? description + ": " : "") + message);
  };
  const sameValue = (a, b) => Object.is(a, b);

  const A = {
    assert_true: (v, d) => v === true || fail(`expected true got ${fmt(v)}`, d),
    assert_false: (v, d) => v === false || fail(`expected false got ${fmt(v)}`, d),
    assert_equals: (a, e, d) => sameValue(a, e) || fail(`expected ${fmt(e)} but got ${fmt(a)}`, d),
    assert_not_equals: (a, e, d) => !sameValue(a, e) || fail(`got disallowed value ${fmt(a)}`, d),
    assert_in_array: (a, arr, d) => arr.includes(a) || fail(`value ${fmt(a)} not in array`, d),
    assert_array_equals(a, e, d) {
      if (typeof a !== "object" || a === null || !("length" in a)) fail(`value is ${fmt(a)}, expected array`, d);
      if (a.length !== e.length) fail(`lengths differ, expected ${e.length} got ${a.length}`, d);
      for (let i = 0; i < e.length; i++) {
        if (Object.hasOwn(a, i) !== Object.hasOwn(e, i)) fail(`property ${i} present in one only`, d);
        if (!sameValue(a[i], e[i])) fail(`expected ${fmt(e[i])} but got ${fmt(a[i])} at index ${i}`, d);
      }
      return true;
    },
    assert_object_equals(a, e, d) {
      const seen = new Set();
      const eq = (x, y, path) => {
        if (typeof y !== "object" || y === null) {
          if (!sameValue(x, y)) fail(`property ${path} expected ${fmt(y)} got ${fmt(x)}`, d);
          return;
        }
        if (seen.has(y)) return;
        seen.add(y);
        if (typeof x !== "object" || x === null) fail(`property ${path} expected object got ${fmt(x)}`, d);
        for (const k of Object.keys(x)) if (!Object.hasOwn(y, k)) fail(`unexpected property ${path}.${k}`, d);
        for (const k of Object.keys(y)) {
          if (!Object.hasOwn(x, k)) fail(`expected property ${path}.${k} missing`, d);
          eq(x[k], y[k], `${path}.${k}`);
        }
      };
      eq(a, e, "");
      return true;
    },
    assert_less_than: (a, e, d) => a < e || fail(`expected a number less than ${e} but got ${a}`, d),
    assert_greater_than: (a, e, d) => a > e || fail(`expected a number greater than ${e} but got ${a}`, d),
    assert_less_than_equal: (a, e, d) => a <= e || fail(`expected a number <= ${e} but got ${a}`, d),
    assert_greater_than_equal: (a, e, d) => a >= e || fail(`expected a number >= ${e} but got ${a}`, d),
    assert_approx_equals: (a, e, eps, d) => Math.abs(a - e) <= eps || fail(`expected ${e} +/- ${eps} but got ${a}`, d),
    assert_own_property: (o, p, d) => Object.hasOwn(o, p) || fail(`expected property ${fmt(p)} missing`, d),
    assert_not_own_property: (o, p, d) => !Object.hasOwn(o, p) || fail(`unexpected property ${fmt(p)} is found`, d),
    assert_inherits(o, p, d) {
      if (Object.hasOwn(o, p)) fail(`property ${fmt(p)} found on the object, expected in its prototype chain`, d);
      if (!(p in o)) fail(`property ${fmt(p)} not found in the prototype chain`, d);
      return true;
    },
    assert_class_string: (o, c, d) => {
      const s = Object.prototype.toString.call(o);
      return s === `[object ${c}]` || fail(`expected "[object ${c}]" but got ${fmt(s)}`, d);
    },
    assert_regexp_match: (a, re, d) => re.test(a) || fail(`expected ${fmt(a)} to match ${re}`, d),
    assert_unreached: (d) => fail("reached unreachable code", d),
    assert_implements: (c, d) => c || fail(`not implemented`, d),
    assert_implements_optional(c, d) {
      if (!c) throw new SkipTest(d || "optional feature not implemented");
      return true;
    },
    assert_throws_js(C, fn, d) {
      try {
        fn();
      } catch (e) {
        if (typeof e !== "object" || e === null) fail(`threw ${fmt(e)}, not an object`, d);
        if (Object.getPrototypeOf(e) !== C.prototype) fail(`threw ${e && e.name} (${e && e.message}), expected ${C.name}`, d);
        return true;
      }
      fail(`function ${fmt(fn)} did not throw`, d);
    },
    assert_throws_exactly(v, fn, d) {
      try {
        fn();
      } catch (e) {
        if (!sameValue(e, v)) fail(`threw ${fmt(e)}, expected ${fmt(v)}`, d);
        return true;
      }
      fail(`function did not throw`, d);
    },
    assert_throws_dom(name, fn, d) {
      try {
        fn();
      } catch (e) {
        const want = typeof name === "number" ? undefined : name;
        if (!(e instanceof DOMException) || (want !== undefined && e.name !== want)) fail(`threw ${e && e.name}, expected DOMException ${name}`, d);
        return true;
      }
      fail(`function did not throw`, d);
    },
    // a QuotaExceededError (a DOMException of that name) whose requested and quota are the
    // given ones (null: not checked)
    assert_throws_quotaexceedederror(fn, requested, quota, d) {
      try {
        fn();
      } catch (e) {
        if (!(e instanceof DOMException) || e.name !== "QuotaExceededError") fail(`threw ${e && e.name}, expected QuotaExceededError`, d);
        if (requested !== null && e.requested !== requested) fail(`requested is ${fmt(e.requested)}, expected ${fmt(requested)}`, d);
        if (quota !== null && e.quota !== quota) fail(`quota is ${fmt(e.quota)}, expected ${fmt(quota)}`, d);
        return true;
      }
      fail(`function did not throw`, d);
    },
  };
  const rejectsWith = (check) => (t, expected, p, d) =>
    Promise.resolve(p).then(
      () => fail("should have rejected", d),
      (e) => check(expected, () => {
        throw e;
      }, d),
    );
  A.promise_rejects_js = rejectsWith(A.assert_throws_js);
  A.promise_rejects_exactly = rejectsWith(A.assert_throws_exactly);
  A.promise_rejects_dom = rejectsWith(A.assert_throws_dom);
  Object.assign(globalThis, A);
  globalThis.AssertionError = AssertionError;

  class Test {
    constructor(name) {
      this.name = name;
      this.cleanups = [];
      this.settle = Promise.withResolvers();
      this.settle.promise.catch(() => {});
      this.finished = false;
    }
    step(fn, self, ...args) {
      if (this.finished) return undefined;
      try {
        return fn.apply(self === undefined ? this : self, args);
      } catch (e) {
        this.fail(e);
        throw e;
      }
    }
    step_func(fn, self) {
      return (...args) => this.step(fn, self, ...args);
    }
    step_func_done(fn, self) {
      return (...args) => {
        if (fn) this.step(fn, self, ...args);
        this.done();
      };
    }
    unreached_func(d) {
      return this.step_func(() => A.assert_unreached(d));
    }
    step_timeout(fn, ms, ...args) {
      return setTimeout(this.step_func(() => fn(...args)), ms);
    }
    add_cleanup(fn) {
      this.cleanups.push(fn);
    }
    done() {
      if (!this.finished) {
        this.finished = true;
        this.settle.resolve();
      }
    }
    fail(e) {
      if (!this.finished) {
        this.finished = true;
        this.settle.reject(e);
      }
    }
  }

  const add = (kind, fn, name) => tests.push({ kind, fn, name: name === undefined ? `test ${tests.length + 1}` : String(name) });
  globalThis.test = (fn, name) => add("sync", fn, name);
  globalThis.promise_test = (fn, name) => add("promise", fn, name);
  globalThis.async_test = (fn, name) => {
    if (typeof fn !== "function") throw new Error("async_test without a function is not supported by this harness");
    add("async", fn, name);
  };
  globalThis.setup = (o) => {
    if (o && o.explicit_done) explicitDone = true;
  };
  globalThis.done = () => {};
  globalThis.step_timeout = (fn, ms, ...args) => setTimeout(() => fn(...args), ms);
  // common/subset-tests.js reads the page's query (none: every subtest runs).
  if (typeof globalThis.location === "undefined") globalThis.location = { search: "", hash: "", href: "https://wpt.test/" };
  globalThis.GLOBAL = { isWindow: () => false, isWorker: () => true, isShadowRealm: () => false };
  globalThis.format_value = fmt;
  // fetch_json answers the resources the Go side read beside the test file
  // (globalThis.__wptResources, by the path the test names).
  // fetch of such a resource answers it as a Response (urlpattern's data files); any other
  // fetch goes to the real one.
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const r = typeof input === "string" && globalThis.__wptResources ? globalThis.__wptResources[input] : undefined;
    return r === undefined ? realFetch(input, init) : Promise.resolve(new Response(r, { headers: { "content-type": "application/json" } }));
  };
  globalThis.fetch_json = (path) => {
    const r = globalThis.__wptResources && globalThis.__wptResources[path];
    return r === undefined ? Promise.reject(new Error(`resource ${path} was not provided`)) : Promise.resolve(JSON.parse(r));
  };

  const TIMEOUT_MS = 10000;
  globalThis.__wptRun = async () => {
    const results = [];
    for (const { kind, fn, name } of tests) {
      const t = new Test(name);
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), TIMEOUT_MS);
      });
      try {
        const run = (async () => {
          if (kind === "sync") {
            t.step(fn, t, t);
            return;
          }
          if (kind === "promise") {
            await Promise.race([Promise.resolve(t.step(fn, t, t)), t.settle.promise.then(() => new Promise(() => {}))]);
            return;
          }
          t.step(fn, t, t);
          await t.settle.promise;
        })();
        await Promise.race([run, timeout]);
        results.push({ name, status: "PASS" });
      } catch (e) {
        const status = e instanceof SkipTest ? "PRECONDITION_FAILED" : e && e.message === "timeout" ? "TIMEOUT" : "FAIL";
        results.push({ name, status, message: `${e && e.name}: ${e && e.message}` });
      } finally {
        clearTimeout(timer);
        t.finished = true;
        for (const c of t.cleanups) {
          try {
            await c();
          } catch {}
        }
      }
    }
    return { results, explicitDone };
  };
})();
