// 47_wasm.js: the WebAssembly global (the WebAssembly JavaScript Interface). A Module is a
// handle to a module compiled in the host and an Instance a handle to a wazero instance the
// sandbox owns (engine/wasmjs.go); both are given back when the guest drops them
// (FinalizationRegistry) or the sandbox closes. Calls into an instance run under the
// invocation's CPU and wall-time limits, its memory counts against the sandbox's.
//
// An exported memory's `buffer` is a copy kept in step around calls (copy-in/copy-out):
// once the guest has read `buffer`, every call into that instance first writes the buffer's
// bytes into the instance's memory and afterwards gets back the runs the call changed, into
// the same buffer (a new one, the old one detached, when the memory grew); an import sees
// the buffer brought up to date and gives its writes back. So JavaScript writes are seen by
// the next call and wasm writes after the call returns, as in a browser, at the cost of a
// copy and a compare of the whole memory per call. Imported functions are JavaScript functions the
// host calls back re-entrantly ("wasm_import" messages, importCall below). A global import
// is a number, a BigInt or a WebAssembly.Global (a mutable one is shared with the instance:
// globalLink); a WebAssembly.Memory made here becomes its importing instance's, and a second
// instance importing it shares it; a Table made here moves into the host when an instance
// imports it (tableLink). funcref values are wasm functions by handle (funcOf): the same
// function is the same object. Tags are a CompileError (no exception handling).
const wasmInternal = (() => {
  const expose = (o, name, value) =>
    Object.defineProperty(o, name, { value, writable: true, configurable: true, enumerable: false });
  const PAGE = 65536;
  const illegal = Symbol("illegal constructor");
  // live holds a weak reference to each handle's holder (a Module, or an instance's shared
  // state), by handle: the import callbacks find an instance's state through it, and a
  // burst of instantiations in one synchronous run (where finalization callbacks cannot run
  // yet) gives back what it dropped before the host's limit on handles refuses the next one.
  const live = { module: new Map(), instance: new Map(), global: new Map(), table: new Map() };
  const sweepAt = { module: 32, instance: 32, global: 32, table: 32 };
  const release = (kind, handle) => {
    live[kind].delete(handle);
    try {
      host.call("wasm_release", jsonStringify({ [kind]: handle }));
    } catch {
      // outside an invocation: the sandbox gives it back when it closes
    }
  };
  const registry = new FinalizationRegistry((held) => release(held.kind, held.handle));
  const track = (kind, target, handle) => {
    registry.register(target, { kind, handle });
    const m = live[kind];
    if (m.size >= sweepAt[kind]) {
      for (const [h, ref] of m) if (ref.deref() === undefined) release(kind, h);
      sweepAt[kind] = Math.max(32, 2 * m.size); // amortised: a sweep per as many new handles as survived it
    }
    m.set(handle, new WeakRef(target));
  };

  const errorClass = (name) => {
    const C = class extends Error {
      constructor(message, options) {
        super(message, options);
      }
    };
    Object.defineProperty(C, "name", { value: name });
    expose(C.prototype, "name", name);
    return C;
  };
  const CompileError = errorClass("CompileError");
  const LinkError = errorClass("LinkError");
  const RuntimeError = errorClass("RuntimeError");
  const classes = { __proto__: null, CompileError, LinkError, RuntimeError };

  // guarded runs run (a host operation), turning the host's WebAssembly error names into the
  // WebAssembly error classes.
  const guarded = (run) => {
    try {
      return run();
    } catch (e) {
      const C = e !== null && typeof e === "object" ? classes[e.name] : undefined;
      if (C) throw new C(e.message);
      throw e;
    }
  };

  // bytesOf is a BufferSource's bytes (a view on them, not a copy).
  const bytesOf = (source, what) => {
    if (source instanceof ArrayBuffer) return new Uint8Array(source);
    if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    throw new TypeError(`${what}: argument must be a BufferSource (an ArrayBuffer or a typed array)`);
  };

  const u32 = (v, what) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > 0xffffffff) throw new TypeError(`${what} must be an integer 0..2^32-1`);
    return Math.trunc(n);
  };

  // ---- values: JavaScript <-> wasm bit patterns (ToWebAssemblyValue, ToJSValue) ----
  const scratch = new DataView(new ArrayBuffer(8));
  const typeNames = { __proto__: null, i32: "i", i64: "I", f32: "f", f64: "F", externref: "r", anyfunc: "a", funcref: "a" };
  // externref values cross as handles: wasm holds a number (0 is null) that stands for a
  // JavaScript value kept here. A value keeps its handle, and is kept, for the sandbox's
  // life (wasm may have stored it anywhere: a table, a global); at most MAX_REFS of them.
  const MAX_REFS = 1 << 20;
  const refs = [undefined]; // handle -> value
  const refIds = new Map(); // value -> handle
  const refOf = (v) => {
    if (v === null) return 0;
    let id = refIds.get(v);
    if (id === undefined) {
      if (refs.length > MAX_REFS) throw new RangeError(`WebAssembly: more than ${MAX_REFS} distinct JavaScript values passed to wasm as externref`);
      id = refs.length;
      refs.push(v);
      refIds.set(v, id);
    }
    return id;
  };
  const valueOfRef = (id) => {
    if (id === 0) return null;
    if (id >= refs.length) throw new TypeError("WebAssembly: an externref that did not come from JavaScript");
    return refs[id];
  };
  const toBits = (dv, off, t, v) => {
    switch (t) {
      case "i":
        dv.setInt32(off, +v, true);
        dv.setInt32(off + 4, 0, true);
        return;
      case "I":
        dv.setBigInt64(off, BigInt.asIntN(64, v), true);
        return;
      case "f":
        dv.setFloat32(off, +v, true);
        dv.setInt32(off + 4, 0, true);
        return;
      case "F":
        dv.setFloat64(off, +v, true);
        return;
      case "r":
        dv.setBigUint64(off, BigInt(refOf(v)), true);
        return;
      case "a":
        dv.setBigUint64(off, BigInt(funcHandleOf(v)), true);
        return;
    }
    throw new TypeError("WebAssembly: a v128 value cannot cross to or from JavaScript");
  };
  const fromBits = (dv, off, t) => {
    switch (t) {
      case "i":
        return dv.getInt32(off, true);
      case "I":
        return dv.getBigInt64(off, true);
      case "f":
        return dv.getFloat32(off, true);
      case "F":
        return dv.getFloat64(off, true);
      case "r":
        return valueOfRef(Number(dv.getBigUint64(off, true)));
      case "a":
        return funcOf(Number(dv.getBigUint64(off, true)));
    }
    throw new TypeError("WebAssembly: a v128 value cannot cross to or from JavaScript");
  };
  const decimalOf = (t, v) => {
    toBits(scratch, 0, t, v);
    return String(scratch.getBigUint64(0, true));
  };
  const valueOfDecimal = (t, s) => {
    scratch.setBigUint64(0, BigInt(s), true);
    return fromBits(scratch, 0, t);
  };

  // ---- funcref values: wasm functions by handle (engine/wasmjs_funcref.go) ----
  // funcOrigins says what a wasm function JavaScript holds is: {state, name} for an export
  // (its handle learnt when it is first given to wasm), {handle} for another function.
  // Each handle has one function object (funcByHandle), the export itself for an export,
  // so a function that goes through wasm comes back as the same object.
  const funcOrigins = new WeakMap();
  const funcByHandle = new Map();
  const isWasmFunction = (v) => typeof v === "function" && funcOrigins.has(v);
  const funcHandleOf = (v) => {
    if (v === null) return 0;
    const o = typeof v === "function" ? funcOrigins.get(v) : undefined;
    if (o === undefined) throw new TypeError("WebAssembly: a funcref must be null or an exported WebAssembly function");
    if (o.handle === undefined) {
      o.handle = Number(guarded(() => host.call("wasm_func_export", jsonStringify({ instance: o.state.handle, name: o.name }))));
      funcByHandle.set(o.handle, v);
    }
    return o.handle;
  };
  const funcOf = (h) => {
    if (h === 0) return null;
    let f = funcByHandle.get(h);
    if (f !== undefined) return f;
    const info = guarded(() => host.call("wasm_func_info", String(h)));
    const comma = info.indexOf(",");
    const ref = live.instance.get(Number(info.slice(0, comma)));
    const state = ref !== undefined ? ref.deref() : undefined;
    const name = jsonParse(info.slice(comma + 1));
    const exports = name !== "" && state !== undefined && state.exports !== undefined ? state.exports.deref() : undefined;
    if (exports !== undefined) {
      f = exports[name];
      funcOrigins.get(f).handle = h;
    } else {
      f = refFunction(h, state);
      funcOrigins.set(f, { handle: h });
    }
    funcByHandle.set(h, f);
    return f;
  };

  // ---- Module ----
  const modules = new WeakMap(); // Module -> {handle, imports, exports}
  const moduleInfo = (m, what) => {
    const info = m !== null && typeof m === "object" ? modules.get(m) : undefined;
    if (!info) throw new TypeError(`${what}: argument must be a WebAssembly.Module`);
    return info;
  };
  const adoptModule = (m, json) => {
    const info = jsonParse(json);
    // The host numbers the exported functions from 1 in export order (wasm_call's fn).
    let fn = 0;
    for (const e of info.exports) if (e.kind === "function") e.fn = ++fn;
    modules.set(m, info);
    track("module", m, info.handle);
    return m;
  };

  class Module {
    constructor(bytes) {
      if (new.target === undefined) throw new TypeError("WebAssembly.Module must be called with new");
      adoptModule(this, guarded(() => host.call("wasm_compile", bytesOf(bytes, "WebAssembly.Module"))));
    }
    static exports(m) {
      return moduleInfo(m, "WebAssembly.Module.exports").exports.map((e) => ({ name: e.name, kind: e.kind }));
    }
    static imports(m) {
      return moduleInfo(m, "WebAssembly.Module.imports").imports.map((e) => ({ module: e.module, name: e.name, kind: e.kind }));
    }
    static customSections(m, name) {
      const info = moduleInfo(m, "WebAssembly.Module.customSections");
      if (arguments.length < 2) throw new TypeError("WebAssembly.Module.customSections: a section name is required");
      const out = guarded(() => host.bytes("wasm_custom_sections", jsonStringify({ module: info.handle, name: String(name) })));
      const dv = new DataView(out);
      const sections = [];
      let off = 4;
      for (let i = dv.getUint32(0, true); i > 0; i--) {
        const n = dv.getUint32(off, true);
        sections.push(out.slice(off + 4, off + 4 + n));
        off += 4 + n;
      }
      return sections;
    }
  }
  expose(Module.prototype, Symbol.toStringTag, "WebAssembly.Module");

  // ---- Instance ----
  // state is what an instance's exports share: the host handle and the copy of its memory.
  // The instance is given back when state is no longer reachable (from the Instance, an
  // exported function or the exported Memory).
  const instances = new WeakMap(); // Instance -> exports object

  const syncIn = (state) => state.sync && state.mirror !== null && state.mirror.byteLength > 0;
  // refreshMirror takes the memory's bytes (a view) after a call: into the same buffer when
  // the size did not change, else into a new one, the old one detached.
  const refreshMirror = (state, bytes) => {
    const old = state.mirror;
    if (old !== null && old.byteLength === bytes.byteLength) {
      new Uint8Array(old).set(bytes);
      return;
    }
    if (old !== null && old.byteLength > 0) old.transfer(0);
    state.mirror = bytes.slice().buffer;
  };

  // callWasm is guarded for operations that run wasm: when a JavaScript import threw, the
  // wasm trapped and the host says so; the import's own exception goes on to the caller.
  const thrown = [];
  const callWasm = (run) => {
    try {
      return guarded(run);
    } catch (e) {
      if (e !== null && typeof e === "object" && e.name === "WasmImportThrew" && thrown.length > 0) throw thrown.pop();
      throw e;
    }
  };

  // importCall answers a "wasm_import" message: an instance called its import msg.index.
  let pendingState = null; // the state of the instance being instantiated (its start function)
  const importCall = (msg) => {
    try {
      const ref = live.instance.get(msg.instance);
      let st = ref !== undefined ? ref.deref() : undefined;
      if (st === undefined && pendingState !== null) {
        st = pendingState;
        st.handle = msg.instance;
      }
      const imp = st.imports[msg.index];
      const args = [];
      for (let i = 0; i < imp.params.length; i++) args.push(valueOfDecimal(imp.params[i], msg.args[i]));
      if (syncIn(st)) applyDiff(st, host.bytes("wasm_memory_pull", String(st.handle)), 0);
      const r = imp.fn(...args);
      const results = imp.results;
      const payload = new ArrayBuffer(1 + 8 * results.length);
      const dv = new DataView(payload);
      if (results.length === 1) toBits(dv, 1, results[0], r);
      else if (results.length > 1) {
        const vals = [...r];
        if (vals.length !== results.length) throw new TypeError(`WebAssembly: the import must return ${results.length} values`);
        for (let i = 0; i < vals.length; i++) toBits(dv, 1 + 8 * i, results[i], vals[i]);
      }
      if (syncIn(st)) host.call("wasm_memory_push", st.mirror);
      host.call("wasm_import_return", payload);
    } catch (e) {
      thrown.push(e);
      host.call("wasm_import_return", new Uint8Array([1]));
    }
  };

  const arity = [
    (call) => function () { return call(arguments); },
    (call) => function (a) { return call(arguments); },
    (call) => function (a, b) { return call(arguments); },
    (call) => function (a, b, c) { return call(arguments); },
    (call) => function (a, b, c, d) { return call(arguments); },
  ];
  const withLength = (call, n) => {
    const f = function () {
      return call(arguments);
    };
    Object.defineProperty(f, "length", { value: n });
    return f;
  };

  // applyDiff takes the copy-out of a call: the memory's size, then the runs the call
  // changed. A grown memory gets a new buffer (transfer copies and detaches the old one).
  const applyDiff = (state, out, off) => {
    const dv = new DataView(out);
    const size = dv.getUint32(off, true);
    off += 4;
    if (state.mirror === null || state.mirror.byteLength === 0) state.mirror = new ArrayBuffer(size); // the answer is all of it
    else if (state.mirror.byteLength !== size) state.mirror = state.mirror.transfer(size);
    const view = new Uint8Array(state.mirror);
    const bytes = new Uint8Array(out);
    while (off < out.byteLength) {
      const at = dv.getUint32(off, true);
      const n = dv.getUint32(off + 4, true);
      view.set(bytes.subarray(off + 8, off + 8 + n), at);
      off += 8 + n;
    }
  };

  const exportedFunction = (state, e) => {
    const params = e.params || "";
    const results = e.results || "";
    const fn = e.fn;
    const call = (args) => {
      const n = params.length;
      const sync = syncIn(state);
      const head = 16 + 8 * n;
      const payload = new ArrayBuffer(head);
      const dv = new DataView(payload);
      dv.setUint32(0, state.handle, true);
      dv.setUint32(4, fn, true);
      dv.setUint32(8, sync ? 1 : 0, true);
      dv.setUint32(12, n, true);
      for (let i = 0; i < n; i++) toBits(dv, 16 + 8 * i, params[i], args[i]);
      for (let i = 0; i < results.length; i++) if (results[i] === "v") toBits(dv, 0, results[i]);
      let out;
      try {
        if (sync) {
          // the memory goes as a payload of its own: no copy of it into a larger one
          host.call("wasm_call", payload);
          out = callWasm(() => host.bytes("wasm_call_memory", state.mirror));
        } else out = callWasm(() => host.bytes("wasm_call", payload));
      } catch (e) {
        // what the wasm wrote before it trapped stays, as in a browser
        if (state.sync) {
          try {
            refreshMirror(state, new Uint8Array(host.bytes("wasm_memory_read", String(state.handle))));
          } catch {
            // the instance was stopped by a limit: the invocation ends anyway
          }
        }
        throw e;
      }
      const ov = new DataView(out);
      const count = ov.getUint32(0, true);
      if (sync) applyDiff(state, out, 4 + 8 * count);
      else if (state.sync) refreshMirror(state, new Uint8Array(host.bytes("wasm_memory_read", String(state.handle)))); // an import read the buffer
      if (count === 0) return undefined;
      if (count === 1) return fromBits(ov, 4, results[0]);
      const vals = [];
      for (let i = 0; i < count; i++) vals.push(fromBits(ov, 4 + 8 * i, results[i]));
      return vals;
    };
    // The function's length is its parameter count (templates up to four parameters spare a
    // defineProperty); its name is the function's index, as the spec says.
    const f = params.length < arity.length ? arity[params.length](call) : withLength(call, params.length);
    Object.defineProperty(f, "name", { value: String(e.index) });
    funcOrigins.set(f, { state, name: e.name });
    return f;
  };

  class Instance {
    constructor(module, importObject) {
      if (new.target === undefined) throw new TypeError("WebAssembly.Instance must be called with new");
      const info = moduleInfo(module, "WebAssembly.Instance");
      if (info.imports.length > 0 && (importObject === undefined || importObject === null || typeof importObject !== "object")) {
        throw new TypeError("WebAssembly.Instance: the module has imports, so an import object is required");
      }
      const imports = [];
      const globalLinks = [];
      const tableLinks = [];
      let memoryLink = null; // the WebAssembly.Memory imported: {m, slot}
      for (const im of info.imports) {
        const ns = importObject[im.module];
        if (ns === null || (typeof ns !== "object" && typeof ns !== "function")) {
          throw new TypeError(`WebAssembly.Instance: import module "${im.module}" must be an object`);
        }
        const v = ns[im.name];
        if (im.kind === "global") {
          globalLinks.push(globalLink(im, v));
          continue;
        }
        if (im.kind === "memory") {
          const slot = v !== null && typeof v === "object" ? memories.get(v) : undefined;
          if (slot === undefined) throw new LinkError(`WebAssembly.Instance: import ${im.module}.${im.name} must be a WebAssembly.Memory`);
          memoryLink = { m: v, slot };
          continue;
        }
        if (im.kind === "table") {
          tableLinks.push(tableLink(im, v));
          continue;
        }
        if (im.kind === "tag") throw new LinkError(`WebAssembly.Instance: import ${im.module}.${im.name}: tags (exception handling) are not supported`);
        if (im.kind !== "function") throw new LinkError(`WebAssembly.Instance: import ${im.module}.${im.name} (${im.kind}) cannot be provided`);
        if (typeof v !== "function") throw new LinkError(`WebAssembly.Instance: import ${im.module}.${im.name} must be a function`);
        imports.push({ fn: v, params: im.params || "", results: im.results || "" });
      }
      let instantiateArg = String(info.handle);
      if (globalLinks.length > 0 || memoryLink !== null || tableLinks.length > 0) {
        const arg = { module: info.handle, globals: globalLinks, tables: tableLinks };
        if (memoryLink !== null && memoryLink.slot.state) {
          // A memory an instance has: the two share it, and JavaScript's copy of it.
          const st = memoryLink.slot.state;
          if (syncIn(st)) {
            const payload = new Uint8Array(4 + st.mirror.byteLength);
            new DataView(payload.buffer).setUint32(0, st.handle, true);
            payload.set(new Uint8Array(st.mirror), 4);
            guarded(() => host.call("wasm_memory_write", payload));
          }
          arg.memory = { instance: st.handle };
        } else if (memoryLink !== null) {
          const { slot } = memoryLink;
          arg.memory = { pages: slot.local.byteLength / PAGE, maximum: slot.declaredMaximum };
          guarded(() => host.call("wasm_memory_stage", slot.local));
        }
        instantiateArg = jsonStringify(arg);
      }
      const state = { handle: 0, sync: false, mirror: null, imports };
      const owner = memoryLink !== null ? memoryLink.slot.state : undefined;
      if (owner) {
        // One memory in two instances: this instance's view of the copy is the owner's.
        Object.defineProperty(state, "mirror", { get: () => owner.mirror, set: (v) => { owner.mirror = v; } });
        Object.defineProperty(state, "sync", { get: () => owner.sync, set: (v) => { owner.sync = v; } });
      }
      const prevPending = pendingState;
      pendingState = state;
      let handle;
      try {
        handle = Number(callWasm(() => host.call("wasm_instantiate", instantiateArg)));
      } finally {
        pendingState = prevPending;
      }
      state.handle = handle;
      track("instance", state, handle);
      if (memoryLink !== null && owner) {
        if (state.sync) refreshMirror(state, new Uint8Array(guarded(() => host.bytes("wasm_memory_read", String(handle))))); // its data segments
      } else if (memoryLink !== null) {
        // The Memory is now the instance's: its buffer stays (the copy kept in step), the
        // host holds the memory.
        const { slot } = memoryLink;
        state.mirror = slot.local;
        state.sync = true;
        slot.local = undefined;
        slot.state = state;
        refreshMirror(state, new Uint8Array(guarded(() => host.bytes("wasm_memory_read", String(handle))))); // its data segments
      }
      const exports = Object.create(null);
      for (const e of info.exports) {
        switch (e.kind) {
          case "function":
            exports[e.name] = exportedFunction(state, e);
            break;
          case "memory":
            exports[e.name] = memoryLink !== null ? memoryLink.m : makeMemory(state); // a re-exported import is the same object
            break;
          case "global":
            exports[e.name] = makeGlobal({ state, name: e.name, type: undefined, mutable: undefined });
            break;
          case "table":
            exports[e.name] = makeTable(state, e.name);
            break;
        }
      }
      state.exports = new WeakRef(exports); // weak: funcOrigins (exports' functions -> state) would make a cycle QuickJS keeps
      instances.set(this, Object.freeze(exports));
    }
    get exports() {
      const ex = instances.get(this);
      if (!ex) throw new TypeError("Illegal invocation");
      return ex;
    }
  }
  expose(Instance.prototype, Symbol.toStringTag, "WebAssembly.Instance");

  // ---- Memory ----
  // A Memory is either an instance's exported memory (state set: the host holds it) or one
  // made by `new WebAssembly.Memory`, an ArrayBuffer of the sandbox's own until an instance
  // imports it (then state is set, and local is gone).
  const memories = new WeakMap(); // Memory -> {state} or {local, maximum}
  const makeMemory = (state) => {
    const m = Object.create(Memory.prototype);
    memories.set(m, { state });
    return m;
  };
  const memoryOf = (m) => {
    const s = m !== null && typeof m === "object" ? memories.get(m) : undefined;
    if (!s) throw new TypeError("Illegal invocation");
    return s;
  };
  class Memory {
    constructor(descriptor) {
      if (new.target === undefined) throw new TypeError("WebAssembly.Memory must be called with new");
      if (descriptor === null || typeof descriptor !== "object") throw new TypeError("WebAssembly.Memory: the descriptor must be an object");
      const initial = u32(descriptor.initial, "WebAssembly.Memory: initial");
      const maximum = descriptor.maximum === undefined ? 65536 : u32(descriptor.maximum, "WebAssembly.Memory: maximum");
      if (initial > 65536 || maximum > 65536) throw new RangeError("WebAssembly.Memory: at most 65536 pages");
      if (initial > maximum) throw new RangeError("WebAssembly.Memory: initial is larger than maximum");
      if (descriptor.shared) throw new TypeError("WebAssembly.Memory: shared memories are not supported");
      memories.set(this, { local: new ArrayBuffer(initial * PAGE), maximum, declaredMaximum: descriptor.maximum === undefined ? undefined : maximum });
    }
    get buffer() {
      const s = memoryOf(this);
      if (!s.state) return s.local;
      const st = s.state;
      if (!st.sync || st.mirror === null || st.mirror.byteLength === 0) {
        st.mirror = guarded(() => host.bytes("wasm_memory_read", String(st.handle)));
        st.sync = true;
      }
      return st.mirror;
    }
    grow(delta) {
      const d = u32(delta, "WebAssembly.Memory.grow: delta");
      const s = memoryOf(this);
      if (!s.state) {
        const pages = s.local.byteLength / PAGE;
        if (pages + d > s.maximum) throw new RangeError("WebAssembly.Memory.grow: past the memory's maximum");
        s.local = s.local.transfer((pages + d) * PAGE);
        return pages;
      }
      const st = s.state;
      if (syncIn(st)) {
        const payload = new Uint8Array(4 + st.mirror.byteLength);
        new DataView(payload.buffer).setUint32(0, st.handle, true);
        payload.set(new Uint8Array(st.mirror), 4);
        guarded(() => host.call("wasm_memory_write", payload));
      }
      const prev = Number(guarded(() => host.call("wasm_memory_grow", jsonStringify({ instance: st.handle, delta: d }))));
      if (st.mirror !== null && st.mirror.byteLength > 0) st.mirror.transfer(0);
      st.mirror = null;
      return prev;
    }
  }
  expose(Memory.prototype, Symbol.toStringTag, "WebAssembly.Memory");

  // ---- Global ----
  // A Global is one made by `new WebAssembly.Global` (its value here), an instance's exported
  // global (state and name: the host holds it), or a mutable one made here that an instance
  // imported (cell: it moved into the host, where instances and JavaScript share it).
  const globals = new WeakMap(); // Global -> {type, mutable, value} or {state, name, type, mutable} or {cell, type, mutable}
  const makeGlobal = (slot) => {
    const g = Object.create(Global.prototype);
    globals.set(g, slot);
    return g;
  };
  const globalOf = (g) => {
    const s = g !== null && typeof g === "object" ? globals.get(g) : undefined;
    if (!s) throw new TypeError("Illegal invocation");
    return s;
  };
  // exportedGlobal reads (or sets to the bit pattern set) an exported global; the host
  // answers its type letter, 1 if mutable else 0, and its bits in decimal.
  const exportedGlobal = (s, set) => {
    const payload = s.cell ? { cell: s.cell } : { instance: s.state.handle, name: s.name };
    if (set !== undefined) payload.set = set;
    const a = guarded(() => host.call("wasm_global", jsonStringify(payload)));
    s.type = a[0];
    s.mutable = a[1] === "1";
    return valueOfDecimal(s.type, a.slice(2));
  };
  class Global {
    constructor(descriptor, v) {
      if (new.target === undefined) throw new TypeError("WebAssembly.Global must be called with new");
      if (descriptor === null || typeof descriptor !== "object") throw new TypeError("WebAssembly.Global: the descriptor must be an object");
      const mutable = !!descriptor.mutable;
      const type = typeNames[String(descriptor.value)];
      if (!type) throw new TypeError(`WebAssembly.Global: unknown value type ${String(descriptor.value)}`);
      const slot = { type, mutable, value: undefined };
      if (type === "r" || type === "a") slot.value = v === undefined ? (type === "r" ? undefined : null) : v;
      if (type === "a") checkFunc(slot.value, "WebAssembly.Global");
      else slot.value = valueOfDecimal(type, decimalOf(type, v === undefined ? (type === "I" ? 0n : 0) : v));
      globals.set(this, slot);
    }
    get value() {
      const s = globalOf(this);
      return s.state || s.cell ? exportedGlobal(s) : s.value;
    }
    set value(v) {
      const s = globalOf(this);
      if (s.state && s.type === undefined) exportedGlobal(s); // learn its type and mutability
      if (!s.mutable) throw new TypeError("WebAssembly.Global: the global is immutable");
      if (!s.state && !s.cell) {
        if (s.type === "a") checkFunc(v, "WebAssembly.Global");
        s.value = s.type === "r" || s.type === "a" ? v : valueOfDecimal(s.type, decimalOf(s.type, v));
        return;
      }
      exportedGlobal(s, decimalOf(s.type, v));
    }
    valueOf() {
      return this.value;
    }
  }
  expose(Global.prototype, Symbol.toStringTag, "WebAssembly.Global");

  // globalLink is what the host needs for the global import im given v (ToWebAssemblyValue
  // and the spec's LinkError cases): the value's bits for an immutable global, else where
  // the mutable global lives (a cell, made on the first import of a Global made here, or
  // the instance that exports it).
  const globalLink = (im, v) => {
    const what = `WebAssembly.Instance: import ${im.module}.${im.name}`;
    const type = im.type;
    const isRef = type === "r" || type === "a";
    if (type !== "i" && type !== "I" && type !== "f" && type !== "F" && !isRef) {
      throw new LinkError(`${what}: a v128 global cannot be given from JavaScript`);
    }
    // An immutable externref global holding something can only be linked to where it lives
    // (an instance's export): wazero cannot define one with a value (a funcref one is
    // ref.func of the exported function).
    const refBits = (value) => {
      if (type === "a") return { bits: String(funcHandleOf(value)) };
      if (value !== null) throw new LinkError(`${what}: an immutable externref global can be given only null or an instance's exported global in isobox`);
      return { bits: "0" };
    };
    const s = v !== null && typeof v === "object" ? globals.get(v) : undefined;
    if (s === undefined) {
      if (im.mutable) throw new LinkError(`${what}: a mutable global import must be a WebAssembly.Global`);
      if (type === "a") {
        checkFunc(v, what);
        return refBits(v);
      }
      if (type === "r") return refBits(v);
      if (type === "I" ? typeof v !== "bigint" : typeof v !== "number") {
        throw new LinkError(`${what} must be a ${type === "I" ? "BigInt" : "Number"} or a WebAssembly.Global`);
      }
      return { bits: decimalOf(type, v) };
    }
    if (s.state && s.type === undefined) exportedGlobal(s); // learn its type and mutability
    if (s.type !== type || s.mutable !== !!im.mutable) {
      throw new LinkError(`${what}: the WebAssembly.Global's type or mutability does not match the import's`);
    }
    if (s.state && (im.mutable || isRef)) return { instance: s.state.handle, name: s.name };
    if (!im.mutable) {
      const value = s.state || s.cell ? exportedGlobal(s) : s.value;
      return isRef ? refBits(value) : { bits: decimalOf(type, value) };
    }
    if (!s.cell) {
      const cell = Number(guarded(() => host.call("wasm_global_cell", jsonStringify({ type, bits: decimalOf(type, s.value) }))));
      s.cell = cell;
      s.value = undefined;
      track("global", s, cell);
    }
    return { cell: s.cell };
  };

  // ---- Table ----
  // A Table made by `new WebAssembly.Table` is a JavaScript array of references until an
  // instance imports it: then it moves into the host (a table cell, wasm_table_cell) and
  // JavaScript and every instance importing it share it. A table an instance exports is the
  // host's from the start. Both are reached through wasm_table; a funcref table's elements
  // are functions by handle (funcOf), so get answers the element itself.
  const tables = new WeakMap(); // Table -> {elements, element, maximum} or {state, name} or {cell, element}
  const makeTable = (state, name) => {
    const t = Object.create(Table.prototype);
    tables.set(t, { state, name });
    return t;
  };
  const tableOf = (t) => {
    const s = t !== null && typeof t === "object" ? tables.get(t) : undefined;
    if (!s) throw new TypeError("Illegal invocation");
    return s;
  };
  // tableOp runs op on a host table; the host answers r (externref) or f (funcref), then a
  // decimal.
  const tableOp = (s, op, args) => {
    const target = s.cell ? { cell: s.cell } : { instance: s.state.handle, name: s.name };
    const a = guarded(() => host.call("wasm_table", jsonStringify({ ...target, op, ...args })));
    s.element = a[0] === "r" ? "r" : "a";
    return a.slice(1);
  };
  const elementOf = (s) => {
    if (s.element === undefined) tableOp(s, "size", {});
    return s.element;
  };
  // refArg is the host's form of a value stored into a table of element type t.
  const checkFunc = (v, what) => {
    if (v !== null && !isWasmFunction(v)) throw new TypeError(`${what}: a funcref holds only null and exported WebAssembly functions`);
  };
  const refArg = (t, v, what) => {
    if (t === "r") return { ref: decimalOf("r", v) };
    checkFunc(v, what);
    return { ref: String(funcHandleOf(v)) };
  };
  // refFunction is the function object of a wasm function that is not an export JavaScript
  // has (an element of a table, a funcref result): the host finds its type by the
  // arguments (wasm_func_call), so it converts them. The memory of its instance, when
  // JavaScript uses it, is written in before the call and read back after it.
  const refFunction = (h, st) => function () {
    const args = [];
    for (let i = 0; i < arguments.length; i++) {
      const v = arguments[i];
      args.push(typeof v === "bigint" ? { b: String(BigInt.asIntN(64, v)) } : { n: decimalOf("F", v) });
    }
    if (st !== undefined && syncIn(st)) {
      const payload = new Uint8Array(4 + st.mirror.byteLength);
      new DataView(payload.buffer).setUint32(0, st.handle, true);
      payload.set(new Uint8Array(st.mirror), 4);
      guarded(() => host.call("wasm_memory_write", payload));
    }
    let a;
    try {
      a = callWasm(() => host.call("wasm_func_call", jsonStringify({ handle: h, args })));
    } finally {
      if (st !== undefined && st.sync) {
        try {
          refreshMirror(st, new Uint8Array(host.bytes("wasm_memory_read", String(st.handle))));
        } catch {
          // the instance was stopped by a limit: the invocation ends anyway
        }
      }
    }
    const parts = a.split(",");
    const types = parts[0];
    if (types.length === 0) return undefined;
    const vals = [];
    for (let i = 0; i < types.length; i++) vals.push(valueOfDecimal(types[i], parts[i + 1]));
    return vals.length === 1 ? vals[0] : vals;
  };
  // tableLink is what the host needs for the table import im given v: an instance's table,
  // or a table cell (made on the first import of a Table made here).
  const tableLink = (im, v) => {
    const what = `WebAssembly.Instance: import ${im.module}.${im.name}`;
    const s = v !== null && typeof v === "object" ? tables.get(v) : undefined;
    if (s === undefined) throw new LinkError(`${what} must be a WebAssembly.Table`);
    if (s.state) return { instance: s.state.handle, name: s.name };
    if (!s.cell) {
      if (s.element !== im.type) throw new LinkError(`${what}: the table's element type does not match the import's`);
      const elements = s.elements.map((e) => (s.element === "r" ? decimalOf("r", e) : String(funcHandleOf(e))));
      const maximum = s.declaredMaximum;
      s.cell = Number(guarded(() => host.call("wasm_table_cell", jsonStringify({ element: s.element, maximum, elements }))));
      s.elements = undefined;
      track("table", s, s.cell);
    }
    return { cell: s.cell };
  };
  class Table {
    constructor(descriptor, v) {
      if (new.target === undefined) throw new TypeError("WebAssembly.Table must be called with new");
      if (descriptor === null || typeof descriptor !== "object") throw new TypeError("WebAssembly.Table: the descriptor must be an object");
      const element = String(descriptor.element);
      if (element !== "anyfunc" && element !== "externref") throw new TypeError(`WebAssembly.Table: unknown element type ${element}`);
      const initial = u32(descriptor.initial, "WebAssembly.Table: initial");
      const maximum = descriptor.maximum === undefined ? 10000000 : u32(descriptor.maximum, "WebAssembly.Table: maximum");
      if (initial > 10000000) throw new RangeError("WebAssembly.Table: at most 10000000 elements");
      if (initial > maximum) throw new RangeError("WebAssembly.Table: initial is larger than maximum");
      const t = element === "anyfunc" ? "a" : "r";
      const fill = v === undefined ? (t === "a" ? null : undefined) : v;
      if (t === "a") checkFunc(fill, "WebAssembly.Table");
      const elements = new Array(initial).fill(fill);
      tables.set(this, { elements, element: t, maximum, declaredMaximum: descriptor.maximum === undefined ? undefined : maximum });
    }
    get length() {
      const s = tableOf(this);
      if (!s.elements) return Number(tableOp(s, "size", {}));
      return s.elements.length;
    }
    get(i) {
      const s = tableOf(this);
      const k = u32(i, "WebAssembly.Table.get: index");
      if (!s.elements) {
        const r = tableOp(s, "get", { index: k });
        return s.element === "r" ? valueOfDecimal("r", r) : funcOf(Number(r));
      }
      if (k >= s.elements.length) throw new RangeError("WebAssembly.Table.get: index out of bounds");
      return s.elements[k];
    }
    set(i, v) {
      const s = tableOf(this);
      const k = u32(i, "WebAssembly.Table.set: index");
      const t = elementOf(s);
      if (v === undefined && t === "a") v = null;
      if (!s.elements) {
        tableOp(s, "set", { index: k, ...refArg(t, v, "WebAssembly.Table.set") });
        return;
      }
      if (t === "a") checkFunc(v, "WebAssembly.Table.set");
      if (k >= s.elements.length) throw new RangeError("WebAssembly.Table.set: index out of bounds");
      s.elements[k] = v;
    }
    grow(delta, v) {
      const s = tableOf(this);
      const d = u32(delta, "WebAssembly.Table.grow: delta");
      const t = elementOf(s);
      if (v === undefined && t === "a") v = null;
      if (!s.elements) return Number(tableOp(s, "grow", { delta: d, ...refArg(t, v, "WebAssembly.Table.grow") }));
      if (t === "a") checkFunc(v, "WebAssembly.Table.grow");
      const prev = s.elements.length;
      if (prev + d > s.maximum) throw new RangeError("WebAssembly.Table.grow: past the table's maximum");
      for (let i = 0; i < d; i++) s.elements.push(v);
      return prev;
    }
  }
  expose(Table.prototype, Symbol.toStringTag, "WebAssembly.Table");

  // ---- the namespace ----
  const validate = (bytes) => guarded(() => host.call("wasm_validate", bytesOf(bytes, "WebAssembly.validate"))) === "1";
  const compile = async (bytes) => new Module(bytes);
  const instantiate = async (source, importObject) => {
    if (source instanceof Module) return new Instance(source, importObject);
    const module = new Module(source);
    return { module, instance: new Instance(module, importObject) };
  };
  const bytesOfResponse = async (source) => {
    const res = await source;
    if (!(res instanceof Response)) throw new TypeError("WebAssembly: the streaming functions take a Response or a promise of one");
    return res.arrayBuffer();
  };
  const WebAssembly = {};
  expose(WebAssembly, "Module", Module);
  expose(WebAssembly, "Instance", Instance);
  expose(WebAssembly, "Memory", Memory);
  expose(WebAssembly, "Table", Table);
  expose(WebAssembly, "Global", Global);
  expose(WebAssembly, "CompileError", CompileError);
  expose(WebAssembly, "LinkError", LinkError);
  expose(WebAssembly, "RuntimeError", RuntimeError);
  expose(WebAssembly, "validate", validate);
  expose(WebAssembly, "compile", compile);
  expose(WebAssembly, "instantiate", instantiate);
  expose(WebAssembly, "compileStreaming", async (source) => compile(await bytesOfResponse(source)));
  expose(WebAssembly, "instantiateStreaming", async (source, importObject) => instantiate(await bytesOfResponse(source), importObject));
  Object.defineProperty(WebAssembly, Symbol.toStringTag, { value: "WebAssembly", configurable: true });
  expose(globalThis, "WebAssembly", WebAssembly);

  return {
    moduleFromMap: (name) => adoptModule(Object.create(Module.prototype), guarded(() => host.call("wasm_module", String(name)))),
    importCall,
  };
})();
