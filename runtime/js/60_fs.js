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
  const streamChunk = 1 << 20; // readFile's stream: bytes per host operation
  const uploadChunk = 1 << 20; // writeFile's stream: bytes per host operation (the host takes 8 MiB)
  const maxChunk = 32 << 20; // the host's most at once

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

  // isStream tells a ReadableStream (writeFile's streamed form) from content.
  const isStream = (v) => typeof ReadableStream === "function" && v instanceof ReadableStream;

  // invalid is a TypeError with the code the host would give (invalid_request).
  const invalid = (message) => {
    const e = new TypeError(`invalid_request: ${message}`);
    e.code = "invalid_request";
    return e;
  };

  const optString = (o, k) => (o && typeof o[k] === "string" ? o[k] : undefined);
  const optNumber = (o, k) => (o && typeof o[k] === "number" ? o[k] : undefined);
  const str = (s, what) => {
    if (typeof s !== "string") throw new TypeError(`${what} must be a string`);
    return s;
  };
  // matchOptions are the options searchText and the replaces share: caseSensitive
  // (default true) and regex (RE2 syntax).
  const matchOptions = (o) => ({ regex: !!(o && o.regex), ignoreCase: !!(o && o.caseSensitive === false) });
  const replaceOptions = (o) => ({ ...matchOptions(o), once: !!(o && o.all === false), dryRun: !!(o && o.dryRun) });

  return function makeFSBinding(binding) {
    // readStream is readFile(p, { stream: true }): a ReadableStream of Uint8Array chunks
    // of streamChunk bytes read one range at a time, so a file of any size passes
    // through a sandbox with little memory. Every range after the first is read only if
    // the file still has the first one's etag: a file replaced meanwhile errors the
    // stream with precondition_failed instead of mixing two versions. The first range is
    // read before the stream is returned: a missing file rejects readFile.
    async function readStream(p, options) {
      p = path(p);
      const chunk = optNumber(options, "chunkSize") || streamChunk;
      if (!(chunk > 0 && chunk <= maxChunk)) throw new RangeError(`chunkSize must be from 1 to ${maxChunk}`);
      const read = (offset, ifMatch) => run(host.startOp("fs_read", { binding, path: p, encoding: "bytes", offset, length: chunk, ifMatch }));
      let r = await read(0, optString(options, "ifMatch") || "");
      const { etag, size } = r;
      let offset = 0;
      return new ReadableStream({
        async pull(controller) {
          if (!r) r = await read(offset, etag);
          const bytes = Reflect.apply(fromBase64, Uint8Array, [r.data]);
          r = null;
          offset += bytes.length;
          if (bytes.length > 0) controller.enqueue(bytes);
          if (bytes.length === 0 || offset >= size) controller.close();
        },
      }, { highWaterMark: 0 });
    }
    // writeStream is writeFile (or appendFile) of a ReadableStream of bytes: the host
    // opens an upload, takes the chunks one host operation each (small chunks are
    // gathered into uploadChunk bytes, large ones split), and makes them the file's
    // content when the stream ends, all at once: a stream that errors, a chunk that is
    // not bytes, or a limit (file_too_large, quota_exceeded) aborts the upload and
    // leaves the file as it was. Neither side holds more than a chunk.
    async function writeStream(p, stream, options, append) {
      p = path(p);
      const reader = stream.getReader(); // throws on a locked stream, before the upload
      const op = (args) => run(host.startOp("fs_upload", { binding, ...args }));
      let upload;
      try {
        ({ upload } = await op({
          action: "open", path: p, append,
          ifMatch: optString(options, "ifMatch"), ifNoneMatch: optString(options, "ifNoneMatch"),
        }));
      } catch (e) {
        reader.cancel(e).catch(() => {});
        throw e;
      }
      const buf = new Uint8Array(uploadChunk);
      let used = 0;
      const send = (bytes) => op({ action: "write", upload, data: Reflect.apply(toBase64, bytes, []) });
      const flush = async () => {
        if (used > 0) await send(buf.subarray(0, used));
        used = 0;
      };
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          let bytes;
          if (value instanceof ArrayBuffer) bytes = new Uint8Array(value);
          else if (ArrayBuffer.isView(value)) bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
          else throw invalid("writeFile: a stream's chunks must be Uint8Array (or other bytes)");
          while (bytes.length > 0) {
            if (used === 0 && bytes.length >= uploadChunk) {
              await send(bytes.subarray(0, uploadChunk));
              bytes = bytes.subarray(uploadChunk);
              continue;
            }
            const n = Math.min(uploadChunk - used, bytes.length);
            buf.set(bytes.subarray(0, n), used);
            used += n;
            bytes = bytes.subarray(n);
            if (used === uploadChunk) await flush();
          }
        }
        await flush();
        return await op({ action: "commit", upload });
      } catch (e) {
        await op({ action: "abort", upload }).catch(() => {});
        reader.cancel(e).catch(() => {});
        throw e;
      }
    }
    const fs = {
      async readFile(p, options) {
        if (options && typeof options === "object" && options.stream) return readStream(p, options);
        const encoding = typeof options === "string" ? options : (options && options.encoding) || "utf8";
        if (encoding !== "utf8" && encoding !== "utf-8" && encoding !== "bytes") {
          throw new TypeError('readFile encoding must be "utf8" or "bytes"');
        }
        const bytes = encoding === "bytes";
        const r = await run(host.startOp("fs_read", { binding, path: path(p), encoding: bytes ? "bytes" : "utf8" }));
        return bytes ? Reflect.apply(fromBase64, Uint8Array, [r.data]) : r.data;
      },
      async writeFile(p, data, options) {
        if (isStream(data)) return writeStream(p, data, options, false);
        return run(host.startOp("fs_write", {
          binding, path: path(p), ...payloadOf(data),
          ifMatch: optString(options, "ifMatch"), ifNoneMatch: optString(options, "ifNoneMatch"),
        }));
      },
      async appendFile(p, data) {
        if (isStream(data)) return writeStream(p, data, undefined, true);
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
          ifMatch: (options && options.ifMatch) || "",
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
      // queryJson returns the value at a JSON path ("scripts.build", "items[0].id",
      // '["a.b"]'; "" is the whole document), or undefined when nothing is there.
      async queryJson(p, query = "") {
        const r = await run(host.startOp("fs_queryjson", { binding, path: path(p), query: str(query, "a JSON path") }));
        return r.found ? r.value : undefined;
      },
      // updateJson applies {op: "set"|"merge"|"delete", path, value} in one write;
      // options.ifMatch makes it fail rather than overwrite a newer version.
      async updateJson(p, update, options) {
        if (!update || typeof update !== "object") throw new TypeError("updateJson: the update must be {op, path, value}");
        const u = { op: str(update.op, "update.op"), path: update.path === undefined ? "" : str(update.path, "update.path") };
        if (update.op !== "delete") {
          if (update.value === undefined) throw new TypeError("updateJson: update.value is missing");
          u.value = update.value;
        }
        return run(host.startOp("fs_updatejson", {
          binding, path: path(p), update: u, ifMatch: optString(options, "ifMatch"), ifNoneMatch: optString(options, "ifNoneMatch"),
        }));
      },
      async searchText(pattern, options) {
        return run(host.startOp("fs_search", {
          binding, pattern: str(pattern, "the pattern"), glob: optString(options, "glob"), ...matchOptions(options),
          contextLines: optNumber(options, "contextLines"), maxResults: optNumber(options, "maxResults"),
        }));
      },
      async searchFiles(glob, options) {
        return run(host.startOp("fs_findfiles", { binding, glob: str(glob, "the glob"), maxResults: optNumber(options, "maxResults") }));
      },
      async replaceInFile(p, search, replace, options) {
        return run(host.startOp("fs_replace", {
          binding, path: path(p), search: str(search, "search"), replace: str(replace, "replace"),
          ...replaceOptions(options), ifMatch: optString(options, "ifMatch"),
        }));
      },
      async replaceInFiles(glob, search, replace, options) {
        return run(host.startOp("fs_replaceall", {
          binding, glob: str(glob, "the glob"), search: str(search, "search"), replace: str(replace, "replace"), ...replaceOptions(options),
        }));
      },
      // diff returns the unified diff from file a to file b ("" when equal).
      async diff(a, b) {
        return run(host.startOp("fs_diff", { binding, path: path(a), to: path(b) }));
      },
      // diffText returns the unified diff from file p to text.
      async diffText(p, text) {
        return run(host.startOp("fs_diff", { binding, path: path(p), text: str(text, "the text") }));
      },
      async createArchive(paths, archivePath) {
        const list = typeof paths === "string" ? [paths] : Array.isArray(paths) ? paths.map(path) : null;
        if (list === null) throw new TypeError("createArchive: paths must be a path or an array of paths");
        return run(host.startOp("fs_archive", { binding, paths: list, to: path(archivePath) }));
      },
      async extractArchive(archivePath, dir = "/") {
        return run(host.startOp("fs_extract", { binding, path: path(archivePath), to: path(dir) }));
      },
      async hashFile(p, algo = "sha256") {
        return run(host.startOp("fs_hash", { binding, path: path(p), algo: str(algo, "the algorithm") }));
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
