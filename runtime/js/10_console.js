// 10_console.js: the console namespace. Arguments are formatted the way Node's util.inspect
// does (close to what a browser console shows as text), joined into one message per call and
// handed to the host as {level, message}. Nothing here may throw: a log statement must not
// break the program it is debugging, whatever value it is given (throwing getters, proxies,
// revoked proxies, null-prototype objects, cycles, huge graphs).
{
  const MAX_MESSAGE_BYTES = 64 * 1024;
  const MAX_ARRAY_ITEMS = 100; // entries shown per array, map or set
  const MAX_STRING_CHARS = 10000; // characters shown of a string nested in an object
  const MAX_BUFFER_BYTES = 50; // bytes shown of an ArrayBuffer
  const BREAK_LENGTH = 80; // wider single-line forms are split over several lines
  const customInspect = Symbol.for("nodejs.util.inspect.custom");

  // Intrinsics are captured now so that user code replacing globals cannot break console.
  const { getPrototypeOf, getOwnPropertyDescriptor, getOwnPropertySymbols, keys: objectKeys } = Object;
  const { apply } = Reflect;
  const isError = Error.isError;
  const NativeError = Error;
  const NativePromise = Promise;
  const uncurry = (fn) => (self, ...args) => apply(fn, self, args);
  const getterOf = (proto, key) => uncurry(getOwnPropertyDescriptor(proto, key).get);
  const TypedArrayPrototype = getPrototypeOf(Uint8Array.prototype);
  const brand = {
    mapSize: getterOf(Map.prototype, "size"),
    setSize: getterOf(Set.prototype, "size"),
    mapEntries: uncurry(Map.prototype.entries),
    setValues: uncurry(Set.prototype.values),
    typedArrayName: getterOf(TypedArrayPrototype, Symbol.toStringTag),
    bufferByteLength: getterOf(ArrayBuffer.prototype, "byteLength"),
    dataViewByteLength: getterOf(DataView.prototype, "byteLength"),
    regexpSource: getterOf(RegExp.prototype, "source"),
    regexpFlags: getterOf(RegExp.prototype, "flags"),
    dateTime: uncurry(Date.prototype.getTime),
    dateISO: uncurry(Date.prototype.toISOString),
    weakMapHas: uncurry(WeakMap.prototype.has),
    weakSetHas: uncurry(WeakSet.prototype.has),
    functionSource: uncurry(Function.prototype.toString),
  };
  // Boxed primitives: valueOf of each wrapper type throws unless given that wrapper.
  const boxes = [Number, String, Boolean, BigInt, Symbol];
  const functionKinds = new Map([
    [getPrototypeOf(async function () {}), "AsyncFunction"],
    [getPrototypeOf(function* () {}), "GeneratorFunction"],
    [getPrototypeOf(async function* () {}), "AsyncGeneratorFunction"],
  ]);
  const builtinToStrings = new Set(
    [Object, Array, Error, Date, RegExp, Function, Number, Boolean, String, Symbol, BigInt, Map, Set, Promise].map(
      (C) => C.prototype.toString,
    ),
  );

  // passes reports whether check(v) succeeds: the brand checks above throw for other objects.
  const passes = (check, v) => {
    try {
      check(v);
      return true;
    } catch {
      return false;
    }
  };
  // is(v, C, check) tells whether v is a C by its internal slots. instanceof comes first
  // because exceptions are slow and most objects logged are plain ones that fail it at once.
  const is = (v, C, check) => v instanceof C && passes(check, v);

  // ---- strings ----

  const escapes = { "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", "\\": "\\\\" };

  // quote renders a string as a JS literal the way Node does: single quotes unless the
  // string contains them, control characters and lone surrogates escaped.
  function quote(s) {
    let q = "'";
    if (s.includes("'")) {
      if (!s.includes('"')) q = '"';
      else if (!s.includes("`") && !s.includes("${")) q = "`";
    }
    let out = "";
    for (let i = 0; i < s.length; i++) {
      const ch = s[i];
      const c = s.charCodeAt(i);
      if (ch === q) out += "\\" + q;
      else if (escapes[ch]) out += escapes[ch];
      else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).toUpperCase().padStart(2, "0");
      else if (c >= 0xd800 && c <= 0xdfff) {
        const next = s.charCodeAt(i + 1);
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) out += ch + s[++i];
        else out += "\\u" + c.toString(16).toUpperCase();
      } else out += ch;
    }
    return q + out + q;
  }

  function formatString(s) {
    if (s.length <= MAX_STRING_CHARS) return quote(s);
    const rest = s.length - MAX_STRING_CHARS;
    return `${quote(s.slice(0, MAX_STRING_CHARS))}... ${rest} more character${rest > 1 ? "s" : ""}`;
  }

  function formatKey(key) {
    if (typeof key === "symbol") return `[${String(key)}]`;
    return /^[A-Za-z_$][\w$]*$/.test(key) ? key : quote(key);
  }

  function formatNumber(n) {
    return Object.is(n, -0) ? "-0" : String(n);
  }

  function formatPrimitive(v) {
    switch (typeof v) {
      case "string":
        return formatString(v);
      case "number":
        return formatNumber(v);
      case "bigint":
        return `${v}n`;
      default:
        return String(v); // boolean, undefined, symbol (String() never throws for symbols)
    }
  }

  // ---- objects ----

  // constructorName finds the name of the nearest constructor in v's prototype chain without
  // running user code (data properties only); null means a null-prototype object.
  function constructorName(v) {
    for (let o = v; o !== null; o = getPrototypeOf(o)) {
      const ctor = getOwnPropertyDescriptor(o, "constructor");
      if (ctor && typeof ctor.value === "function") {
        const name = getOwnPropertyDescriptor(ctor.value, "name");
        if (name && typeof name.value === "string" && name.value !== "") return name.value;
      }
    }
    return null;
  }

  const isIndex = (key) => String(Number(key) >>> 0) === key && key !== "4294967295";

  // ownEnumerableKeys lists the enumerable string and symbol keys of v; with skipIndices it
  // drops array indices, which come first in property order and are shown as elements.
  function ownEnumerableKeys(v, skipIndices) {
    let keys = objectKeys(v);
    if (skipIndices) {
      let i = keys.length;
      while (i > 0 && !isIndex(keys[i - 1])) i--;
      keys = keys.slice(i);
    }
    for (const sym of getOwnPropertySymbols(v)) {
      const d = getOwnPropertyDescriptor(v, sym);
      if (d && d.enumerable) keys.push(sym);
    }
    return keys;
  }

  // formatProperty shows one own property; accessors are not invoked (as in Node).
  function formatProperty(ctx, v, key, level) {
    const d = getOwnPropertyDescriptor(v, key);
    let shown;
    if (!d) shown = "undefined";
    else if ("value" in d) shown = formatChild(ctx, d.value, level);
    else if (d.get && d.set) shown = "[Getter/Setter]";
    else shown = d.get ? "[Getter]" : "[Setter]";
    return `${formatKey(key)}: ${shown}`;
  }

  // formatChild formats a nested value one level deeper and two columns further right.
  function formatChild(ctx, v, level) {
    ctx.indent += 2;
    try {
      return formatValue(ctx, v, level + 1);
    } finally {
      ctx.indent -= 2;
    }
  }

  // pushEntry appends one formatted entry unless the output budget is spent; it returns
  // false once the caller should stop producing entries.
  function pushEntry(ctx, output, entry) {
    if (ctx.budget <= 0) {
      if (output[output.length - 1] !== "...") output.push("...");
      return false;
    }
    ctx.budget -= entry.length;
    output.push(entry);
    return true;
  }

  function moreItems(n) {
    return `... ${n} more item${n > 1 ? "s" : ""}`;
  }

  function arrayEntries(ctx, v, level, output) {
    const length = v.length;
    let i = 0;
    while (i < length && output.length < MAX_ARRAY_ITEMS) {
      if (!(i in v)) {
        let holes = 1;
        while (i + holes < length && !(i + holes in v)) holes++;
        if (!pushEntry(ctx, output, `<${holes} empty item${holes > 1 ? "s" : ""}>`)) return;
        i += holes;
        continue;
      }
      if (!pushEntry(ctx, output, formatChild(ctx, v[i], level))) return;
      i++;
    }
    if (i < length) output.push(moreItems(length - i));
  }

  function typedArrayEntries(ctx, v, output) {
    const length = v.length;
    const shown = Math.min(length, MAX_ARRAY_ITEMS);
    for (let i = 0; i < shown; i++) {
      if (!pushEntry(ctx, output, formatPrimitive(v[i]))) return;
    }
    if (shown < length) output.push(moreItems(length - shown));
  }

  function collectionEntries(ctx, iterator, size, level, output, isMap) {
    let n = 0;
    for (const item of { [Symbol.iterator]: () => iterator }) {
      if (n++ >= MAX_ARRAY_ITEMS) {
        output.push(moreItems(size - MAX_ARRAY_ITEMS));
        return;
      }
      const entry = isMap
        ? `${formatChild(ctx, item[0], level)} => ${formatChild(ctx, item[1], level)}`
        : formatChild(ctx, item, level);
      if (!pushEntry(ctx, output, entry)) return;
    }
  }

  function bufferContents(buffer) {
    const bytes = new Uint8Array(buffer, 0, Math.min(buffer.byteLength, MAX_BUFFER_BYTES));
    let hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
    const rest = buffer.byteLength - bytes.length;
    if (rest > 0) hex += ` ... ${rest} more byte${rest > 1 ? "s" : ""}`;
    return `[Uint8Contents]: <${hex}>`;
  }

  function functionBase(fn) {
    const nameDesc = getOwnPropertyDescriptor(fn, "name");
    const fnName = nameDesc && typeof nameDesc.value === "string" ? nameDesc.value : "";
    let source = "";
    try {
      source = brand.functionSource(fn);
    } catch {
      // Proxied functions may refuse toString; they are then shown as plain functions.
    }
    if (/^class\b/.test(source)) {
      let base = `[class ${fnName || "(anonymous)"}`;
      const parent = getPrototypeOf(fn);
      const parentName = parent && parent !== Function.prototype && getOwnPropertyDescriptor(parent, "name");
      if (parentName && typeof parentName.value === "string" && parentName.value) base += ` extends ${parentName.value}`;
      return base + "]";
    }
    const kind = functionKinds.get(getPrototypeOf(fn)) || "Function";
    return fnName ? `[${kind}: ${fnName}]` : `[${kind} (anonymous)]`;
  }

  // errorText renders an error as its "Name: message" header followed by its stack frames.
  // QuickJS stacks hold only the frames, unlike V8's, so the header is added when missing.
  function errorText(ctx, err) {
    let name = "Error";
    let message = "";
    let stack = "";
    try {
      name = String(err.name);
      message = String(err.message);
      stack = typeof err.stack === "string" ? err.stack : "";
    } catch {
      // A throwing name/message/stack getter leaves the defaults.
    }
    const header = message ? `${name}: ${message}` : name;
    let text;
    if (!stack.trim()) text = `[${header}]`;
    else if (/^\s+at /.test(stack)) text = `${header}\n${stack.replace(/\s+$/, "")}`;
    else text = stack.replace(/\s+$/, "");
    return ctx.indent ? text.replaceAll("\n", `\n${" ".repeat(ctx.indent)}`) : text;
  }

  function boxedBase(v) {
    for (const C of boxes) {
      const valueOf = uncurry(C.prototype.valueOf);
      if (is(v, C, valueOf)) return `[${C.name}: ${formatPrimitive(valueOf(v))}]`;
    }
    return "";
  }

  // describe classifies an object and says how to print it: braces, base (text shown before
  // the braces), the enumerable own keys to list, whether it is a list (whose short entries
  // are grouped into columns), whether its index keys are shown as elements already, how
  // many kind-specific entries it has (elements, map entries, ...) and a function producing
  // them, which is called only within the depth limit.
  function describe(ctx, v, level) {
    const name = constructorName(v);
    const prefix = (fallback, size) =>
      `${name === null ? `[${fallback}: null prototype]` : name}${size === undefined ? "" : `(${size})`} `;
    const d = { braces: ["{", "}"], base: "", list: false, indexed: false, size: 0, entries: () => {} };
    const typedArrayName = brand.typedArrayName(v); // undefined for anything else

    if (Array.isArray(v)) {
      d.braces = [`${name === "Array" ? "" : prefix("Array", v.length)}[`, "]"];
      d.list = d.indexed = true;
      d.size = v.length;
      d.entries = (output) => arrayEntries(ctx, v, level, output);
    } else if (typedArrayName) {
      d.braces = [`${prefix(typedArrayName, v.length)}[`, "]"];
      d.list = d.indexed = true;
      d.size = v.length;
      d.entries = (output) => typedArrayEntries(ctx, v, output);
    } else if (is(v, Map, brand.mapSize)) {
      d.size = brand.mapSize(v);
      d.braces = [`${prefix("Map", d.size)}{`, "}"];
      d.entries = (output) => collectionEntries(ctx, brand.mapEntries(v), d.size, level, output, true);
    } else if (is(v, Set, brand.setSize)) {
      d.size = brand.setSize(v);
      d.braces = [`${prefix("Set", d.size)}{`, "}"];
      d.entries = (output) => collectionEntries(ctx, brand.setValues(v), d.size, level, output, false);
    } else if (is(v, ArrayBuffer, brand.bufferByteLength)) {
      d.braces = [`${prefix("ArrayBuffer")}{`, "}"];
      d.size = 2;
      d.entries = (output) =>
        output.push(v.detached ? "(detached)" : bufferContents(v), `byteLength: ${brand.bufferByteLength(v)}`);
    } else if (is(v, DataView, brand.dataViewByteLength)) {
      d.braces = [`${prefix("DataView")}{`, "}"];
      d.size = 3;
      d.entries = (output) =>
        output.push(`byteLength: ${v.byteLength}`, `byteOffset: ${v.byteOffset}`, `buffer: ${formatChild(ctx, v.buffer, level)}`);
    } else if (typeof v === "function") {
      d.base = functionBase(v);
    } else if (is(v, RegExp, brand.regexpSource)) {
      d.base = `/${brand.regexpSource(v)}/${brand.regexpFlags(v)}`;
    } else if (is(v, Date, brand.dateTime)) {
      d.base = Number.isNaN(brand.dateTime(v)) ? "Invalid Date" : brand.dateISO(v);
    } else if (isError(v) || v instanceof NativeError) {
      d.base = errorText(ctx, v);
      // cause and errors are non-enumerable but worth showing, as Node does.
      const hidden = ["cause", "errors"].filter((key) => {
        const desc = getOwnPropertyDescriptor(v, key);
        return desc && !desc.enumerable && "value" in desc;
      });
      d.size = hidden.length;
      d.entries = (output) => {
        for (const key of hidden) output.push(`[${key}]: ${formatChild(ctx, v[key], level)}`);
      };
    } else if (is(v, WeakMap, brand.weakMapHas) || is(v, WeakSet, brand.weakSetHas)) {
      d.braces = [`${prefix(v instanceof WeakMap ? "WeakMap" : "WeakSet")}{`, "}"];
      d.size = 1;
      d.entries = (output) => output.push("<items unknown>");
    } else if (v instanceof NativePromise) {
      d.braces = [`${prefix("Promise")}{`, "}"];
      d.size = 1;
      d.entries = (output) => output.push("<state unknown>"); // JS cannot look inside a promise
    } else {
      d.base = boxedBase(v);
      d.indexed = d.base.startsWith("[String:"); // a String object's characters are index keys
      if (!d.base) {
        const tag = v[Symbol.toStringTag];
        let shown = name === null ? "[Object: null prototype]" : name === "Object" ? "" : name;
        if (typeof tag === "string" && tag !== "" && tag !== name) shown = `${shown || "Object"} [${tag}]`;
        d.braces = [shown ? `${shown} {` : "{", "}"];
      }
    }
    d.keys = ownEnumerableKeys(v, d.indexed);
    return d;
  }

  // tooDeep is what stands for an object nested deeper than the depth limit.
  function tooDeep(v) {
    const name = constructorName(v);
    return Array.isArray(v) ? "[Array]" : `[${name === null ? "Object: null prototype" : name}]`;
  }

  function formatObject(ctx, v, level) {
    if (ctx.seen.includes(v)) return "[Circular]";
    // Objects may format themselves, as with Node's util.inspect.custom (the runtime's own
    // classes do, to show state kept in private fields).
    const custom = v[customInspect];
    if (typeof custom === "function") {
      if (level > ctx.depth) return tooDeep(v);
      const inspectNested = (value, options) => inspect(value, { ...options, indent: ctx.indent });
      const result = apply(custom, v, [ctx.depth - level, { depth: ctx.depth - level }, inspectNested]);
      if (result !== v) return typeof result === "string" ? result : formatValue(ctx, result, level);
    }

    const d = describe(ctx, v, level);
    if (d.size === 0 && d.keys.length === 0) return d.base || d.braces.join("");
    if (level > ctx.depth) return tooDeep(v);
    ctx.seen.push(v);
    ctx.currentDepth = level;
    try {
      const output = [];
      d.entries(output);
      for (const key of d.keys) {
        if (!pushEntry(ctx, output, formatProperty(ctx, v, key, level))) break;
      }
      return reduceToSingleString(ctx, output, d.base, d.braces, d.list, level, v);
    } finally {
      ctx.seen.pop();
    }
  }

  // formatValue never throws: anything that fails while being inspected (a revoked proxy, a
  // throwing trap) is shown as [Uninspectable].
  function formatValue(ctx, v, level) {
    if (v === null || (typeof v !== "object" && typeof v !== "function")) return formatPrimitive(v);
    try {
      return formatObject(ctx, v, level);
    } catch {
      return "[Uninspectable]";
    }
  }

  // groupArrayElements lays out long lists of short entries in aligned columns; this is
  // Node's algorithm, so arrays of numbers read the same as in Node.
  function groupArrayElements(ctx, output, value) {
    let totalLength = 0;
    let maxLength = 0;
    let outputLength = output.length;
    if (/^\.\.\. \d+ more items?$/.test(output[outputLength - 1])) outputLength--;
    const separatorSpace = 2;
    const dataLen = [];
    for (let i = 0; i < outputLength; i++) {
      const len = output[i].length;
      dataLen.push(len);
      totalLength += len + separatorSpace;
      if (maxLength < len) maxLength = len;
    }
    const actualMax = maxLength + separatorSpace;
    if (actualMax * 3 + ctx.indent >= BREAK_LENGTH || (totalLength / actualMax <= 5 && maxLength > 6)) return output;
    const averageBias = Math.sqrt(actualMax - totalLength / output.length);
    const biasedMax = Math.max(actualMax - 3 - averageBias, 1);
    const columns = Math.min(
      Math.round(Math.sqrt(2.5 * biasedMax * outputLength) / biasedMax),
      Math.floor((BREAK_LENGTH - ctx.indent) / actualMax),
      12, // Node's compact (3) * 4
    );
    if (columns <= 1) return output;
    const maxLineLength = [];
    for (let i = 0; i < columns; i++) {
      let lineLength = 0;
      for (let j = i; j < outputLength; j += columns) if (dataLen[j] > lineLength) lineLength = dataLen[j];
      maxLineLength.push(lineLength + separatorSpace);
    }
    let numeric = true;
    for (let i = 0; i < outputLength && numeric; i++) {
      const t = typeof value[i];
      numeric = t === "number" || t === "bigint";
    }
    const grouped = [];
    for (let i = 0; i < outputLength; i += columns) {
      const max = Math.min(i + columns, outputLength);
      let line = "";
      let j = i;
      for (; j < max - 1; j++) {
        const cell = `${output[j]}, `;
        line += numeric ? cell.padStart(maxLineLength[j - i]) : cell.padEnd(maxLineLength[j - i]);
      }
      line += numeric ? output[j].padStart(maxLineLength[j - i] - separatorSpace) : output[j];
      grouped.push(line);
    }
    if (outputLength < output.length) grouped.push(output[outputLength]);
    return grouped;
  }

  // reduceToSingleString joins entries on one line when they are short and not deeply
  // nested, and otherwise puts one entry per line (Node's "compact: 3" layout).
  function reduceToSingleString(ctx, output, base, braces, list, level, value) {
    const entries = output.length;
    if (list && entries > 6) output = groupArrayElements(ctx, output, value);
    const prefix = base ? `${base} ` : "";
    if (ctx.currentDepth - level < 3 && entries === output.length) {
      const start = output.length + ctx.indent + braces[0].length + base.length + 10;
      let total = output.length + start;
      for (const entry of output) total += entry.length;
      if (total <= BREAK_LENGTH && !base.includes("\n")) {
        const joined = output.join(", ");
        if (!joined.includes("\n")) return `${prefix}${braces[0]} ${joined} ${braces[1]}`;
      }
    }
    const indentation = `\n${" ".repeat(ctx.indent)}`;
    return `${prefix}${braces[0]}${indentation}  ${output.join(`,${indentation}  `)}${indentation}${braces[1]}`;
  }

  // inspect formats any value as Node's util.inspect would (strings quoted).
  function inspect(value, options = {}) {
    const ctx = {
      depth: typeof options.depth === "number" ? options.depth : 2,
      indent: options.indent || 0,
      seen: [],
      currentDepth: 0,
      budget: MAX_MESSAGE_BYTES * 2,
    };
    return formatValue(ctx, value, 0);
  }

  // ---- console arguments ----

  function hasBuiltinToString(v) {
    for (let o = v; o !== null; o = getPrototypeOf(o)) {
      const d = getOwnPropertyDescriptor(o, "toString");
      if (d) return builtinToStrings.has(d.value);
    }
    return true;
  }

  function formatS(arg) {
    if (typeof arg === "bigint") return `${arg}n`;
    if (typeof arg === "number") return formatNumber(arg);
    if (arg !== null && typeof arg === "object" && hasBuiltinToString(arg)) return inspect(arg, { depth: 0 });
    return String(arg);
  }

  function formatNumeric(arg, convert) {
    if (typeof arg === "bigint") return `${arg}n`;
    if (typeof arg === "symbol") return "NaN";
    return formatNumber(convert(arg));
  }

  function formatJSON(arg) {
    try {
      return String(JSON.stringify(arg));
    } catch (e) {
      return /circular/i.test(String(e && e.message)) ? "[Circular]" : `[${String(e)}]`;
    }
  }

  const substitutions = {
    s: formatS,
    d: (a) => formatNumeric(a, Number),
    i: (a) => formatNumeric(a, parseInt),
    f: (a) => formatNumeric(a, parseFloat),
    j: formatJSON,
    o: (a) => inspect(a, { depth: 4 }),
    O: (a) => inspect(a),
    c: () => "", // CSS styling has no meaning in a text log
  };

  // formatArgs builds the message of one console call as Node does: printf-style
  // substitutions in a leading string (only when more arguments follow), then the remaining
  // arguments, strings as they are and everything else inspected, separated by spaces.
  function formatArgs(args) {
    const parts = [];
    let next = 0;
    if (typeof args[0] === "string" && args.length > 1) {
      next = 1;
      parts.push(
        args[0].replace(/%([sdifjoOc%])/g, (match, spec) => {
          if (spec === "%") return "%";
          if (next >= args.length) return match;
          return substitutions[spec](args[next++]);
        }),
      );
    }
    for (; next < args.length; next++) {
      const arg = args[next];
      parts.push(typeof arg === "string" ? arg : inspect(arg));
    }
    return parts.join(" ");
  }

  // truncate cuts a message to MAX_MESSAGE_BYTES of UTF-8, never inside a surrogate pair.
  function truncate(message) {
    if (message.length * 3 <= MAX_MESSAGE_BYTES) return message;
    const note = "… [message truncated to 64 KiB]";
    const limit = MAX_MESSAGE_BYTES - note.length * 3;
    let bytes = 0;
    for (let i = 0; i < message.length; i++) {
      const c = message.charCodeAt(i);
      const size = c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdbff ? 4 : 3;
      if (bytes + size > limit) return message.slice(0, i) + note;
      bytes += size;
      if (size === 4) i++;
    }
    return message;
  }

  let groupIndent = "";
  const counts = new Map();
  const timers = new Map();

  // emit sends one message to the host; failures (e.g. an output quota) are swallowed
  // because logging must not change the program's control flow.
  function emit(level, message) {
    try {
      if (groupIndent) message = groupIndent + message.replaceAll("\n", `\n${groupIndent}`);
      host.call("console", JSON.stringify({ level, message: truncate(message) }));
    } catch {
      // Nothing sensible can be done if the host refuses a log line.
    }
  }

  function logArgs(level, args) {
    let message;
    try {
      message = formatArgs(args);
    } catch {
      message = "[console: arguments could not be formatted]";
    }
    emit(level, message);
  }

  const label = (l) => (l === undefined ? "default" : String(l));

  function elapsed(name) {
    const ms = performance.now() - timers.get(name);
    return ms >= 1000 ? `${(ms / 1000).toFixed(3)}s` : `${ms.toFixed(3)}ms`;
  }

  // Each method is a closure, so `const { log } = console; log(x)` works as in browsers.
  const methods = {
    log: (...args) => logArgs("log", args),
    info: (...args) => logArgs("info", args),
    warn: (...args) => logArgs("warn", args),
    error: (...args) => logArgs("error", args),
    debug: (...args) => logArgs("debug", args),
    trace(...args) {
      let frames = "";
      try {
        frames = String(new NativeError().stack).split("\n").slice(1).join("\n").replace(/\s+$/, "");
      } catch {
        // Without a stack the trace is just the message.
      }
      let message;
      try {
        message = formatArgs(args);
      } catch {
        message = "";
      }
      emit("debug", `Trace${message ? `: ${message}` : ""}${frames ? `\n${frames}` : ""}`);
    },
    dir: (value, options) => emit("log", inspect(value, options && typeof options === "object" ? { depth: options.depth } : {})),
    dirxml: (...args) => logArgs("log", args),
    table(data, columns) {
      let message;
      try {
        message = renderTable(data, columns);
      } catch {
        message = null;
      }
      if (message === null) logArgs("log", [data]);
      else emit("log", message);
    },
    assert(condition, ...args) {
      if (condition) return;
      if (typeof args[0] === "string") args[0] = `Assertion failed: ${args[0]}`;
      else args.unshift("Assertion failed");
      logArgs("error", args);
    },
    count(name) {
      const key = label(name);
      const n = (counts.get(key) || 0) + 1;
      counts.set(key, n);
      emit("log", `${key}: ${n}`);
    },
    countReset(name) {
      const key = label(name);
      if (counts.has(key)) counts.set(key, 0);
      else emit("warn", `Count for '${key}' does not exist`);
    },
    time(name) {
      const key = label(name);
      if (timers.has(key)) emit("warn", `Warning: Label '${key}' already exists for console.time()`);
      else timers.set(key, performance.now());
    },
    timeLog(name, ...data) {
      const key = label(name);
      if (!timers.has(key)) return emit("warn", `Warning: No such label '${key}' for console.timeLog()`);
      logArgs("log", [`${key}: ${elapsed(key)}`, ...data]);
    },
    timeEnd(name) {
      const key = label(name);
      if (!timers.has(key)) return emit("warn", `Warning: No such label '${key}' for console.timeEnd()`);
      emit("log", `${key}: ${elapsed(key)}`);
      timers.delete(key);
    },
    group(...args) {
      if (args.length) logArgs("log", args);
      groupIndent += "  ";
    },
    groupCollapsed(...args) {
      methods.group(...args);
    },
    groupEnd() {
      groupIndent = groupIndent.slice(2);
    },
    clear() {
      // A log stream cannot be cleared; browsers also ignore this when there is no screen.
    },
  };

  // tableRows lists console.table's rows as [index, value] pairs; Maps get an extra Key column
  // and are indexed by iteration order, as in Node.
  function tableRows(data) {
    if (is(data, Map, brand.mapSize)) {
      const entries = Array.from({ [Symbol.iterator]: () => brand.mapEntries(data) });
      return { indexHeader: "(iteration index)", mapKeys: entries.map((e) => e[0]), rows: entries.map((e, i) => [i, e[1]]) };
    }
    if (is(data, Set, brand.setSize)) {
      const values = Array.from({ [Symbol.iterator]: () => brand.setValues(data) });
      return { indexHeader: "(iteration index)", rows: values.map((v, i) => [i, v]) };
    }
    return { indexHeader: "(index)", rows: ownEnumerableKeys(data, false).map((k) => [k, data[k]]) };
  }

  // renderTable draws console.table's box table, or returns null for non-objects (which
  // console.table prints like console.log).
  function renderTable(data, columns) {
    if (data === null || typeof data !== "object") return null;
    const cell = (v) => inspect(v, { depth: 1 }).replaceAll("\n", " ");
    const { indexHeader, mapKeys, rows } = tableRows(data);
    const keys = [];
    let hasValues = false;
    const cells = rows.map(([, value]) => {
      const row = new Map();
      if (value !== null && typeof value === "object") {
        for (const k of ownEnumerableKeys(value, false)) {
          if (!keys.includes(k)) keys.push(k);
          row.set(k, cell(value[k]));
        }
      } else {
        hasValues = true;
        row.set(tableValues, cell(value));
      }
      return row;
    });
    const shownKeys = Array.isArray(columns) ? columns.map(String) : keys;
    const header = [indexHeader, ...(mapKeys ? ["Key"] : []), ...shownKeys.map(String), ...(hasValues ? ["Values"] : [])];
    const body = rows.map(([index], i) => [
      String(typeof index === "symbol" ? String(index) : index),
      ...(mapKeys ? [cell(mapKeys[i])] : []),
      ...shownKeys.map((k) => cells[i].get(k) || ""),
      ...(hasValues ? [cells[i].get(tableValues) || ""] : []),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => line[i].length)) + 2);
    const rule = (l, m, r) => l + widths.map((w) => "─".repeat(w)).join(m) + r;
    const line = (texts) => "│" + texts.map((t, i) => ` ${t}`.padEnd(widths[i])).join("│") + "│";
    return [rule("┌", "┬", "┐"), line(header), rule("├", "┼", "┤"), ...body.map(line), rule("└", "┴", "┘")].join("\n");
  }
  const tableValues = Symbol("Values"); // row key of a primitive row's value

  const console = {};
  for (const [name, fn] of Object.entries(methods)) {
    Object.defineProperty(console, name, { value: fn, writable: true, enumerable: true, configurable: true });
  }
  Object.defineProperty(console, Symbol.toStringTag, { value: "console", configurable: true });
  Object.defineProperty(globalThis, "console", { value: console, writable: true, configurable: true, enumerable: false });
}
