// console. A script cannot read what console sends to the host, so this file checks that
// every method exists, returns undefined and never throws, and leaves in
// globalThis.__consoleExpect the records the host must have received, in order: each is
// {level, message} or {level, pattern} (a regular expression source for messages that vary,
// such as timings and stack traces). A Go test can compare them with the captured logs.
// The expected texts are what Node's util.inspect prints, except where noted.
(async (assert) => {
  const expected = (globalThis.__consoleExpect = []);
  // check calls console[method](...args) and records what the host must receive: want is
  // the exact message, or a RegExp for messages that vary.
  const check = (method, level, want, ...args) => {
    expected.push(want instanceof RegExp ? { level, pattern: want.source } : { level, message: want });
    assert.equal(console[method](...args), undefined, `console.${method} returns undefined`);
  };
  const log = (want, ...args) => check("log", "log", want, ...args);

  const methods = ["log", "info", "warn", "error", "debug", "trace", "dir", "dirxml", "table", "assert", "count", "countReset"];
  for (const name of [...methods, "time", "timeLog", "timeEnd", "group", "groupCollapsed", "groupEnd", "clear"]) {
    assert.equal(typeof console[name], "function", `console.${name}`);
  }
  assert.equal(Object.prototype.toString.call(console), "[object console]");

  // levels and plain values
  log("hello world 1 true", "hello", "world", 1, true);
  check("info", "info", "info message", "info message");
  check("warn", "warn", "careful", "careful");
  check("error", "error", "broken", "broken");
  check("debug", "debug", "details", "details");
  log("");
  log("null undefined -0 10n Symbol(s) NaN", null, undefined, -0, 10n, Symbol("s"), NaN);
  log("'quoted' at the top level", "'quoted' at the top level");
  log("[ 'nested', \"it's\", 'a\\nb' ]", ["nested", "it's", "a\nb"]);

  // objects
  log("{ a: 1, b: 'two', c: [ 1, 2 ], d: { e: null } }", { a: 1, b: "two", c: [1, 2], d: { e: null } });
  log("{ 'needs-quotes': 1, [Symbol(k)]: 2 }", { "needs-quotes": 1, [Symbol("k")]: 2 });
  log("{ a: { b: { c: [Object] } } } { a: { b: { c: {} } } }", { a: { b: { c: { d: 1 } } } }, { a: { b: { c: {} } } });
  log("[ [ 1, [ 2, [Array] ] ] ]", [[1, [2, [3]]]]);
  log("[] {} [ <2 empty items>, 3 ]", [], {}, [, , 3]);
  log("[Object: null prototype] { x: 1 }", Object.assign(Object.create(null), { x: 1 }));
  class Point {
    constructor() {
      this.x = 1;
      this.y = 2;
    }
  }
  log("Point { x: 1, y: 2 } Point {}", new Point(), Object.create(Point.prototype));
  const circular = { name: "c" };
  circular.self = circular;
  log("{ name: 'c', self: [Circular] }", circular); // Node: <ref *1> { name: 'c', self: [Circular *1] }
  log("Map(2) { 'a' => 1, { k: 1 } => [ 2 ] } Set(2) { 1, 'x' }", new Map([["a", 1], [{ k: 1 }, [2]]]), new Set([1, "x"]));
  log("Map(0) {} Set(0) {}", new Map(), new Set());
  log("1970-01-01T00:00:00.000Z Invalid Date /ab+c/gi", new Date(0), new Date(NaN), /ab+c/gi);
  log(
    "[Function: named] [Function (anonymous)] [class Point] [AsyncFunction: af]",
    function named() {},
    (() => () => {})(),
    Point,
    async function af() {},
  );
  log("Uint8Array(3) [ 1, 2, 3 ] ArrayBuffer { [Uint8Contents]: <00 ff>, byteLength: 2 }", new Uint8Array([1, 2, 3]), new Uint8Array([0, 255]).buffer);
  log("[Number: 3] [String: 'ab'] [Boolean: false]", new Number(3), new String("ab"), new Boolean(false));
  log("{ g: [Getter], s: [Setter], gs: [Getter/Setter] }", {
    get g() {
      throw new Error("getters are not called");
    },
    set s(v) {},
    get gs() {
      return 1;
    },
    set gs(v) {},
  });
  const stackless = new TypeError("no stack here");
  stackless.stack = "";
  log("[TypeError: no stack here]", stackless);
  log("{ err: [RangeError: inner] }", { err: Object.assign(new RangeError("inner"), { stack: "" }) });
  log("[\n   0,  1,  2,  3,  4,  5,  6,  7,\n   8,  9, 10, 11, 12, 13, 14, 15,\n  16, 17, 18, 19, 20, 21, 22, 23,\n  24, 25, 26\n]", Array.from({ length: 27 }, (_, i) => i));
  log(`[\n${"  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n".repeat(8)}  0, 0, 0, 0,\n  ... 50 more items\n]`, new Array(150).fill(0));
  const wide = {};
  for (let i = 0; i < 8; i++) wide[`key${i}`] = `value number ${i}`;
  log(`{\n${Object.entries(wide).map(([k, v]) => `  ${k}: '${v}'`).join(",\n")}\n}`, wide);

  // platform objects show their state (Node's own formats for these differ)
  log("Headers { 'content-type': 'text/plain', 'x-a': '1' }", new Headers({ "X-A": "1", "Content-Type": "text/plain" }));
  log("AbortSignal { aborted: false }", new AbortController().signal);
  log("Blob { size: 3, type: 'text/plain' }", new Blob(["abc"], { type: "text/plain" }));

  // format specifiers
  log("Bob is 42 years", "%s is %d years", "Bob", 42);
  log('int 42, float 1.5, json {"a":[1]}', "int %i, float %f, json %j", 42.9, "1.5", { a: [1] });
  log("obj { a: 1 } and [ 1 ]", "obj %o and %O", { a: 1 }, [1]);
  log("styled text", "%cstyled text", "color: red");
  log("100% sure % extra", "100%% sure %", "extra");
  log("missing %s", "missing %s");
  log("50%% done", "50%% done");
  log("a b c", "a", "b", "c");
  log("NaN", "%d", Symbol("s"));
  log("custom toString", "%s", { toString: () => "custom toString" });
  log("[Circular] x", "%j x", circular);

  // never throws (Node shows a revoked proxy as <Revoked Proxy> and a proxy's target as is)
  const revocable = Proxy.revocable({}, {});
  revocable.revoke();
  log("[Uninspectable]", revocable.proxy);
  log(
    "[Uninspectable]",
    new Proxy(
      {},
      {
        ownKeys() {
          throw new Error("trap");
        },
      },
    ),
  );
  log("{ p: [Uninspectable] }", { p: revocable.proxy });

  // assert, count, group, dir, table
  check("assert", "error", "Assertion failed: math is broken 1", false, "math is broken", 1);
  check("assert", "error", "Assertion failed", false);
  check("assert", "error", "Assertion failed { code: 1 }", 0, { code: 1 });
  assert.equal(console.assert(true, "not logged"), undefined);
  check("count", "log", "default: 1");
  check("count", "log", "default: 2");
  check("count", "log", "other: 1", "other");
  assert.equal(console.countReset(), undefined);
  check("count", "log", "default: 1");
  check("countReset", "warn", "Count for 'nope' does not exist", "nope"); // Node: a process warning
  check("group", "log", "Group title", "Group title");
  log("  inside\n  two lines", "inside\ntwo lines");
  assert.equal(console.groupEnd(), undefined);
  assert.equal(console.groupEnd(), undefined, "an extra groupEnd is harmless");
  log("outside", "outside");
  check("dir", "log", "'a string'", "a string");
  check("dir", "log", "{ a: { b: [Object] } }", { a: { b: { c: 1 } } }, { depth: 1 });
  check(
    "table",
    "log",
    "┌─────────┬───┬─────┐\n│ (index) │ a │ b   │\n├─────────┼───┼─────┤\n│ 0       │ 1 │ 'x' │\n│ 1       │ 2 │     │\n└─────────┴───┴─────┘",
    [{ a: 1, b: "x" }, { a: 2 }],
  );
  check("table", "log", "primitive", "primitive");

  // time
  assert.equal(console.time("t"), undefined);
  check("timeLog", "log", /^t: \d+(\.\d+)?m?s extra$/, "t", "extra");
  check("timeEnd", "log", /^t: \d+(\.\d+)?m?s$/, "t");
  check("timeEnd", "warn", "Warning: No such label 't' for console.timeEnd()", "t"); // Node: a process warning
  assert.equal(console.time(), undefined);
  check("time", "warn", "Warning: Label 'default' already exists for console.time()");
  check("timeEnd", "log", /^default: /);

  // trace and errors with stacks
  check("trace", "debug", /^Trace: where am I\n\s+at /, "where am I");
  check("error", "error", /^Error: with stack\n\s+at /, new Error("with stack"));

  // limits: at most 64 KiB of UTF-8 per message; huge or deep values stay bounded
  log(/^é+… \[message truncated to 64 KiB\]$/, "é".repeat(40000));
  const deep = [];
  let cursor = deep;
  for (let i = 0; i < 10000; i++) cursor = cursor[0] = [];
  log("[ [ [ [Array] ] ] ]", deep);
  const manyKeys = {};
  for (let i = 0; i < 50000; i++) manyKeys["k" + i] = i;
  log(/^\{\n {2}k0: 0,\n {2}k1: 1,/, manyKeys);

  // unbound methods work, as in browsers
  const { log: unboundLog } = console;
  expected.push({ level: "log", message: "unbound" });
  unboundLog("unbound");
})
