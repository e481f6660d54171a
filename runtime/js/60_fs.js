// 60_fs.js: env bindings of the filesystem (env.FS): the state API over a workspace that
// the host bound to this worker. Every call is an asynchronous host operation (fs_*); the
// host decides which workspace a binding opens and whether it may write. A failure
// rejects with an Error whose message is "code: sentence" and whose .code is the code
// (not_found, invalid_request, conflict, precondition_failed, quota_exceeded,
// file_too_large, read_only).
const makeFSBinding = (() => {
  const toBase64 = Uint8Array.prototype.toBase64;
  const fromBase64 = Uint8Array.fromBase64;
  const codePattern = /^([a-z_]+): /;

  // run starts one fs_* operation (op is its promise) and gives its error a code.
  async function run(op) {
    try {
      return await op.promise;
    } catch (e) {
      const m = e instanceof Error ? codePattern.exec(e.message) : null;
      if (m) e.code = m[1];
      throw e;
    }
  }

  const path = (p) => {
    if (typeof p !== "string") throw new TypeError("a path must be a string");
    return p;
  };

  // payloadOf turns writeFile's data into the host's form: text as is, bytes as base64.
  function payloadOf(data) {
    if (typeof data === "string") return { data, base64: false };
    if (data instanceof ArrayBuffer) data = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) data = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else throw new TypeError("file content must be a string, an ArrayBuffer or a typed array");
    return { data: Reflect.apply(toBase64, data, []), base64: true };
  }

  const optString = (o, k) => (o && typeof o[k] === "string" ? o[k] : undefined);

  return function makeFSBinding(binding) {
    const fs = {
      async readFile(p, options) {
        const encoding = typeof options === "string" ? options : (options && options.encoding) || "utf8";
        if (encoding !== "utf8" && encoding !== "utf-8" && encoding !== "bytes") {
          throw new TypeError('readFile encoding must be "utf8" or "bytes"');
        }
        const bytes = encoding === "bytes";
        const r = await run(host.startOp("fs_read", { binding, path: path(p), encoding: bytes ? "bytes" : "utf8" }));
        return bytes ? Reflect.apply(fromBase64, Uint8Array, [r.data]) : r.data;
      },
      async writeFile(p, data, options) {
        return run(host.startOp("fs_write", {
          binding, path: path(p), ...payloadOf(data),
          ifMatch: optString(options, "ifMatch"), ifNoneMatch: optString(options, "ifNoneMatch"),
        }));
      },
      async appendFile(p, data) {
        return run(host.startOp("fs_write", { binding, path: path(p), ...payloadOf(data), append: true }));
      },
      async readJson(p) {
        const text = await fs.readFile(p);
        try {
          return JSON.parse(text);
        } catch (e) {
          throw new SyntaxError(`${p} is not valid JSON: ${e.message}`);
        }
      },
      async writeJson(p, value, options) {
        const spaces = options && typeof options.spaces === "number" ? options.spaces : 2;
        const text = JSON.stringify(value, null, spaces);
        if (text === undefined) throw new TypeError("writeJson: the value cannot be written as JSON");
        return fs.writeFile(p, text + "\n", options);
      },
      async readDir(p = "/") {
        return run(host.startOp("fs_readdir", { binding, path: path(p) }));
      },
      async mkdir(p, options) {
        await run(host.startOp("fs_mkdir", { binding, path: path(p), recursive: !!(options && options.recursive) }));
      },
      async rm(p, options) {
        await run(host.startOp("fs_rm", {
          binding, path: path(p), recursive: !!(options && options.recursive), force: !!(options && options.force),
        }));
      },
      async mv(from, to) {
        await run(host.startOp("fs_mv", { binding, from: path(from), to: path(to) }));
      },
      async cp(from, to, options) {
        await run(host.startOp("fs_cp", { binding, from: path(from), to: path(to), recursive: !!(options && options.recursive) }));
      },
      async stat(p) {
        return run(host.startOp("fs_stat", { binding, path: path(p) }));
      },
      async lstat(p) {
        return run(host.startOp("fs_stat", { binding, path: path(p), lstat: true }));
      },
      async exists(p) {
        return (await fs.stat(p)) !== null;
      },
      async glob(pattern) {
        return run(host.startOp("fs_glob", { binding, pattern: path(pattern) }));
      },
      async symlink(target, p) {
        await run(host.startOp("fs_symlink", { binding, target: path(target), path: path(p) }));
      },
      async readlink(p) {
        return run(host.startOp("fs_readlink", { binding, path: path(p) }));
      },
      async exec(command, options) {
        if (typeof command !== "string") throw new TypeError("exec: the command must be a string");
        const o = options || {};
        return run(host.startOp("fs_exec", {
          binding, command, cwd: optString(o, "cwd"), env: o.env,
          timeoutMs: typeof o.timeoutMs === "number" ? o.timeoutMs : undefined,
          maxOutput: typeof o.maxOutput === "number" ? o.maxOutput : undefined,
        }));
      },
    };
    return Object.freeze(fs);
  };
})();

// installFSBindings adds the host's filesystem bindings to a worker's env (names come
// from the host: SandboxConfig.FSBindings).
function installFSBindings(env, names) {
  if (!Array.isArray(names)) return;
  for (const name of names) {
    Object.defineProperty(env, name, { value: makeFSBinding(name), enumerable: true, configurable: false, writable: false });
  }
}
