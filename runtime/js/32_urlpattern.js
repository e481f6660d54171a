// 32_urlpattern.js: URLPattern (the WHATWG URL Pattern standard), written from the standard:
// a pattern string is tokenized, parsed into parts, and each of the eight URL components
// compiles to one regular expression that QuickJS runs. Fixed text is canonicalized through
// the URL class (30_url.js, the host's WHATWG parser). Regexp groups the guest writes, as
// in "/:id(\\d+)", run unchanged: a catastrophic one is stopped by the CPU limit like any
// other guest code.
{
  const NativeURL = URL;
  const specialPorts = new Map([["ftp", "21"], ["file", null], ["http", "80"], ["https", "443"], ["ws", "80"], ["wss", "443"]]);
  const components = ["protocol", "username", "password", "hostname", "port", "pathname", "search", "hash"];
  const fail = (what) => {
    throw new TypeError(`Invalid URLPattern: ${what}`);
  };

  // ---- tokenizer ----
  // The Unicode-property regexps are compiled on first use: an idle sandbox never pays.
  let idStart, idContinue;
  const isNameChar = (c, first) => {
    if (!idStart) {
      idStart = /[\p{ID_Start}$_]/u;
      idContinue = /[\p{ID_Continue}$\u200C\u200D]/u;
    }
    return (first ? idStart : idContinue).test(c);
  };
  const isASCII = (c) => c.codePointAt(0) < 0x80;

  // tokenize splits a pattern string into tokens {type, index, value}. In "strict" mode a
  // malformed piece throws; in "lenient" mode (the constructor string) it becomes an
  // "invalid-char" token.
  function tokenize(input, strict) {
    const chars = [...input];
    // index of each code point in the string (UTF-16 offsets), for makeComponentString
    const offsets = [];
    let off = 0;
    for (const c of chars) {
      offsets.push(off);
      off += c.length;
    }
    offsets.push(off);
    const tokens = [];
    const add = (type, start, end, value) => tokens.push({ type, index: offsets[start], value });
    const error = (start, end, why) => {
      if (strict) fail(why);
      add("invalid-char", start, end, chars.slice(start, end).join(""));
    };
    let i = 0;
    while (i < chars.length) {
      const c = chars[i];
      if (c === "*") {
        add("asterisk", i, i + 1, c);
        i++;
      } else if (c === "+" || c === "?") {
        add("other-modifier", i, i + 1, c);
        i++;
      } else if (c === "\\") {
        if (i === chars.length - 1) {
          error(i, i + 1, "a trailing backslash");
          i++;
          continue;
        }
        add("escaped-char", i, i + 2, chars[i + 1]);
        i += 2;
      } else if (c === "{") {
        add("open", i, i + 1, c);
        i++;
      } else if (c === "}") {
        add("close", i, i + 1, c);
        i++;
      } else if (c === ":") {
        let j = i + 1;
        while (j < chars.length && isNameChar(chars[j], j === i + 1)) j++;
        if (j === i + 1) {
          error(i, i + 1, `a missing group name at ${i}`);
          i++;
          continue;
        }
        add("name", i, j, chars.slice(i + 1, j).join(""));
        i = j;
      } else if (c === "(") {
        let depth = 1;
        let j = i + 1;
        let bad = false;
        while (j < chars.length) {
          const d = chars[j];
          if (!isASCII(d) || (j === i + 1 && d === "?")) {
            bad = true;
            break;
          }
          if (d === "\\") {
            if (j === chars.length - 1 || !isASCII(chars[j + 1])) {
              bad = true;
              break;
            }
            j += 2;
            continue;
          }
          if (d === ")") {
            depth--;
            if (depth === 0) {
              j++;
              break;
            }
          } else if (d === "(") {
            depth++;
            if (j === chars.length - 1 || chars[j + 1] !== "?") {
              bad = true; // groups inside a regexp group must be non-capturing
              break;
            }
          }
          j++;
        }
        if (bad || depth !== 0 || j - i - 2 <= 0) {
          error(i, i + 1, `a malformed regexp group at ${i}`);
          i++;
          continue;
        }
        add("regexp", i, j, chars.slice(i + 1, j - 1).join(""));
        i = j;
      } else {
        add("char", i, i + 1, c);
        i++;
      }
    }
    tokens.push({ type: "end", index: off, value: "" });
    return tokens;
  }

  // ---- pattern parser: tokens -> parts ----
  const escapeRegExp = (s) => s.replace(/[.+*?^${}()[\]|/\\]/g, "\\$&");
  const escapePattern = (s) => s.replace(/[+*?:{}()\\]/g, "\\$&");
  const segmentWildcard = (opts) => (opts.delimiter ? `[^${escapeRegExp(opts.delimiter)}]+?` : "[^]+?");

  // parsePattern turns a pattern string into parts {type, name, prefix, value, suffix,
  // modifier}; type is "fixed", "regexp", "segment" or "full"; modifier is "", "?", "*" or
  // "+". encode canonicalizes fixed text.
  function parsePattern(input, opts, encode) {
    const tokens = tokenize(input, true);
    const parts = [];
    const wildcard = segmentWildcard(opts);
    let pending = "";
    let i = 0;
    let nextNumber = 0;
    const take = (type) => (tokens[i].type === type ? tokens[i++] : null);
    const takeModifier = () => take("other-modifier") || take("asterisk");
    const takeRegexpOrWildcard = (name) => take("regexp") || (name ? null : take("asterisk"));
    const need = (type) => take(type) || fail(`expected ${type} at ${tokens[i].index} in "${input}"`);
    const text = () => {
      let s = "";
      for (let t; (t = take("char") || take("escaped-char")); ) s += t.value;
      return s;
    };
    const flush = () => {
      if (pending === "") return;
      parts.push({ type: "fixed", name: "", prefix: "", value: encode(pending), suffix: "", modifier: "" });
      pending = "";
    };
    const addPart = (prefix, nameTok, reTok, suffix, modTok) => {
      const modifier = modTok ? modTok.value : "";
      if (!nameTok && !reTok && modifier === "") {
        pending += prefix;
        return;
      }
      flush();
      if (!nameTok && !reTok) {
        if (prefix === "") return;
        parts.push({ type: "fixed", name: "", prefix: "", value: encode(prefix), suffix: "", modifier });
        return;
      }
      let value = !reTok ? wildcard : reTok.type === "asterisk" ? ".*" : reTok.value;
      let type = "regexp";
      if (value === wildcard) {
        type = "segment";
        value = "";
      } else if (value === ".*") {
        type = "full";
        value = "";
      }
      const name = nameTok ? nameTok.value : String(nextNumber++);
      if (parts.some((p) => p.name === name && p.type !== "fixed")) fail(`duplicate group name "${name}"`);
      parts.push({ type, name, prefix: encode(prefix), value, suffix: encode(suffix), modifier });
    };
    while (i < tokens.length) {
      const charTok = take("char");
      const nameTok = take("name");
      const reTok = takeRegexpOrWildcard(nameTok);
      if (nameTok || reTok) {
        let prefix = charTok ? charTok.value : "";
        if (prefix !== opts.prefix) {
          pending += prefix;
          prefix = "";
        }
        flush();
        addPart(prefix, nameTok, reTok, "", takeModifier());
        continue;
      }
      const fixed = charTok || take("escaped-char");
      if (fixed) {
        pending += fixed.value;
        continue;
      }
      if (take("open")) {
        const prefix = text();
        const n = take("name");
        const r = takeRegexpOrWildcard(n);
        const suffix = text();
        need("close");
        addPart(prefix, n, r, suffix, takeModifier());
        continue;
      }
      flush();
      need("end");
    }
    return parts;
  }

  // toRegExp generates the component's regular expression source and its group names.
  function toRegExp(parts, opts) {
    let re = "^";
    const names = [];
    for (const p of parts) {
      if (p.type === "fixed") {
        re += p.modifier === "" ? escapeRegExp(p.value) : `(?:${escapeRegExp(p.value)})${p.modifier}`;
        continue;
      }
      names.push(p.name);
      const value = p.type === "segment" ? segmentWildcard(opts) : p.type === "full" ? ".*" : p.value;
      const pre = escapeRegExp(p.prefix);
      const suf = escapeRegExp(p.suffix);
      const single = p.modifier === "" || p.modifier === "?";
      if (p.prefix === "" && p.suffix === "") {
        re += single ? `(${value})${p.modifier}` : `((?:${value})${p.modifier})`;
      } else if (single) {
        re += `(?:${pre}(${value})${suf})${p.modifier}`;
      } else {
        re += `(?:${pre}((?:${value})(?:${suf}${pre}(?:${value}))*)${suf})${p.modifier === "*" ? "?" : ""}`;
      }
    }
    return { source: re + "$", names };
  }

  // toPatternString writes parts back as the normalized pattern string the getters return.
  function toPatternString(parts, opts) {
    let s = "";
    parts.forEach((p, i) => {
      const prev = parts[i - 1];
      const next = parts[i + 1];
      if (p.type === "fixed") {
        s += p.modifier === "" ? escapePattern(p.value) : `{${escapePattern(p.value)}}${p.modifier}`;
        return;
      }
      const custom = !/^[0-9]/.test(p.name);
      let group = p.suffix !== "" || (p.prefix !== "" && p.prefix !== opts.prefix);
      if (!group && custom && p.type === "segment" && p.modifier === "" && next && next.prefix === "" && next.suffix === "") {
        group = next.type === "fixed" ? next.value !== "" && isNameChar([...next.value][0], false) : /^[0-9]/.test(next.name);
      }
      if (!group && p.prefix === "" && prev && prev.type === "fixed" && prev.value !== "" && prev.value.at(-1) === opts.prefix) group = true;
      if (group) s += "{";
      s += escapePattern(p.prefix);
      if (custom) s += ":" + p.name;
      if (p.type === "regexp") s += `(${p.value})`;
      else if (p.type === "segment" && !custom) s += `(${segmentWildcard(opts)})`;
      else if (p.type === "full") {
        s += !custom && (!prev || prev.type === "fixed" || prev.modifier !== "" || group || p.prefix !== "") ? "*" : "(.*)";
      }
      if (p.type === "segment" && custom && p.suffix !== "" && isNameChar([...p.suffix][0], false)) s += "\\";
      s += escapePattern(p.suffix);
      if (group) s += "}";
      s += p.modifier;
    });
    return s;
  }

  // ---- the v flag ----
  // The standard compiles each component with the v flag (unicodeSets). QuickJS-ng takes
  // the flag but answers its class syntax wrongly (set operations, nested classes, even
  // \p{L} do not match), so the v-mode source is translated to a u-mode one with the same
  // meaning. Outside character classes the two modes share their syntax. A class is a set
  // of code points (a u-mode class where it can be, else a group of lookaheads: A--B is
  // (?:(?!B)A), A&&B is (?:(?=B)A)) and a finite set of strings from \q{...}, on which the
  // set operations are done here; strings match longest first. v-mode's stricter class
  // syntax is enforced as V8 does: "[\w-]" and "[^/]" are SyntaxErrors (write "[\w\-]",
  // "[^\/]"), and so is a negated class that may contain strings.
  const classSyntaxChars = "()[]{}/-\\|";
  const doublePunctuators = "&!#$%*+,.:;<=>?@^`~";
  const reservedPunctuators = "&-!#%,:;<=>@`~";
  const classEscapeChars = "dDwWsS";
  const controlEscapes = "nrtvf";
  const escapeClassChar = (c) => ("\\]^-[".includes(c) ? "\\" + c : c);

  // plainClasses are the segment wildcards' classes, which mean the same in both modes: a
  // source with no other "[" (most patterns) is returned as it is, unparsed.
  const plainClasses = /\[\^(?:\\[/.])?\]/g;
  function unicodeSetsToUnicode(src) {
    if (!src.includes("[") || !src.replace(plainClasses, "").includes("[")) return src;
    const cps = [...src];
    let i = 0;
    let out = "";
    const bad = (why) => {
      throw new SyntaxError(`${why} (v-mode character class)`);
    };
    const charSet = (atoms, extra) => ({ atoms, chars: `[${atoms}]`, strs: [], may: false, ...extra });
    while (i < cps.length) {
      const c = cps[i];
      if (c === "\\") {
        out += c + (cps[i + 1] ?? "");
        i += 2;
      } else if (c === "[") {
        i++;
        out += setExpr(parseClass());
      } else {
        out += c;
        i++;
      }
    }
    return out;

    // A set is {atoms?: u-mode class contents (when it is a plain union), chars: a u-mode
    // expression matching one of its code points (null: none), strs: [{re, len}] its
    // strings of other lengths than one, may: the spec's MayContainStrings}.
    function setExpr(set) {
      const long = set.strs.filter((x) => x.len > 1).sort((x, y) => y.len - x.len).map((x) => x.re);
      const alts = [...long, ...(set.chars === null ? [] : [set.chars]), ...(set.strs.some((x) => x.len === 0) ? [""] : [])];
      if (alts.length === 0) return "[]";
      return alts.length === 1 && long.length === 0 && set.chars !== null ? set.chars : `(?:${alts.join("|")})`;
    }

    // readBraced reads "{...}" at i (after an escape letter) and answers its text.
    function readBraced() {
      if (cps[i] !== "{") bad("a missing {");
      const end = cps.indexOf("}", i);
      if (end < 0) bad("a missing }");
      const text = cps.slice(i + 1, end).join("");
      i = end + 1;
      return text;
    }

    // parseEscape parses a class escape after "\".
    function parseEscape() {
      const d = cps[i++];
      if (d === undefined) bad("a trailing backslash");
      if (d === "q") {
        let atoms = "";
        const strs = [];
        const seen = new Set();
        const b = [...readBraced()];
        let re = "";
        let len = 0;
        for (let j = 0; j <= b.length; j++) {
          if (j === b.length || b[j] === "|") {
            if (len === 1) atoms += re.length === 1 ? escapeClassChar(re) : re;
            else if (!seen.has(re)) {
              seen.add(re);
              strs.push({ re, len });
            }
            re = "";
            len = 0;
          } else if (b[j] === "\\") {
            re += "\\" + (b[++j] ?? bad("a trailing backslash"));
            len++;
          } else {
            re += escapeRegExp(b[j]);
            len++;
          }
        }
        return { atoms: strs.length === 0 ? atoms : undefined, chars: atoms === "" ? null : `[${atoms}]`, strs, may: strs.length > 0 };
      }
      if (classEscapeChars.includes(d)) return charSet("\\" + d);
      if (d === "p" || d === "P") return charSet(`\\${d}{${readBraced()}}`);
      if (controlEscapes.includes(d) || d === "b" || d === "0") return charSet("\\" + d, { char: true });
      if (d === "c" || d === "x") {
        const n = d === "c" ? 1 : 2;
        const atoms = "\\" + d + cps.slice(i, i + n).join("");
        i += n;
        return charSet(atoms, { char: true });
      }
      if (d === "u") {
        if (cps[i] === "{") return charSet(`\\u{${readBraced()}}`, { char: true });
        const atoms = "\\u" + cps.slice(i, i + 4).join("");
        i += 4;
        return charSet(atoms, { char: true });
      }
      if (d === "-") return charSet("\\-", { char: true });
      if (reservedPunctuators.includes(d)) return charSet(d, { char: true });
      if ("^$\\.*+?()[]{}|/".includes(d)) return charSet("\\" + d, { char: true });
      bad(`an invalid escape \\${d}`);
    }

    // parseOperand parses one operand: a nested class, an escape or a character, and a
    // range when one follows.
    function parseOperand() {
      const c = cps[i];
      if (c === "[") {
        i++;
        return parseClass();
      }
      let o;
      if (c === "\\") {
        i++;
        o = parseEscape();
      } else {
        if (classSyntaxChars.includes(c)) bad(`an unescaped ${c}`);
        if (doublePunctuators.includes(c) && cps[i + 1] === c) bad(`a reserved ${c}${c}`);
        i++;
        o = charSet(escapeClassChar(c), { char: true });
      }
      if (o.char && cps[i] === "-" && cps[i + 1] !== "-") {
        i++;
        const end = parseOperand();
        if (!end.char) bad("a range end that is not a character");
        o = charSet(`${o.atoms}-${end.atoms}`, { range: true });
      }
      return o;
    }

    // parseClass parses a class after its "[", through its "]".
    function parseClass() {
      const negated = cps[i] === "^";
      if (negated) i++;
      const operands = [];
      let op = null; // "" (a union), "--" or "&&", once known
      let pending = "";
      for (;;) {
        if (i >= cps.length) bad("an unterminated class");
        if (cps[i] === "]") {
          i++;
          break;
        }
        const two = cps[i] + (cps[i + 1] ?? "");
        if (two === "--" || two === "&&") {
          if (operands.length === 0 || pending !== "") bad(`a misplaced ${two}`);
          pending = two;
          i += 2;
          continue;
        }
        if (operands.length > 0) {
          if (op === null) op = pending;
          else if (op !== pending) bad("mixed set operations");
        }
        pending = "";
        operands.push(parseOperand());
      }
      if (pending !== "") bad(`a class ending in ${pending}`);
      op ??= "";
      const has = (set, s) => (set.res ??= new Set(set.strs.map((x) => x.re))).has(s.re);
      let set;
      if (op === "") {
        const inline = operands.filter((o) => o.atoms !== undefined);
        const other = operands.filter((o) => o.atoms === undefined);
        const atoms = inline.map((o) => o.atoms).join("");
        const chars = [...(atoms === "" ? [] : [`[${atoms}]`]), ...other.filter((o) => o.chars !== null).map((o) => o.chars)];
        const strs = [];
        const seen = new Set();
        for (const o of operands) {
          for (const s of o.strs) {
            if (!seen.has(s.re)) {
              seen.add(s.re);
              strs.push(s);
            }
          }
        }
        set = {
          atoms: other.length === 0 ? atoms : undefined,
          chars: chars.length === 0 ? null : chars.length === 1 ? chars[0] : `(?:${chars.join("|")})`,
          strs,
          may: operands.some((o) => o.may),
        };
      } else {
        if (operands.some((o) => o.range)) bad(`a range as an operand of ${op}`);
        const [first, ...rest] = operands;
        const look = op === "--" ? "?!" : "?=";
        const ls = rest.filter((o) => o.chars !== null).map((o) => `(${look}${o.chars})`).join("");
        const empty = first.chars === null || (op === "&&" && rest.some((o) => o.chars === null));
        set = {
          chars: empty ? null : ls === "" ? first.chars : `(?:${ls}${first.chars})`,
          strs: first.strs.filter((s) => (op === "--" ? !rest.some((o) => has(o, s)) : rest.every((o) => has(o, s)))),
          may: op === "--" ? first.may : operands.every((o) => o.may),
        };
      }
      if (!negated) return set;
      if (set.may) bad("a negated class that may contain strings");
      if (set.atoms !== undefined) return { chars: `[^${set.atoms}]`, strs: [], may: false };
      return { chars: set.chars === null ? "[^]" : `(?:(?!${set.chars})[^])`, strs: [], may: false };
    }
  }

  // ---- canonicalization of fixed text through the URL parser ----
  const parseURL = (s) => {
    try {
      return new NativeURL(s);
    } catch {
      return null;
    }
  };
  const dummy = (scheme) => new NativeURL(`${scheme}://dummy.invalid/`);
  const forbiddenHost = /[\0\t\n\r #/:<>?@[\\\]^|%]/;

  // Fixed text made only of characters the URL parser leaves as they are skips it (a host
  // call each): the common case, "/books" or "example.com", costs a regexp test.
  const pathSafe = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
  const dotSegment = /(^|\/)\.\.?(\/|$)/;
  const querySafe = /^[A-Za-z0-9\-._~!$&()*+,;=:@/?]*$/;
  const userinfoSafe = /^[A-Za-z0-9\-._~!$&'()*+,]*$/;
  const hostSafe = /^[a-z0-9\-.]*$/;
  // labels the host parser rewrites: punycode ("xn--") and numbers (IPv4 in any base)
  const hostNeedsParser = /(^|\.)xn--|(^|\.)(0x[0-9a-f]*|[0-9]+)\.?$/;

  const canon = {
    protocol(v) {
      if (v === "" || /^[a-z][a-z0-9+\-.]*$/.test(v)) return v;
      const u = parseURL(`${v}://dummy.invalid`);
      if (!u || u.protocol !== v.toLowerCase() + ":") fail(`bad protocol "${v}"`);
      return u.protocol.slice(0, -1);
    },
    username(v) {
      if (userinfoSafe.test(v)) return v;
      const u = dummy("https");
      u.username = v;
      return u.username;
    },
    password(v) {
      if (userinfoSafe.test(v)) return v;
      const u = dummy("https");
      u.password = v;
      return u.password;
    },
    // hostname is the URL parser's hostname state with a state override (the hostname
    // setter): tabs and newlines are dropped, and the host ends at "/", "?", "#" (and "\"
    // for a special scheme), so "example.com/ignored" is "example.com".
    hostname(v, special = true) {
      if (v === "" || (hostSafe.test(v) && !hostNeedsParser.test(v))) return v;
      v = v.replace(/[\t\n\r]/g, "");
      const end = v.search(special ? /[/?#\\]/ : /[/?#]/);
      if (end >= 0) v = v.slice(0, end);
      if (v === "") return v;
      if (v[0] !== "[" && forbiddenHost.test(v)) fail(`bad hostname "${v}"`); // an IPv6 literal is the parser's to judge
      const u = parseURL(`${special ? "https" : "x-pattern"}://${v}/`);
      if (!u) fail(`bad hostname "${v}"`);
      return u.hostname;
    },
    ipv6(v) {
      if (!/^[0-9a-fA-F[\]:]*$/.test(v)) fail(`bad IPv6 hostname "${v}"`);
      return v.toLowerCase();
    },
    // port is the URL parser's port state with a state override (the port setter): tabs
    // and newlines are dropped, the leading digits are the port ("80x" is 80; none is an
    // error), at most 65535, no leading zeros, and the scheme's default port is no port.
    port(v, protocol) {
      if (v === "") return v;
      const digits = /^[0-9]*/.exec(v.replace(/[\t\n\r]/g, ""))[0];
      if (digits === "" || Number(digits) > 65535) fail(`bad port "${v}"`);
      const n = String(Number(digits));
      return protocol !== undefined && specialPorts.get(protocol) === n ? "" : n;
    },
    pathname(v) {
      if (pathSafe.test(v) && !dotSegment.test(v)) return v;
      const lead = v[0] === "/";
      const u = dummy("https");
      u.pathname = lead ? v : "/-" + v;
      return lead ? u.pathname : u.pathname.slice(2);
    },
    // opaquePathname is the opaque-path state with a state override: unlike a whole URL,
    // the value's leading and trailing spaces are kept (sentinels keep the parser from
    // stripping them), so generate() of "/ " answers "/ ".
    opaquePathname(v) {
      if (v === "") return v;
      const open = !/[?#]/.test(v); // else the value's end goes to the query or fragment
      const u = parseURL(`x-pattern:-${v}${open ? "-" : ""}`);
      if (!u) fail(`bad pathname "${v}"`);
      return u.pathname.slice(1, open ? -1 : undefined);
    },
    search(v) {
      if (querySafe.test(v)) return v;
      const u = dummy("https");
      u.search = v;
      return u.search.slice(1);
    },
    hash(v) {
      if (querySafe.test(v)) return v;
      const u = dummy("https");
      u.hash = v;
      return u.hash.slice(1);
    },
  };

  const defaultOpts = { delimiter: "", prefix: "" };
  const hostnameOpts = { delimiter: ".", prefix: "" };
  const pathnameOpts = { delimiter: "/", prefix: "/" };

  // compile makes one component: its regexp, group names and normalized pattern string.
  // compiled caches components by kind, options and text: a component is immutable (its
  // regexp has no g flag, so exec keeps no state), and most patterns share most components
  // ("*" above all). Bounded: cleared when full.
  const compiled = new Map();
  const COMPILED_MAX = 512;

  function compile(input, encode, opts, ignoreCase, kind) {
    const key = kind === undefined ? undefined : `${kind}\0${ignoreCase ? 1 : 0}\0${input}`;
    if (key !== undefined) {
      const hit = compiled.get(key);
      if (hit) return hit;
    }
    const c = compileComponent(input, encode, opts, ignoreCase);
    if (key !== undefined) {
      if (compiled.size >= COMPILED_MAX) compiled.clear();
      compiled.set(key, c);
    }
    return c;
  }

  function compileComponent(input, encode, opts, ignoreCase) {
    const parts = parsePattern(input, opts, encode);
    const { source, names } = toRegExp(parts, opts);
    let regexp;
    try {
      regexp = new RegExp(unicodeSetsToUnicode(source), ignoreCase ? "ui" : "u");
    } catch (e) {
      fail(`the component "${input}" is not a valid regular expression (${e.message})`);
    }
    const c = { pattern: toPatternString(parts, opts), regexp, names, hasRegExp: parts.some((p) => p.type === "regexp"), parts, encode, opts };
    c.special = specialSchemes.some((scheme) => regexp.test(scheme));
    // A lone "*" matches any component value (values from the URL parser hold no line
    // terminators, the only thing "." skips): test and exec need not run it.
    const [first] = parts;
    c.any = parts.length === 1 && first.type === "full" && first.prefix === "" && first.suffix === "" && first.modifier === "";
    return c;
  }

  const specialSchemes = [...specialPorts.keys()];
  // matchesSpecial: does a protocol component match any special scheme (computed once).
  const matchesSpecial = (component) => component.special;

  // ---- the constructor string parser ----
  // parseConstructorString splits "https://*.example.com/:id?q#h" into init components,
  // following the standard's state machine over lenient tokens.
  function parseConstructorString(input) {
    const tokens = tokenize(input, false);
    const result = {};
    let state = "init";
    let index = 0;
    let increment = 1;
    let componentStart = 0;
    let groupDepth = 0;
    let ipv6Depth = 0;
    let special = false;
    const at = (k) => tokens[Math.min(k, tokens.length - 1)];
    const plain = (k, v) => {
      const t = at(k);
      return t.value === v && (t.type === "char" || t.type === "escaped-char" || t.type === "invalid-char");
    };
    const componentString = () => input.slice(at(componentStart).index, tokens[index].index);
    const isSearchPrefix = () => {
      if (plain(index, "?")) return true;
      if (tokens[index].value !== "?") return false;
      if (index - 1 < 0) return true;
      return !["name", "regexp", "close", "asterisk"].includes(at(index - 1).type);
    };
    const rewind = () => {
      index = componentStart;
      increment = 0;
    };
    const change = (next, skip) => {
      if (state !== "init" && state !== "authority" && state !== "done") result[state] = componentString();
      if (state !== "init" && next !== "done") {
        const early = ["protocol", "authority", "username", "password"];
        if (early.includes(state) && ["port", "pathname", "search", "hash"].includes(next) && !("hostname" in result)) result.hostname = "";
        if ([...early, "hostname", "port"].includes(state) && (next === "search" || next === "hash") && !("pathname" in result)) {
          result.pathname = special ? "/" : "";
        }
        if ([...early, "hostname", "port", "pathname"].includes(state) && next === "hash" && !("search" in result)) result.search = "";
      }
      state = next;
      index += skip;
      componentStart = index;
      increment = 0;
    };
    while (index < tokens.length) {
      increment = 1;
      const t = tokens[index];
      if (t.type === "end") {
        if (state === "init") {
          rewind();
          if (plain(index, "#")) change("hash", 1);
          else if (isSearchPrefix()) change("search", 1);
          else change("pathname", 0);
          index += increment;
          continue;
        }
        if (state === "authority") {
          rewind();
          state = "hostname";
          index += increment;
          continue;
        }
        change("done", 0);
        break;
      }
      if (t.type === "open") {
        groupDepth++;
        index += increment;
        continue;
      }
      if (groupDepth > 0) {
        if (t.type === "close") groupDepth--;
        else {
          index += increment;
          continue;
        }
      }
      switch (state) {
        case "init":
          if (plain(index, ":")) {
            rewind();
            state = "protocol";
          }
          break;
        case "protocol":
          if (plain(index, ":")) {
            special = matchesSpecial(compile(componentString(), canon.protocol, defaultOpts, false, "protocol"));
            let next = "pathname";
            let skip = 1;
            if (plain(index + 1, "/") && plain(index + 2, "/")) {
              next = "authority";
              skip = 3;
            } else if (special) next = "authority";
            change(next, skip);
          }
          break;
        case "authority":
          if (plain(index, "@")) {
            rewind();
            state = "username";
          } else if (plain(index, "/") || isSearchPrefix() || plain(index, "#")) {
            rewind();
            state = "hostname";
          }
          break;
        case "username":
          if (plain(index, ":")) change("password", 1);
          else if (plain(index, "@")) change("hostname", 1);
          break;
        case "password":
          if (plain(index, "@")) change("hostname", 1);
          break;
        case "hostname":
          if (plain(index, "[")) ipv6Depth++;
          else if (plain(index, "]")) ipv6Depth--;
          else if (plain(index, ":") && ipv6Depth === 0) change("port", 1);
          else if (plain(index, "/")) change("pathname", 0);
          else if (isSearchPrefix()) change("search", 1);
          else if (plain(index, "#")) change("hash", 1);
          break;
        case "port":
          if (plain(index, "/")) change("pathname", 0);
          else if (isSearchPrefix()) change("search", 1);
          else if (plain(index, "#")) change("hash", 1);
          break;
        case "pathname":
          if (isSearchPrefix()) change("search", 1);
          else if (plain(index, "#")) change("hash", 1);
          break;
        case "search":
          if (plain(index, "#")) change("hash", 1);
          break;
      }
      index += increment;
    }
    if ("hostname" in result && !("port" in result)) result.port = "";
    return result;
  }

  // ---- URLPatternInit processing ----
  const isAbsolutePathname = (v, type) =>
    v[0] === "/" || (type === "pattern" && v.length >= 2 && (v[0] === "\\" || v[0] === "{") && v[1] === "/");

  // readInit copies a URLPatternInit dictionary's string members (WebIDL USVString).
  function readInit(init) {
    const out = {};
    for (const k of [...components, "baseURL"]) {
      const v = init[k];
      if (v !== undefined) out[k] = `${v}`;
    }
    return out;
  }

  // processInit is the standard's "process a URLPatternInit": for "pattern" it fills in
  // components from baseURL as pattern text; for "url" (test and exec input) it also
  // canonicalizes every component.
  function processInit(init, type) {
    const result = {};
    const pat = (s) => (type === "pattern" ? escapePattern(s) : s);
    const has = (...ks) => ks.some((k) => k in init);
    let base = null;
    if ("baseURL" in init) {
      base = parseURL(init.baseURL);
      if (!base) throw new TypeError(`Invalid URLPattern: bad base URL "${init.baseURL}"`);
      if (!has("protocol")) result.protocol = pat(base.protocol.slice(0, -1));
      if (type !== "pattern" && !has("protocol", "hostname", "port", "username")) result.username = pat(base.username);
      if (type !== "pattern" && !has("protocol", "hostname", "port", "username", "password")) result.password = pat(base.password);
      if (!has("protocol", "hostname")) result.hostname = pat(base.hostname);
      if (!has("protocol", "hostname", "port")) result.port = base.port;
      if (!has("protocol", "hostname", "port", "pathname")) result.pathname = pat(base.pathname);
      if (!has("protocol", "hostname", "port", "pathname", "search")) result.search = pat(base.search.slice(1));
      if (!has("protocol", "hostname", "port", "pathname", "search", "hash")) result.hash = pat(base.hash.slice(1));
    }
    const url = type !== "pattern";
    if ("protocol" in init) {
      const v = init.protocol.endsWith(":") ? init.protocol.slice(0, -1) : init.protocol;
      result.protocol = url ? canon.protocol(v) : v;
    }
    if ("username" in init) result.username = url ? canon.username(init.username) : init.username;
    if ("password" in init) result.password = url ? canon.password(init.password) : init.password;
    if ("hostname" in init) {
      const p = result.protocol;
      result.hostname = url ? canon.hostname(init.hostname, p === undefined || specialPorts.has(p)) : init.hostname;
    }
    if ("port" in init) result.port = url ? canon.port(init.port, result.protocol) : init.port;
    if ("pathname" in init) {
      let v = init.pathname;
      // A relative pathname resolves against the base URL's directory (not for opaque paths).
      if (base && base.pathname.startsWith("/") && !isAbsolutePathname(v, type)) {
        const basePath = pat(base.pathname);
        const slash = basePath.lastIndexOf("/");
        if (slash >= 0) v = basePath.slice(0, slash + 1) + v;
      }
      if (url) {
        const p = result.protocol;
        v = p === undefined || p === "" || specialPorts.has(p) ? canon.pathname(v) : canon.opaquePathname(v);
      }
      result.pathname = v;
    }
    if ("search" in init) {
      const v = init.search.startsWith("?") ? init.search.slice(1) : init.search;
      result.search = url ? canon.search(v) : v;
    }
    if ("hash" in init) {
      const v = init.hash.startsWith("#") ? init.hash.slice(1) : init.hash;
      result.hash = url ? canon.hash(v) : v;
    }
    return result;
  }

  // The component regexps are ours: run them with the builtin exec, whatever the guest does
  // to RegExp.prototype.
  const nativeExec = RegExp.prototype.exec;
  const reExec = (re, s) => Reflect.apply(nativeExec, re, [s]);

  // urlValues gives the eight component strings of a test/exec input, or null when it is not
  // a URL. The last URL string parsed is remembered: a router tests one request URL against
  // each of its patterns in turn. inputs (when not null) receives the standard's "inputs".
  let lastKey;
  let lastValues = null;
  function urlValues(input, baseURL, inputs) {
    if (input === null) input = {};
    if (inputs) inputs.push(input);
    if (isObjectArg(input) && !(input instanceof NativeURL)) {
      if (baseURL !== undefined) throw new TypeError("URLPattern: a base URL goes in the init dictionary");
      let values;
      try {
        values = processInit(readInit(input), "url");
      } catch (e) {
        if (e instanceof TypeError) return null;
        throw e;
      }
      for (const k of components) if (!(k in values)) values[k] = "";
      return values;
    }
    if (input instanceof NativeURL) return valuesOf(input);
    const text = `${input}`;
    const base = baseURL === undefined ? undefined : `${baseURL}`;
    if (inputs && base !== undefined) inputs.push(base);
    const key = base === undefined ? text : `${text}\0${base}`;
    if (key === lastKey) return lastValues;
    let values = null;
    try {
      values = valuesOf(base === undefined ? new NativeURL(text) : new NativeURL(text, base));
    } catch {
      // not a URL (or the base is not): no match
    }
    lastKey = key;
    lastValues = values;
    return values;
  }

  function valuesOf(url) {
    return {
      protocol: url.protocol.slice(0, -1),
      username: url.username,
      password: url.password,
      hostname: url.hostname,
      port: url.port,
      pathname: url.pathname,
      search: url.search.slice(1),
      hash: url.hash.slice(1),
    };
  }

  // Parts order by type (full wildcard < segment wildcard < regexp < fixed text), then by
  // modifier ("*" < "?" < "+" < none), then by prefix, value and suffix as strings (all
  // ASCII once encoded): the more a part constrains, the greater it is. A longer list is
  // compared at its first extra part against empty fixed text, so "/foo/" > "/foo/*". The
  // order is Chromium's, which the standard and the WPT compare data take.
  const typeRank = { full: 0, segment: 1, regexp: 2, fixed: 3 };
  const modifierRank = { "*": 0, "?": 1, "+": 2, "": 3 };
  const emptyFixedPart = { type: "fixed", name: "", prefix: "", value: "", suffix: "", modifier: "" };
  const compareStrings = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

  function comparePart(a, b) {
    return (
      Math.sign(typeRank[a.type] - typeRank[b.type]) ||
      Math.sign(modifierRank[a.modifier] - modifierRank[b.modifier]) ||
      compareStrings(a.prefix, b.prefix) ||
      compareStrings(a.value, b.value) ||
      compareStrings(a.suffix, b.suffix)
    );
  }

  function comparePartLists(left, right) {
    const n = Math.min(left.length, right.length);
    for (let i = 0; i < n; i++) {
      const r = comparePart(left[i], right[i]);
      if (r !== 0) return r;
    }
    if (left.length > n) return comparePart(left[n], emptyFixedPart);
    if (right.length > n) return comparePart(emptyFixedPart, right[n]);
    return 0;
  }

  const isObjectArg = (v) => v !== null && (typeof v === "object" || typeof v === "function");
  const isIPv6Pattern = (v) => v.length >= 2 && (v[0] === "[" || ((v[0] === "{" || v[0] === "\\") && v[1] === "["));

  class URLPattern {
    #c; // component name -> {pattern, regexp, names, hasRegExp}

    constructor(input = {}, baseURL = undefined, options = undefined) {
      if (isObjectArg(baseURL)) {
        options = baseURL;
        baseURL = undefined;
      }
      const ignoreCase = isObjectArg(options) ? Boolean(options.ignoreCase) : false;
      if (input === null) input = {}; // WebIDL: null converts to the (empty) dictionary
      let init;
      if (typeof input === "string" || !isObjectArg(input)) {
        init = parseConstructorString(`${input}`);
        if (baseURL === undefined && !("protocol" in init)) {
          throw new TypeError("Invalid URLPattern: a relative pattern needs a base URL");
        }
        if (baseURL !== undefined) init.baseURL = `${baseURL}`;
      } else {
        if (baseURL !== undefined) throw new TypeError("Invalid URLPattern: a base URL goes in the init dictionary");
        init = readInit(input);
      }
      const p = processInit(init, "pattern");
      for (const k of components) if (!(k in p)) p[k] = "*";
      if (specialPorts.has(p.protocol) && specialPorts.get(p.protocol) === p.port) p.port = "";
      const c = {};
      c.protocol = compile(p.protocol, canon.protocol, defaultOpts, ignoreCase, "protocol");
      const special = matchesSpecial(c.protocol);
      c.username = compile(p.username, canon.username, defaultOpts, ignoreCase, "username");
      c.password = compile(p.password, canon.password, defaultOpts, ignoreCase, "password");
      c.hostname = compile(
        p.hostname,
        isIPv6Pattern(p.hostname) ? canon.ipv6 : (v) => canon.hostname(v, special),
        hostnameOpts,
        ignoreCase,
        isIPv6Pattern(p.hostname) ? "ipv6" : special ? "host" : "opaquehost",
      );
      // The fixed text of a port pattern is canonicalized without the scheme (the standard's
      // "canonicalize a port" given only the value): {protocol: "http", port: "80{20}?"} keeps
      // its "80"; only a port pattern that is exactly the default port was dropped above.
      c.port = compile(p.port, (v) => canon.port(v), defaultOpts, ignoreCase, "port");
      c.pathname = special
        ? compile(p.pathname, canon.pathname, pathnameOpts, ignoreCase, "path")
        : compile(p.pathname, canon.opaquePathname, defaultOpts, ignoreCase, "opaquepath");
      c.search = compile(p.search, canon.search, defaultOpts, ignoreCase, "search");
      c.hash = compile(p.hash, canon.hash, defaultOpts, ignoreCase, "hash");
      this.#c = c;
    }

    test(input = {}, baseURL = undefined) {
      const values = urlValues(input, baseURL, null);
      if (values === null) return false;
      const c = this.#c;
      for (const k of components) if (!c[k].any && reExec(c[k].regexp, values[k]) === null) return false;
      return true;
    }

    // exec is the standard's "match": null when the input is no URL or does not match.
    exec(input = {}, baseURL = undefined) {
      const inputs = [];
      const values = urlValues(input, baseURL, inputs);
      if (values === null) return null;
      const c = this.#c;
      const out = { inputs };
      for (const k of components) {
        const m = c[k].any ? [values[k], values[k]] : reExec(c[k].regexp, values[k]);
        if (m === null) return null;
        const groups = {};
        c[k].names.forEach((name, i) => {
          groups[name] = m[i + 1];
        });
        out[k] = { input: values[k], groups };
      }
      return out;
    }

    get hasRegExpGroups() {
      return components.some((k) => this.#c[k].hasRegExp);
    }

    // generate (tentative, as Chromium ships it) fills one component's named groups with
    // values and answers the component's text: each value is canonicalized as fixed text
    // of that component is, and must then match its group (so "/:id" will not take "a/b").
    // Only fixed text and plain named groups can be filled: a modifier, a wildcard or a
    // regexp group is a TypeError, as is a missing value.
    generate(component, groups) {
      if (arguments.length < 2) throw new TypeError(`URLPattern.generate: 2 arguments required, but only ${arguments.length} present.`);
      const k = `${component}`;
      if (!components.includes(k)) throw new TypeError(`'${k}' is not a valid value for URLPatternComponent`);
      if (!isObjectArg(groups)) throw new TypeError("URLPattern.generate: groups must be an object");
      const c = this.#c[k];
      const segment = new RegExp(`^(?:${unicodeSetsToUnicode(segmentWildcard(c.opts))})$`, "u");
      let out = "";
      for (const p of c.parts) {
        if (p.modifier !== "") throw new TypeError(`URLPattern.generate: the ${k} pattern has a ${p.modifier} modifier`);
        if (p.type === "fixed") {
          out += p.value;
          continue;
        }
        if (p.type !== "segment") throw new TypeError(`URLPattern.generate: the ${k} pattern has a ${p.type === "full" ? "wildcard" : "regexp group"}`);
        const v = groups[p.name];
        if (v === undefined) throw new TypeError(`URLPattern.generate: no value for the group "${p.name}"`);
        const encoded = c.encode(`${v}`);
        if (!segment.test(encoded)) throw new TypeError(`URLPattern.generate: "${v}" does not fit the group "${p.name}"`);
        out += p.prefix + encoded + p.suffix;
      }
      return out;
    }

    // compareComponent orders two patterns by one component, more general first: sorting
    // routes with it puts "/*" before "/books/:id" before "/books/new".
    static compareComponent(component, left, right) {
      if (arguments.length < 3) throw new TypeError(`URLPattern.compareComponent: 3 arguments required, but only ${arguments.length} present.`);
      const k = `${component}`;
      if (!components.includes(k)) throw new TypeError(`'${k}' is not a valid value for URLPatternComponent`);
      if (!isObjectArg(left) || !(#c in left) || !isObjectArg(right) || !(#c in right)) {
        throw new TypeError("URLPattern.compareComponent: left and right must be URLPatterns");
      }
      return comparePartLists(left.#c[k].parts, right.#c[k].parts);
    }

    static {
      // The component getters: each answers its normalized pattern string.
      for (const k of components) {
        Object.defineProperty(URLPattern.prototype, k, {
          get() {
            return this.#c[k].pattern;
          },
          enumerable: true,
          configurable: true,
        });
      }
    }
  }
  Object.defineProperty(URLPattern.prototype, Symbol.toStringTag, { value: "URLPattern", configurable: true });
  Object.defineProperty(globalThis, "URLPattern", { value: URLPattern, writable: true, configurable: true, enumerable: false });
}
