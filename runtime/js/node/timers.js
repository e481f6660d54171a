// exports: setTimeout clearTimeout setInterval clearInterval setImmediate clearImmediate
"use strict";
// node:timers: the global timers; setImmediate is a zero-delay timeout.
module.exports = {
  setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout,
  setInterval: globalThis.setInterval, clearInterval: globalThis.clearInterval,
  setImmediate: (fn, ...args) => globalThis.setTimeout(fn, 0, ...args),
  clearImmediate: (id) => globalThis.clearTimeout(id),
};
