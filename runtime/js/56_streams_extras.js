// 56_streams_extras.js: the streams built on TransformStream (55_streams.js):
// TextEncoderStream and TextDecoderStream, CompressionStream and DecompressionStream (the
// codec runs in the host: the "codec_*" host operations, engine/compress.go), and the
// Cloudflare Workers extras IdentityTransformStream and FixedLengthStream.
(() => {
  const byteChunk = streamByteChunk;
  const dictionary = (v, what) => {
    if (v === undefined || v === null) return {};
    if (!isObject(v)) throw new TypeError(`${what} must be an object`);
    return v;
  };

  // ---- encoding streams ----

  // TextEncoderStream encodes strings to UTF-8; a lone high surrogate at the end of a chunk
  // waits for the next chunk (a pair split across chunks encodes as one character).
  class TextEncoderStream {
    #t;
    constructor() {
      const encoder = new TextEncoder();
      let pending = "";
      this.#t = new TransformStream({
        transform(chunk, controller) {
          let text = pending + String(chunk);
          pending = "";
          const last = text.charCodeAt(text.length - 1);
          if (last >= 0xd800 && last <= 0xdbff) {
            pending = text.slice(-1);
            text = text.slice(0, -1);
          }
          if (text !== "") controller.enqueue(encoder.encode(text));
        },
        flush(controller) {
          if (pending !== "") controller.enqueue(new Uint8Array([0xef, 0xbf, 0xbd]));
        },
      });
    }
    get encoding() {
      this.#t;
      return "utf-8";
    }
    get readable() {
      return this.#t.readable;
    }
    get writable() {
      return this.#t.writable;
    }
  }

  // TextDecoderStream decodes bytes with a streaming TextDecoder: a character split across
  // chunks decodes once its last byte arrives; fatal makes invalid input error the stream.
  class TextDecoderStream {
    #t;
    #decoder;
    constructor(label = "utf-8", options = undefined) {
      const decoder = (this.#decoder = new TextDecoder(label, options));
      this.#t = new TransformStream({
        transform(chunk, controller) {
          if (!(chunk instanceof ArrayBuffer || ArrayBuffer.isView(chunk))) {
            throw new TypeError("TextDecoderStream needs ArrayBuffer or ArrayBufferView chunks");
          }
          const text = decoder.decode(chunk, { stream: true });
          if (text !== "") controller.enqueue(text);
        },
        flush(controller) {
          const text = decoder.decode();
          if (text !== "") controller.enqueue(text);
        },
      });
    }
    get encoding() {
      return this.#decoder.encoding;
    }
    get fatal() {
      return this.#decoder.fatal;
    }
    get ignoreBOM() {
      return this.#decoder.ignoreBOM;
    }
    get readable() {
      return this.#t.readable;
    }
    get writable() {
      return this.#t.writable;
    }
  }

  // ---- Workers extras ----

  // IdentityTransformStream passes byte chunks through unchanged (Cloudflare Workers).
  class IdentityTransformStream extends TransformStream {
    constructor(options = undefined) {
      const { highWaterMark } = dictionary(options, "IdentityTransformStream options");
      super(
        {
          transform(chunk, controller) {
            controller.enqueue(byteChunk(chunk, "IdentityTransformStream"));
          },
        },
        undefined,
        highWaterMark === undefined ? undefined : { highWaterMark, size: (c) => c.byteLength },
      );
    }
  }

  // FixedLengthStream is an IdentityTransformStream that must carry exactly n bytes: a write
  // past n, or a close before n, errors it (Cloudflare Workers).
  class FixedLengthStream extends TransformStream {
    constructor(expectedLength, options = undefined) {
      if (arguments.length < 1) throw new TypeError("FixedLengthStream: the expected length is required");
      const n = typeof expectedLength === "bigint" ? Number(expectedLength) : +expectedLength;
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError("FixedLengthStream: the expected length must be a non-negative integer");
      const { highWaterMark } = dictionary(options, "FixedLengthStream options");
      let seen = 0;
      super(
        {
          transform(chunk, controller) {
            const bytes = byteChunk(chunk, "FixedLengthStream");
            seen += bytes.byteLength;
            if (seen > n) throw new TypeError(`FixedLengthStream: more than the expected ${n} bytes were written`);
            controller.enqueue(bytes);
          },
          flush() {
            if (seen !== n) throw new TypeError(`FixedLengthStream: ${seen} bytes were written, ${n} were expected`);
          },
        },
        undefined,
        highWaterMark === undefined ? undefined : { highWaterMark, size: (c) => c.byteLength },
      );
      // a Response whose body is this readable side gets Content-Length: n (50_fetch.js)
      streamInternals.streamOf(this.readable).expectedLength = n;
    }
  }

  // ---- compression (the codec runs in the host) ----

  const compressionFormats = ["gzip", "deflate", "deflate-raw"];
  const codecHeader = new Uint8Array(4);
  const codecHeaderView = new DataView(codecHeader.buffer);

  // codecStep feeds one chunk (empty: resume) to host codec handle and gives back
  // {bytes, more}: the output so far, and whether the host holds more output for the same
  // input (a decompression is handed out in bounded slices).
  function codecStep(finish, handle, chunk) {
    const input = new Uint8Array(4 + chunk.byteLength);
    codecHeaderView.setUint32(0, handle, true);
    input.set(codecHeader, 0);
    input.set(chunk, 4);
    const out = new Uint8Array(finish ? host.bytes("codec_finish", input) : host.bytes("codec_write", input));
    return { bytes: out.subarray(1), more: out[0] === 1 };
  }

  function codecStream(kind, format) {
    const f = `${format}`;
    if (!compressionFormats.includes(f)) throw new TypeError(`Unsupported compression format: '${f}'`);
    const handle = +host.call("codec_open", jsonStringify({ __proto__: null, format: f, mode: kind }));
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      host.call("codec_close", '{"handle":' + handle + "}");
    };
    // drain hands out a step's output; while the host holds more (a decompression slice at
    // a time), it waits for the reader to want it, so a small input that inflates to a lot
    // is never all in the sandbox at once.
    const drain = async (finish, chunk, controller) => {
      let step = codecStep(finish, handle, chunk);
      for (;;) {
        if (step.bytes.byteLength) controller.enqueue(step.bytes);
        if (!step.more) return;
        while (t.backpressure && !closed) await t.backpressureChange.promise;
        if (closed) return;
        step = codecStep(false, handle, EMPTY_BYTES);
      }
    };
    const stream = new TransformStream({
      async transform(chunk, controller) {
        try {
          await drain(false, byteChunk(chunk, kind === "compress" ? "CompressionStream" : "DecompressionStream"), controller);
        } catch (e) {
          close();
          throw e;
        }
      },
      async flush(controller) {
        try {
          await drain(true, EMPTY_BYTES, controller);
        } finally {
          close();
        }
      },
      cancel() {
        close();
      },
    });
    const t = transformOf(stream);
    return stream;
  }
  const EMPTY_BYTES = new Uint8Array(0);

  class CompressionStream {
    #t;
    constructor(format) {
      if (arguments.length < 1) throw new TypeError("CompressionStream: a format is required");
      this.#t = codecStream("compress", format);
    }
    get readable() {
      return this.#t.readable;
    }
    get writable() {
      return this.#t.writable;
    }
  }

  class DecompressionStream {
    #t;
    constructor(format) {
      if (arguments.length < 1) throw new TypeError("DecompressionStream: a format is required");
      this.#t = codecStream("decompress", format);
    }
    get readable() {
      return this.#t.readable;
    }
    get writable() {
      return this.#t.writable;
    }
  }

  for (const C of [
    TextEncoderStream, TextDecoderStream, CompressionStream, DecompressionStream, IdentityTransformStream, FixedLengthStream,
  ]) {
    Object.defineProperty(C.prototype, Symbol.toStringTag, { value: C.name, configurable: true });
    Object.defineProperty(globalThis, C.name, { value: C, writable: true, configurable: true, enumerable: false });
  }
})();
