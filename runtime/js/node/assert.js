// exports: AssertionError ok equal notEqual strictEqual notStrictEqual deepEqual notDeepEqual deepStrictEqual notDeepStrictEqual throws doesNotThrow rejects doesNotReject match doesNotMatch fail ifError strict
"use strict";
// node:assert. The loose forms (equal, deepEqual) compare with ==; deepEqual is the strict
// comparison with == for primitives.
const util = require("node:util");

class AssertionError extends Error {
  constructor(options) {
    const { message, actual, expected, operator } = options || {};
    super(message !== undefined ? String(message) : `${util.inspect(actual)} ${operator} ${util.inspect(expected)}`);
    this.name = "AssertionError";
    this.code = "ERR_ASSERTION";
    this.actual = actual;
    this.expected = expected;
    this.operator = operator;
    this.generatedMessage = message === undefined;
  }
}

function fail(actual, expected, message, operator) {
  if (message instanceof Error) throw message;
  throw new AssertionError({ actual, expected, message, operator });
}

function ok(value, message) {
  if (!value) fail(value, true, message === undefined ? "The expression evaluated to a falsy value" : message, "==");
}
function assert(value, message) { ok(value, message); }

function looseDeep(a, b) {
  if (a == b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && looseDeep(a[k], b[k]));
}

// matches reports whether error e matches expected: a class, a RegExp on its message, a
// validation function, or an object whose properties e must have.
function matches(e, expected) {
  if (expected === undefined) return true;
  if (expected instanceof RegExp) return expected.test(String(e && e.message !== undefined ? e : e));
  if (typeof expected === "function") {
    if (expected.prototype !== undefined && e instanceof expected) return true;
    if (Error.isPrototypeOf(expected) || expected === Error) return false;
    return expected.call({}, e) === true;
  }
  if (typeof expected === "object" && expected !== null) {
    return Object.keys(expected).every((k) =>
      expected[k] instanceof RegExp && typeof e[k] === "string" ? expected[k].test(e[k]) : util.isDeepStrictEqual(e[k], expected[k]));
  }
  return false;
}

function throws(fn, expected, message) {
  if (typeof expected === "string") { message = expected; expected = undefined; }
  try {
    fn();
  } catch (e) {
    if (!matches(e, expected)) {
      if (typeof expected === "function" && expected.prototype !== undefined && !(e instanceof expected) && (Error.isPrototypeOf(expected) || expected === Error)) throw e;
      fail(e, expected, message === undefined ? `The error did not match the expected one: ${util.inspect(e)}` : message, "throws");
    }
    return;
  }
  fail(undefined, expected, message === undefined ? "Missing expected exception." : message, "throws");
}

function doesNotThrow(fn, expected, message) {
  try {
    fn();
  } catch (e) {
    fail(e, expected, typeof expected === "string" ? expected : message === undefined ? `Got unwanted exception: ${e && e.message}` : message, "doesNotThrow");
  }
}

async function rejects(p, expected, message) {
  if (typeof expected === "string") { message = expected; expected = undefined; }
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (!matches(e, expected)) fail(e, expected, message === undefined ? `The rejection did not match the expected one: ${util.inspect(e)}` : message, "rejects");
    return;
  }
  fail(undefined, expected, message === undefined ? "Missing expected rejection." : message, "rejects");
}

async function doesNotReject(p, expected, message) {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    fail(e, expected, typeof expected === "string" ? expected : message === undefined ? `Got unwanted rejection: ${e && e.message}` : message, "doesNotReject");
  }
}

Object.assign(assert, {
  AssertionError, ok, fail: (message) => fail(undefined, undefined, message === undefined ? "Failed" : message, "fail"),
  equal: (a, b, m) => { if (!(a == b || (a !== a && b !== b))) fail(a, b, m, "=="); },
  notEqual: (a, b, m) => { if (a == b || (a !== a && b !== b)) fail(a, b, m, "!="); },
  strictEqual: (a, b, m) => { if (!Object.is(a, b)) fail(a, b, m === undefined ? `Expected values to be strictly equal:\n\n${util.inspect(a)} !== ${util.inspect(b)}\n` : m, "strictEqual"); },
  notStrictEqual: (a, b, m) => { if (Object.is(a, b)) fail(a, b, m === undefined ? `Expected "actual" to be strictly unequal to: ${util.inspect(b)}` : m, "notStrictEqual"); },
  deepEqual: (a, b, m) => { if (!looseDeep(a, b)) fail(a, b, m, "deepEqual"); },
  notDeepEqual: (a, b, m) => { if (looseDeep(a, b)) fail(a, b, m, "notDeepEqual"); },
  deepStrictEqual: (a, b, m) => { if (!util.isDeepStrictEqual(a, b)) fail(a, b, m === undefined ? `Expected values to be strictly deep-equal:\n${util.inspect(a)}\n\nshould equal\n\n${util.inspect(b)}` : m, "deepStrictEqual"); },
  notDeepStrictEqual: (a, b, m) => { if (util.isDeepStrictEqual(a, b)) fail(a, b, m, "notDeepStrictEqual"); },
  throws, doesNotThrow, rejects, doesNotReject,
  match: (s, re, m) => { if (typeof s !== "string" || !re.test(s)) fail(s, re, m === undefined ? `The input did not match the regular expression ${re}. Input: ${util.inspect(s)}` : m, "match"); },
  doesNotMatch: (s, re, m) => { if (typeof s !== "string" || re.test(s)) fail(s, re, m, "doesNotMatch"); },
  ifError: (v) => { if (v !== null && v !== undefined) { if (v instanceof Error) throw v; fail(v, null, `ifError got unwanted exception: ${util.inspect(v)}`, "ifError"); } },
});
assert.strict = Object.assign((v, m) => ok(v, m), assert, {
  equal: assert.strictEqual, notEqual: assert.notStrictEqual, deepEqual: assert.deepStrictEqual, notDeepEqual: assert.notDeepStrictEqual,
});
assert.strict.strict = assert.strict;
module.exports = assert;
