// gen_idnatables.js writes idnatables.go: the Unicode data that the UTS #46 (IDNA
// compatibility processing) code in idna.go needs, taken from the data files of the npm
// package tr46 (MIT licence; its tables are generated from the Unicode Character Database,
// Unicode 17.0 for tr46@7.0.0). Only data is taken, no code.
//
// Regenerate with:
//
//	cd /tmp && npm pack tr46@7.0.0 && tar xzf tr46-7.0.0.tgz
//	node runtime/weburl/gen_idnatables.js /tmp/package > runtime/weburl/idnatables.go
//	gofmt -w runtime/weburl/idnatables.go
"use strict";

const path = require("path");
const dir = process.argv[2];
if (!dir) {
  console.error("usage: node gen_idnatables.js <tr46 package dir>");
  process.exit(2);
}
const pkg = require(path.join(dir, "package.json"));
const table = require(path.join(dir, "lib", "mappingTable.json"));
const { STATUS_MAPPING: S } = require(path.join(dir, "lib", "statusMapping.js"));
const rx = require(path.join(dir, "lib", "regexes.js"));

const MAX = 0x10ffff;
const isSurrogate = (c) => c >= 0xd800 && c <= 0xdfff;

// bracketClasses returns the [...] character classes of a regular expression's source, each
// as a regex matching exactly one code point of that class.
function bracketClasses(re) {
  const src = re.source;
  const out = [];
  for (let i = 0; i < src.length; i++) {
    if (src[i] === "\\") {
      i++;
      continue;
    }
    if (src[i] !== "[") continue;
    let j = i + 1;
    for (; src[j] !== "]"; j++) if (src[j] === "\\") j++;
    out.push(new RegExp("^" + src.slice(i, j + 1) + "$", "u"));
    i = j;
  }
  return out;
}

// ranges collects the code points (surrogates excluded) satisfying pred as [lo, hi] pairs.
function ranges(pred) {
  const out = [];
  for (let c = 0; c <= MAX; c++) {
    if (isSurrogate(c) || !pred(String.fromCodePoint(c), c)) continue;
    const last = out[out.length - 1];
    if (last && last[1] === c - 1) last[1] = c;
    else if (last && last[1] === 0xd7ff && c === 0xe000) last[1] = c;
    else out.push([c, c]);
  }
  return out;
}

const single = (re) => (ch) => re.test(ch);
const setOf = (rs) => {
  const s = new Set();
  for (const [lo, hi] of rs) for (let c = lo; c <= hi; c++) s.add(c);
  return s;
};

// ContextJ (RFC 5892 appendix A.1): validZWNJ is /[LD][T]*\u200C[T]*[RD]/u.
const zwnj = bracketClasses(rx.validZWNJ);
if (zwnj.length !== 4) throw new Error("unexpected validZWNJ shape: " + zwnj.length);
// Bidi rule (RFC 5893 section 2).
const s2 = bracketClasses(rx.bidiS2); // ^[allowed in RTL]*$
const s3 = bracketClasses(rx.bidiS3); // [R AL EN AN][NSM]*$
const s5 = bracketClasses(rx.bidiS5); // ^[allowed in LTR]*$
const s6 = bracketClasses(rx.bidiS6); // [L EN][NSM]*$
if (s2.length !== 1 || s3.length !== 2 || s5.length !== 1 || s6.length !== 2) {
  throw new Error("unexpected bidi regex shape");
}

const sets = {
  idnaMark: ranges(single(rx.combiningMarks)),
  idnaVirama: ranges(single(rx.combiningClassVirama)),
  joinLD: ranges(single(zwnj[0])),
  joinT: ranges(single(zwnj[1])),
  joinRD: ranges(single(zwnj[3])),
  bidiL: ranges(single(rx.bidiS1LTR)),
  bidiRAL: ranges(single(rx.bidiS1RTL)),
  bidiEN: ranges(single(rx.bidiS4EN)),
  bidiAN: ranges(single(rx.bidiS4AN)),
  bidiNSM: ranges(single(s3[1])),
  bidiRTLAllowed: ranges(single(s2[0])),
  bidiLTRAllowed: ranges(single(s5[0])),
};

