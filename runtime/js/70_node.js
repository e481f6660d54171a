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

// installNodeGlobals gives a nodejs_compat worker the globals Buffer and process, as
// Cloudflare's flag does. Each is a getter that requires its module on first use (the
// modules are evaluated only when used) and then becomes a plain writable property.
function installNodeGlobals(requireFrom) {
  const lazy = (name, get) => {
    const define = (value) => Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
    Object.defineProperty(globalThis, name, {
      get() {
        const v = get();
        define(v);
        return v;
      },
      set: define,
      configurable: true,
      enumerable: false,
    });
  };
  lazy("Buffer", () => requireFrom("", "node:buffer").Buffer);
  lazy("process", () => requireFrom("", "node:process"));
}
