// exports: URL URLSearchParams fileURLToPath pathToFileURL parse format resolve domainToASCII domainToUnicode
"use strict";
// node:url: the WHATWG URL classes, file: URL helpers, and the legacy parse/format basics
// (built on URL: a relative url parses against a placeholder base and keeps no host).
const path = require("node:path");

function fileURLToPath(u) {
  const url = typeof u === "string" ? new URL(u) : u;
  if (!(url instanceof URL)) throw new TypeError('The "path" argument must be of type string or an instance of URL');
  if (url.protocol !== "file:") {
    const e = new TypeError("The URL must be of scheme file");
    e.code = "ERR_INVALID_URL_SCHEME";
    throw e;
  }
  if (url.hostname !== "") {
    const e = new TypeError('File URL host must be "localhost" or empty on linux');
    e.code = "ERR_INVALID_FILE_URL_HOST";
    throw e;
  }
  if (/%2f/i.test(url.pathname)) {
    const e = new TypeError("File URL path must not include encoded / characters");
    e.code = "ERR_INVALID_FILE_URL_PATH";
    throw e;
  }
  return decodeURIComponent(url.pathname);
}

function pathToFileURL(p) {
  let resolved = path.resolve(p);
  if (p.endsWith("/") && !resolved.endsWith("/")) resolved += "/";
  const u = new URL("file://");
  u.pathname = resolved.replace(/%/g, "%25").replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/\t/g, "%09");
  return u;
}

const placeholder = "http://isobox.invalid";

function parse(s, parseQuery) {
  let u, relative = false;
  try {
    u = new URL(s);
  } catch {
    u = new URL(s, placeholder);
    relative = true;
  }
  const query = u.search.slice(1);
  const out = {
    protocol: relative ? null : u.protocol,
    slashes: relative ? null : /^[a-z][a-z0-9+.-]*:\/\//i.test(s),
    auth: u.username ? decodeURIComponent(u.username) + (u.password ? ":" + decodeURIComponent(u.password) : "") : null,
    host: relative ? null : u.host || null,
    port: relative ? null : u.port || null,
    hostname: relative ? null : u.hostname || null,
    hash: u.hash || null,
    search: u.search || null,
    query: parseQuery ? Object.fromEntries(u.searchParams) : query || null,
    pathname: u.pathname || null,
    path: (u.pathname || "") + (u.search || "") || null,
    href: relative ? s : u.href,
  };
  return out;
}

function format(o) {
  if (typeof o === "string") return parse(o).href;
  if (o instanceof URL) return o.href;
  const protocol = o.protocol ? (o.protocol.endsWith(":") ? o.protocol : o.protocol + ":") : "";
  const auth = o.auth ? encodeURIComponent(o.auth).replace(/%3A/i, ":") + "@" : "";
  const host = o.host || (o.hostname ? o.hostname + (o.port ? ":" + o.port : "") : "");
  let search = o.search || "";
  if (!search && o.query && typeof o.query === "object") {
    const q = new URLSearchParams(o.query).toString();
    if (q) search = "?" + q;
  }
  if (search && !search.startsWith("?")) search = "?" + search;
  let pathname = o.pathname || "";
  const slashes = o.slashes || /^(https?|ftp|gopher|file|wss?):$/.test(protocol);
  if (host && pathname && !pathname.startsWith("/")) pathname = "/" + pathname;
  const hash = o.hash ? (o.hash.startsWith("#") ? o.hash : "#" + o.hash) : "";
  return protocol + (slashes || host ? "//" : "") + auth + host + pathname + search + hash;
}

function resolve(from, to) {
  const u = new URL(to, new URL(from, placeholder));
  return u.origin === placeholder && !/^[a-z][a-z0-9+.-]*:/i.test(from) ? u.pathname + u.search + u.hash : u.href;
}

module.exports = {
  URL: globalThis.URL, URLSearchParams: globalThis.URLSearchParams, fileURLToPath, pathToFileURL, parse, format, resolve,
  domainToASCII: (d) => { try { return new URL("http://" + d).hostname; } catch { return ""; } },
  domainToUnicode: (d) => d,
};
