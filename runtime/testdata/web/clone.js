// structuredClone.
(async (assert) => {
  const sc = structuredClone;

  // primitives
  for (const v of [1, -0, NaN, "s", true, null, undefined, 10n, Infinity]) {
    assert.ok(Object.is(sc(v), v), `primitive ${String(v)}`);
  }
  assert.throws(() => sc(), TypeError, "an argument is required");

  // plain objects and arrays are deep copies
  const src = { a: 1, nested: { b: [1, 2, { c: "x" }] }, list: [1, , 3] };
  const copy = sc(src);
  assert.deepEqual(copy, src);
  assert.ok(copy !== src && copy.nested !== src.nested && copy.nested.b !== src.nested.b, "deep copy");
  assert.equal(copy.list.length, 3);
  assert.ok(!(1 in copy.list), "holes stay holes");
  const arr = [1, 2];
  arr.extra = "kept";
  assert.equal(sc(arr).extra, "kept", "non-index array properties are cloned");

  // prototypes, non-enumerable and symbol keys are dropped; getters are read
  class Point {
    constructor() {
      this.x = 1;
    }
    get double() {
      return this.x * 2;
    }
  }
  const p = sc(new Point());
  assert.equal(Object.getPrototypeOf(p), Object.prototype, "class instances become plain objects");
  assert.deepEqual(p, { x: 1 });
  const withHidden = { shown: 1, [Symbol("s")]: 2 };
  Object.defineProperty(withHidden, "hidden", { value: 3, enumerable: false });
  Object.defineProperty(withHidden, "computed", { get: () => 4, enumerable: true });
  assert.deepEqual(sc(withHidden), { shown: 1, computed: 4 });
  const protoKey = JSON.parse('{"__proto__": {"polluted": true}}');
  const pc = sc(protoKey);
  assert.equal(Object.getPrototypeOf(pc), Object.prototype, "__proto__ key does not change the prototype");
  assert.ok(Object.prototype.hasOwnProperty.call(pc, "__proto__"), "__proto__ stays an own key");
  assert.equal(Object.getPrototypeOf(sc(Object.create(null))), Object.prototype);

  // cycles and shared references
  const cyc = { name: "root" };
  cyc.self = cyc;
  cyc.list = [cyc];
  const cc = sc(cyc);
  assert.ok(cc.self === cc && cc.list[0] === cc, "cycles are preserved");
  const shared = { v: 1 };
  const two = sc({ a: shared, b: shared });
  assert.ok(two.a === two.b && two.a !== shared, "shared references stay shared");

  // built-in types
  const d = new Date(1700000000000);
  const dc = sc(d);
  assert.ok(dc instanceof Date && dc !== d && dc.getTime() === d.getTime(), "Date");
  assert.ok(Number.isNaN(sc(new Date(NaN)).getTime()), "invalid Date");
  const re = /ab+c/gi;
  re.lastIndex = 3;
  const rc = sc(re);
  assert.ok(rc instanceof RegExp && rc.source === "ab+c" && rc.flags === "gi", "RegExp");
  assert.equal(rc.lastIndex, 0, "lastIndex is not cloned");
  const m = new Map([[{ k: 1 }, new Set([1, 2])], ["s", "v"]]);
  const mc = sc(m);
  assert.ok(mc instanceof Map && mc.size === 2 && mc.get("s") === "v", "Map");
  const [mk, mv] = [...mc][0];
  assert.deepEqual(mk, { k: 1 });
  assert.ok(mv instanceof Set && mv.has(2), "Set inside Map");
  const selfMap = new Map();
  selfMap.set("me", selfMap);
  const smc = sc(selfMap);
  assert.equal(smc.get("me"), smc, "Map cycle");
  for (const boxed of [new Number(3), new String("s"), new Boolean(false), Object(5n)]) {
    const b = sc(boxed);
    assert.ok(typeof b === "object" && b !== boxed && Object.is(b.valueOf(), boxed.valueOf()), `boxed ${typeof boxed.valueOf()}`);
  }

  // binary data
  const buf = new Uint8Array([1, 2, 3, 4]).buffer;
  const bc = sc(buf);
  assert.ok(bc instanceof ArrayBuffer && bc !== buf, "ArrayBuffer copy");
  assert.deepEqual(new Uint8Array(bc), new Uint8Array([1, 2, 3, 4]));
  const u16 = new Uint16Array([1, 65535, 3]);
  const u16c = sc(u16);
  assert.ok(u16c instanceof Uint16Array && u16c[1] === 65535 && u16c.buffer !== u16.buffer, "typed array");
  const view = new Uint8Array(buf, 1, 2);
  const vc = sc(view);
  assert.equal(vc.byteOffset, 1);
  assert.equal(vc.length, 2);
  assert.equal(vc.buffer.byteLength, 4, "the whole buffer is cloned with the view");
  const dv = sc(new DataView(buf, 2));
  assert.ok(dv instanceof DataView && dv.byteOffset === 2 && dv.getUint8(0) === 3, "DataView");
  const pair = sc({ a: new Uint8Array(buf), b: new Int8Array(buf) });
  assert.equal(pair.a.buffer, pair.b.buffer, "views of one buffer share the cloned buffer");
  assert.equal(sc(new BigInt64Array([5n]))[0], 5n);
  assert.equal(sc(new Float64Array([1.5]))[0], 1.5);
  const resizable = new ArrayBuffer(2, { maxByteLength: 8 });
  const rsc = sc(resizable);
  assert.ok(rsc.resizable && rsc.maxByteLength === 8, "resizable buffers stay resizable");

  // errors
  const err = new RangeError("out of range");
  const ec = sc(err);
  assert.ok(ec instanceof RangeError && ec !== err, "RangeError keeps its type");
  assert.equal(ec.message, "out of range");
  assert.equal(ec.name, "RangeError");
  class MyError extends Error {}
  assert.equal(Object.getPrototypeOf(sc(new MyError("m"))), Error.prototype, "custom errors become Error");
  const withCause = sc(new Error("outer", { cause: { code: 7 } }));
  assert.deepEqual(withCause.cause, { code: 7 }, "cause is cloned");
  const de = sc(new DOMException("stop", "AbortError"));
  assert.ok(de instanceof DOMException && de.name === "AbortError" && de.message === "stop", "DOMException");

  // not cloneable
  assert.throws(() => sc(() => {}), "DataCloneError", "functions");
  assert.throws(() => sc({ f() {} }), "DataCloneError", "nested functions");
  assert.throws(() => sc(Symbol("s")), "DataCloneError", "symbols");
  assert.throws(() => sc({ s: Symbol("s") }), "DataCloneError");
  assert.throws(() => sc(new WeakMap()), "DataCloneError", "WeakMap");
  assert.throws(() => sc(new WeakSet()), "DataCloneError", "WeakSet");
  assert.throws(() => sc(Promise.resolve()), "DataCloneError", "Promise");
  assert.throws(() => sc(new WeakRef({})), "DataCloneError", "WeakRef");
  assert.throws(() => sc(Object(Symbol("x"))), "DataCloneError", "Symbol object");
  assert.throws(() => sc(new EventTarget()), "DataCloneError", "platform objects");
  assert.throws(() => sc(new AbortController()), "DataCloneError");
  const thrown = assert.throws(() => sc(() => {}), DOMException);
  assert.equal(thrown.code, 25, "DataCloneError code");
  assert.throws(() => sc({ get bad() { throw new SyntaxError("getter"); } }), SyntaxError, "getter errors propagate");

  // transfer
  const t = new Uint8Array([9, 8, 7]).buffer;
  const moved = sc({ data: t }, { transfer: [t] });
  assert.equal(t.byteLength, 0, "a transferred buffer is detached");
  assert.ok(t.detached, "detached");
  assert.deepEqual(new Uint8Array(moved.data), new Uint8Array([9, 8, 7]), "the clone owns the data");
  const alone = new ArrayBuffer(4);
  sc(1, { transfer: [alone] });
  assert.equal(alone.byteLength, 0, "transfer-only buffers are detached too");
  assert.throws(() => sc(t), "DataCloneError", "detached buffers cannot be cloned");
  assert.throws(() => sc(1, { transfer: [t] }), "DataCloneError", "or transferred");
  const dup = new ArrayBuffer(1);
  assert.throws(() => sc(1, { transfer: [dup, dup] }), "DataCloneError", "duplicates");
  assert.throws(() => sc(1, { transfer: [{}] }), "DataCloneError", "non-transferable");
  assert.throws(() => sc(1, { transfer: 5 }), TypeError, "transfer must be iterable");
  assert.throws(() => sc(1, 5), TypeError, "options must be an object");
  assert.equal(sc(1, { transfer: [] }), 1);
})
