// 70_node.js: what the Node.js built-in modules of nodejs_compat (js/node/*.js, evaluated
// only when a worker imports one) need from the host and cannot do in JavaScript: a
// synchronous digest (crypto.createHash) and random bytes. It adds no capability: both are
// what crypto.subtle.digest and crypto.getRandomValues already give every worker.
Object.defineProperty(globalThis, "__isobox_node", {
  value: Object.freeze({
    digest(alg, bytes) {
      return new Uint8Array(host.bytes(`digest:${alg}`, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice()));
    },
    // memoryLimit is the sandbox's memory limit in bytes.
    memoryLimit() {
      return +host.call("memory_limit", "");
    },
    random(n) {
      return new Uint8Array(host.bytes("random", String(n)));
    },
  }),
  enumerable: false,
});
