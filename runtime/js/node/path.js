// exports: join resolve normalize relative dirname basename extname parse format isAbsolute sep delimiter posix win32 toNamespacedPath
"use strict";
// node:path: POSIX paths (a worker's cwd is "/"); path.win32 throws not implemented.

function check(p, name = "path") {
  if (typeof p !== "string") {
    const e = new TypeError(`The "${name}" argument must be of type string. Received ${p === null ? "null" : typeof p}`);
    e.code = "ERR_INVALID_ARG_TYPE";
    throw e;
  }
}

// normalizeParts resolves "." and ".." in p's segments; above the root they are dropped
// for an absolute path and kept for a relative one.
function normalizeParts(p, absolute) {
  const out = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
    } else out.push(seg);
  }
  return out.join("/");
}

function normalize(p) {
  check(p);
  if (p === "") return ".";
  const abs = p.startsWith("/");
  const trailing = p.endsWith("/");
  let s = normalizeParts(p, abs);
  if (s === "" && !abs) s = ".";
  if (s !== "" && trailing) s += "/";
  return abs ? "/" + s : s;
}

function join(...parts) {
  for (const p of parts) check(p);
  const s = parts.filter((p) => p !== "").join("/");
  return s === "" ? "." : normalize(s);
}

function resolve(...parts) {
  let resolved = "";
  for (let i = parts.length - 1; i >= -1 && !resolved.startsWith("/"); i--) {
    const p = i >= 0 ? parts[i] : "/";
    check(p);
    if (p === "") continue;
    resolved = p + "/" + resolved;
  }
  const s = normalizeParts(resolved, true);
  return "/" + s;
}

function isAbsolute(p) { check(p); return p.startsWith("/"); }

function relative(from, to) {
  check(from, "from");
  check(to, "to");
  if (from === to) return "";
  const f = resolve(from).split("/").filter(Boolean);
  const t = resolve(to).split("/").filter(Boolean);
  let i = 0;
  while (i < f.length && i < t.length && f[i] === t[i]) i++;
  return [...Array(f.length - i).fill(".."), ...t.slice(i)].join("/");
}

function dirname(p) {
  check(p);
  if (p === "") return ".";
  let end = p.length;
  while (end > 1 && p[end - 1] === "/") end--;
  const i = p.lastIndexOf("/", end - 1);
  if (i < 0) return ".";
  if (i === 0) return "/";
  let d = p.slice(0, i);
  while (d.length > 1 && d.endsWith("/")) d = d.slice(0, -1);
  return d;
}

function basename(p, ext) {
  check(p);
  let end = p.length;
  while (end > 0 && p[end - 1] === "/") end--;
  if (end === 0) return "";
  let b = p.slice(p.lastIndexOf("/", end - 1) + 1, end);
  if (ext !== undefined) {
    check(ext, "ext");
    if (ext !== b && b.endsWith(ext)) b = b.slice(0, b.length - ext.length);
  }
  return b;
}

function extname(p) {
  check(p);
  const b = basename(p);
  const i = b.lastIndexOf(".");
  if (i <= 0 || b === "..") return "";
  return b.slice(i);
}

function parse(p) {
  check(p);
  const root = p.startsWith("/") ? "/" : "";
  if (p === "" ) return { root: "", dir: "", base: "", ext: "", name: "" };
  const base = basename(p);
  const ext = extname(p);
  let dir = dirname(p);
  if (dir === "." && !p.includes("/")) dir = "";
  return { root, dir, base, ext, name: ext ? base.slice(0, base.length - ext.length) : base };
}

function format(o) {
  if (o === null || typeof o !== "object") throw new TypeError('The "pathObject" argument must be of type object');
  const dir = o.dir || o.root;
  const base = o.base || `${o.name || ""}${o.ext ? (o.ext.startsWith(".") ? "" : ".") + o.ext : ""}`;
  if (!dir) return base;
  return dir === o.root ? dir + base : dir + "/" + base;
}

function notImplemented() {
  const e = new Error("path.win32 is not implemented in isobox: a worker's paths are POSIX");
  e.code = "ERR_NOT_IMPLEMENTED";
  throw e;
}

const posix = {
  join, resolve, normalize, relative, dirname, basename, extname, parse, format, isAbsolute,
  sep: "/", delimiter: ":", toNamespacedPath: (p) => p,
};
posix.posix = posix;
posix.win32 = new Proxy({}, { get: notImplemented });
module.exports = posix;