// Sanity checks: the composite classes must be the unions the Go code assumes.
function sameSet(a, b, what) {
  if (a.size !== b.size) throw new Error(what + ": size " + a.size + " != " + b.size);
  for (const x of a) if (!b.has(x)) throw new Error(what + ": " + x.toString(16));
}
const L = setOf(sets.bidiL), RAL = setOf(sets.bidiRAL), EN = setOf(sets.bidiEN), AN = setOf(sets.bidiAN);
sameSet(setOf(ranges(single(s3[0]))), new Set([...RAL, ...EN, ...AN]), "S3 first class");
sameSet(setOf(ranges(single(s6[0]))), new Set([...L, ...EN]), "S6 first class");
sameSet(setOf(ranges(single(rx.bidiDomain))), new Set([...RAL, ...AN]), "bidiDomain");
sameSet(setOf(ranges(single(zwnj[1]))), setOf(ranges(single(zwnj[2]))), "ZWNJ T classes");

// Status codes as in idna.go: 0 valid, 1 mapped, 2 disallowed, 3 deviation, 4 ignored.
const statusCode = {
  [S.valid]: 0,
  [S.mapped]: 1,
  [S.disallowed]: 2,
  [S.deviation]: 3,
  [S.ignored]: 4,
};

const goString = (s) => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (ch) =>
  "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0")).replace(/\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})/g,
  (_, hi, lo) => "\\U" + (0x10000 + ((parseInt(hi, 16) - 0xd800) << 10) + (parseInt(lo, 16) - 0xdc00)).toString(16).padStart(8, "0"));
const hex = (c) => "0x" + c.toString(16).toUpperCase().padStart(4, "0");

// Merge neighbouring entries with the same status and mapping.
const entries = [];
for (const e of table) {
  const [lo, hi] = Array.isArray(e[0]) ? e[0] : [e[0], e[0]];
  const status = e[1];
  // Only mapped code points need their mapping: processing is nontransitional.
  const mapping = status === S.mapped ? e[2] : "";
  const last = entries[entries.length - 1];
  if (last && last.status === status && last.mapping === mapping && last.hi === lo - 1) last.hi = hi;
  else entries.push({ lo, hi, status, mapping });
}

const out = [];
out.push("// Code generated by gen_idnatables.js from tr46@" + pkg.version + " data; DO NOT EDIT.");
out.push("");
out.push("package weburl");
out.push("");
out.push("// idnaUnicodeVersion is the Unicode version of the tables below.");
out.push("const idnaUnicodeVersion = \"17.0.0\"");
out.push("");
out.push("// idnaTable is the UTS #46 IDNA mapping table: entry i covers the code points from its lo");
out.push("// up to the next entry's lo - 1 (the last one up to U+10FFFF). Mappings are given for");
out.push("// mapped code points only (processing is nontransitional). Status codes: 0 valid, 1 mapped,");
out.push("// 2 disallowed, 3 deviation, 4 ignored.");
out.push("var idnaTable = [...]idnaEntry{");
{
  let line = "";
  for (const e of entries) {
    const m = ", " + goString(e.mapping);
    const item = "{0x" + e.lo.toString(16) + ", " + statusCode[e.status] + m + "}, ";
    if (line.length + item.length > 96) {
      out.push("\t" + line.trimEnd());
      line = "";
    }
    line += item;
  }
  if (line) out.push("\t" + line.trimEnd());
}
out.push("}");
for (const [name, rs] of Object.entries(sets)) {
  out.push("");
  out.push("var " + name + " = cpRanges{");
  let line = "";
  for (const [lo, hi] of rs) {
    const item = hex(lo) + ", " + hex(hi) + ", ";
    if (line.length + item.length > 90) {
      out.push("\t" + line.trimEnd());
      line = "";
    }
    line += item;
  }
  if (line) out.push("\t" + line.trimEnd());
  out.push("}");
}
process.stdout.write(out.join("\n") + "\n");
