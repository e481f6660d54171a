// exports: env nextTick version versions platform arch cwd argv exit emitWarning hrtime uptime release title pid
"use strict";
// node:process: a worker's process. env holds the worker's string-valued env entries (as
// Cloudflare's nodejs_compat populates it), copied when the module is first imported;
// bindings and other values stay on the worker's env only.
const EventEmitter = require("node:events");

const env = {};
try {
  const e = globalThis.__isobox_internal.env();
  if (e && typeof e === "object") {
    for (const k of Object.keys(e)) if (typeof e[k] === "string") env[k] = e[k];
  }
} catch {}

const start = Date.now();
const process = new EventEmitter();
Object.assign(process, {
  env,
  nextTick: (fn, ...args) => { if (typeof fn !== "function") throw new TypeError('The "callback" argument must be of type function'); queueMicrotask(() => fn(...args)); },
  version: "v22.0.0",
  versions: { node: "22.0.0", isobox: "1" },
  platform: "linux",
  arch: "wasm32",
  release: { name: "node" },
  title: "isobox",
  pid: 1,
  ppid: 0,
  argv: ["node", "worker"],
  execArgv: [],
  exitCode: undefined,
  cwd: () => "/",
  chdir: () => { throw new Error("process.chdir() is not supported in isobox"); },
  umask: () => 0o22,
  exit: (code) => { throw new Error(`process.exit(${code === undefined ? "" : code}) is not supported in isobox: a worker cannot exit`); },
  emitWarning: (w) => console.warn(typeof w === "string" ? `Warning: ${w}` : String(w)),
  hrtime: Object.assign((prev) => {
    const ns = BigInt(Math.round(performance.now() * 1e6));
    let s = Number(ns / 1000000000n), n = Number(ns % 1000000000n);
    if (prev) { s -= prev[0]; n -= prev[1]; if (n < 0) { s--; n += 1e9; } }
    return [s, n];
  }, { bigint: () => BigInt(Math.round(performance.now() * 1e6)) }),
  uptime: () => (Date.now() - start) / 1000,
  memoryUsage: () => ({ rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }),
  features: {},
  config: { variables: {} },
});
module.exports = process;
