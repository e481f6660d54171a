// 55_streams.js: the rest of the WHATWG Streams standard on top of 50_fetch.js's
// ReadableStream: WritableStream (with its default writer and controller), TransformStream,
// ReadableStream.prototype.pipeTo/pipeThrough and the queuing strategies (56_streams_extras.js
// builds the encoding, compression and Workers streams on them). The algorithms follow the standard's names (WritableStreamStartErroring,
// TransformStreamSetBackpressure, ...) so that they can be checked against it.
const { transformOf, byteChunk: streamByteChunk } = (() => {
  const { streamOf: readableOf, isStream: isReadable, canEnqueue, desiredSize: readableDesiredSize, ReadableStreamDefaultReader } = streamInternals;
  const NativeAbortSignal = AbortSignal;
  const constructKey = Symbol("internal construction");
  const closeSentinel = Symbol("close");
  const noop = () => {};
  const handled = (p) => {
    p.catch(noop);
    return p;
  };
  const rejected = (e) => handled(Promise.reject(e));

  function dictionary(v, what) {
    if (v === undefined || v === null) return {};
    if (!isObject(v)) throw new TypeError(`${what} must be an object`);
    return v;
  }

  // method returns an underlying sink's (or transformer's) method bound to it, or null.
  function method(obj, name, what) {
    const fn = obj[name];
    if (fn === undefined || fn === null) return null;
    if (typeof fn !== "function") throw new TypeError(`${what}'s ${name} must be a function`);
    return (...args) => Reflect.apply(fn, obj, args);
  }

  // promiseCall runs fn (which may be null) and gives its outcome as a promise.
  // promiseCall invokes an underlying sink's or transformer's method as WebIDL invokes a
  // callback returning a promise: its result becomes "a promise resolved with" it, a new
  // promise (a promise it returns settles ours two jobs later, as in every engine).
  function promiseCall(fn, ...args) {
    if (!fn) return Promise.resolve();
    try {
      const v = fn(...args);
      return new Promise((resolve) => resolve(v));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // strategyOf reads a QueuingStrategy: {highWaterMark, size}.
  function strategyOf(strategy, defaultHWM) {
    const { highWaterMark, size } = dictionary(strategy, "The queuing strategy");
    if (size !== undefined && typeof size !== "function") throw new TypeError("The queuing strategy's size must be a function");
    const hwm = highWaterMark === undefined ? defaultHWM : +highWaterMark;
    if (Number.isNaN(hwm) || hwm < 0) throw new RangeError("The highWaterMark must be a non-negative number");
    return { hwm, size: size === undefined ? () => 1 : (chunk) => Reflect.apply(size, undefined, [chunk]) };
  }

  // ---- queuing strategies ----

  const countSize = { size: () => 1 }.size;
  const byteLengthSize = {
    size(chunk) {
      return chunk.byteLength;
    },
  }.size;

  function strategyHWM(init, what) {
    requireInit(init, what);
    if (init.highWaterMark === undefined) throw new TypeError(`${what}: highWaterMark is required`);
    return +init.highWaterMark;
  }
  function requireInit(init, what) {
    if (!isObject(init)) throw new TypeError(`${what}: the argument must be an object with a highWaterMark`);
  }

  class CountQueuingStrategy {
    #hwm;
    constructor(init) {
      this.#hwm = strategyHWM(init, "CountQueuingStrategy");
    }
    get highWaterMark() {
      return this.#hwm;
    }
    get size() {
      this.#hwm; // brand check
      return countSize;
    }
  }

  class ByteLengthQueuingStrategy {
    #hwm;
    constructor(init) {
      this.#hwm = strategyHWM(init, "ByteLengthQueuingStrategy");
    }
    get highWaterMark() {
      return this.#hwm;
    }
    get size() {
      this.#hwm;
      return byteLengthSize;
    }
  }

  // ---- WritableStream ----

  // A writable stream's internals ("w"): state ("writable" | "erroring" | "errored" |
  // "closed"), the writer record if locked, the write and close requests, and its
  // controller's queue and sink algorithms.
  let writableOf;
  let isWritable;

  function newWritable(sink, hwm, size) {
    const w = {
      state: "writable",
      storedError: undefined,
      writer: null, // {ready, closed} resolvers of the writer holding the lock
      writeRequests: [],
      inFlightWriteRequest: null,
      closeRequest: null,
      inFlightCloseRequest: null,
      pendingAbortRequest: null,
      backpressure: false,
      // the controller's part
      queue: [],
      queueTotal: 0,
      started: false,
      hwm,
      size,
      write: sink.write,
      close: sink.close,
      abort: sink.abort,
      abortController: new AbortController(),
      controller: null,
    };
    w.controller = new WritableStreamDefaultController(constructKey, w);
    return w;
  }

  // startWritable runs the sink's start and lets queued writes through once it settles.
  function startWritable(w, start) {
    let result;
    try {
      result = start ? start(w.controller) : undefined;
    } catch (e) {
      clearSink(w);
      throw e;
    }
    updateBackpressure(w, writableBackpressure(w));
    // "a promise resolved with" start's result (WebIDL): a new promise, so a promise start
    // returns (a TransformStream's start) settles it two jobs later, not at once as
    // Promise.resolve would; a readable.cancel() made right after construction sees the
    // writable still erroring, not errored (WPT transform-streams errors/general).
    new Promise((resolve) => resolve(result)).then(
      () => {
        w.started = true;
        advanceQueueIfNeeded(w);
      },
      (r) => {
        w.started = true;
        dealWithRejection(w, r);
      },
    );
  }

  function clearSink(w) {
    w.write = w.close = w.abort = null;
    w.size = () => 1;
  }

  const closeQueuedOrInFlight = (w) => w.closeRequest !== null || w.inFlightCloseRequest !== null;
  const operationInFlight = (w) => w.inFlightWriteRequest !== null || w.inFlightCloseRequest !== null;
  const writableDesiredSize = (w) => w.hwm - w.queueTotal;
  const writableBackpressure = (w) => writableDesiredSize(w) <= 0;

  function writerDesiredSize(w) {
    if (w.state === "errored" || w.state === "erroring") return null;
    if (w.state === "closed") return 0;
    return writableDesiredSize(w);
  }

  function writableAbort(w, reason) {
    if (w.state === "closed" || w.state === "errored") return Promise.resolve();
    w.abortController.abort(reason);
    if (w.state === "closed" || w.state === "errored") return Promise.resolve();
    if (w.pendingAbortRequest) return w.pendingAbortRequest.promise;
    const wasAlreadyErroring = w.state === "erroring";
    if (wasAlreadyErroring) reason = undefined;
    const request = Promise.withResolvers();
    w.pendingAbortRequest = { promise: request.promise, resolve: request.resolve, reject: request.reject, reason, wasAlreadyErroring };
    if (!wasAlreadyErroring) startErroring(w, reason);
    return request.promise;
  }

  function writableClose(w) {
    if (w.state === "closed" || w.state === "errored") return Promise.reject(new TypeError("The stream is closed or errored"));
    const request = Promise.withResolvers();
    w.closeRequest = request;
    if (w.writer && w.backpressure && w.state === "writable") {
      w.writer.ready.resolve();
      w.writer.readySettled = true;
    }
    w.queue.push([closeSentinel, 0]);
    advanceQueueIfNeeded(w);
    return request.promise;
  }

  function dealWithRejection(w, error) {
    if (w.state === "writable") startErroring(w, error);
    else finishErroring(w);
  }

  function startErroring(w, reason) {
    w.state = "erroring";
    w.storedError = reason;
    if (w.writer) rejectReady(w.writer, reason);
    if (!operationInFlight(w) && w.started) finishErroring(w);
  }

  function finishErroring(w) {
    w.state = "errored";
    w.queue = [];
    w.queueTotal = 0;
    const error = w.storedError;
    for (const request of w.writeRequests.splice(0)) request.reject(error);
    const abort = w.pendingAbortRequest;
    if (!abort) {
      rejectCloseAndClosed(w);
      return;
    }
    w.pendingAbortRequest = null;
    if (abort.wasAlreadyErroring) {
      abort.reject(error);
      rejectCloseAndClosed(w);
      return;
    }
    const result = promiseCall(w.abort, abort.reason);
    clearSink(w);
    result.then(
      () => {
        abort.resolve();
        rejectCloseAndClosed(w);
      },
      (r) => {
        abort.reject(r);
        rejectCloseAndClosed(w);
      },
    );
  }

  function rejectCloseAndClosed(w) {
    if (w.closeRequest) {
      w.closeRequest.reject(w.storedError);
      w.closeRequest = null;
    }
    if (w.writer) settleClosed(w.writer, false, w.storedError);
  }

  function rejectReady(writer, reason) {
    if (writer.readySettled) writer.ready = handledResolvers();
    writer.ready.reject(reason);
    writer.readySettled = true;
  }

  // settleClosed settles a writer's closed promise; a rejection of one already settled
  // replaces it with a rejected one (releaseLock after the stream closed).
  function settleClosed(writer, ok, error) {
    if (writer.closedSettled) {
      if (ok) return;
      writer.closed = handledResolvers();
    }
    writer.closedSettled = true;
    if (ok) writer.closed.resolve();
    else writer.closed.reject(error);
  }

  function handledResolvers() {
    const r = Promise.withResolvers();
    handled(r.promise);
    return r;
  }

  function updateBackpressure(w, backpressure) {
    if (w.writer && backpressure !== w.backpressure) {
      if (backpressure) {
        w.writer.ready = handledResolvers();
        w.writer.readySettled = false;
      } else {
        w.writer.ready.resolve();
        w.writer.readySettled = true;
      }
    }
    w.backpressure = backpressure;
  }

  // errorIfNeeded is WritableStreamDefaultControllerErrorIfNeeded.
  function errorIfNeeded(w, e) {
    if (w.state === "writable") {
      clearSink(w);
      startErroring(w, e);
    }
  }

  function advanceQueueIfNeeded(w) {
    if (!w.started || w.inFlightWriteRequest) return;
    if (w.state === "erroring") {
      finishErroring(w);
      return;
    }
    if (w.queue.length === 0) return;
    const [value] = w.queue[0];
    if (value === closeSentinel) processClose(w);
    else processWrite(w, value);
  }

  function processClose(w) {
    w.inFlightCloseRequest = w.closeRequest;
    w.closeRequest = null;
    w.queue.shift();
    const result = promiseCall(w.close);
    clearSink(w);
    result.then(
      () => {
        w.inFlightCloseRequest.resolve();
        w.inFlightCloseRequest = null;
        if (w.state === "erroring") {
          w.storedError = undefined;
          if (w.pendingAbortRequest) {
            w.pendingAbortRequest.resolve();
            w.pendingAbortRequest = null;
          }
        }
        w.state = "closed";
        w.controller = null; // it holds w: no cycle left once nothing more is written
        if (w.writer) settleClosed(w.writer, true);
      },
      (error) => {
        w.inFlightCloseRequest.reject(error);
        w.inFlightCloseRequest = null;
        if (w.pendingAbortRequest) {
          w.pendingAbortRequest.reject(error);
          w.pendingAbortRequest = null;
        }
        dealWithRejection(w, error);
      },
    );
  }

  function processWrite(w, chunk) {
    w.inFlightWriteRequest = w.writeRequests.shift();
    promiseCall(w.write, chunk, w.controller).then(
      () => {
        w.inFlightWriteRequest.resolve();
        w.inFlightWriteRequest = null;
        const [, size] = w.queue.shift();
        w.queueTotal = Math.max(0, w.queueTotal - size);
        if (!closeQueuedOrInFlight(w) && w.state === "writable") updateBackpressure(w, writableBackpressure(w));
        advanceQueueIfNeeded(w);
      },
      (error) => {
        if (w.state === "writable") clearSink(w);
        w.inFlightWriteRequest.reject(error);
        w.inFlightWriteRequest = null;
        dealWithRejection(w, error);
      },
    );
  }

  function writerWrite(w, chunk) {
    const holder = w.writer;
    let size;
    try {
      size = w.size(chunk);
    } catch (e) {
      errorIfNeeded(w, e);
      size = 1;
    }
    // strategy.size() may have released the writer (WritableStreamDefaultWriterWrite step 4)
    if (w.writer !== holder) return Promise.reject(new TypeError("The writer was released while the chunk's size was measured"));
    if (w.state === "errored" || w.state === "erroring") return Promise.reject(w.storedError);
    if (closeQueuedOrInFlight(w) || w.state === "closed") return Promise.reject(new TypeError("The stream is closing or closed"));
    const request = Promise.withResolvers();
    w.writeRequests.push(request);
    size = +size;
    if (!(size >= 0 && size < Infinity)) {
      errorIfNeeded(w, new RangeError("The chunk size must be a finite, non-negative number"));
      return request.promise;
    }
    w.queue.push([chunk, size]);
    w.queueTotal += size;
    if (!closeQueuedOrInFlight(w) && w.state === "writable") updateBackpressure(w, writableBackpressure(w));
    advanceQueueIfNeeded(w);
    return request.promise;
  }

  // closeWithErrorPropagation is WritableStreamDefaultWriterCloseWithErrorPropagation (pipes).
  function closeWithErrorPropagation(w) {
    if (closeQueuedOrInFlight(w) || w.state === "closed") return Promise.resolve();
    if (w.state === "errored") return Promise.reject(w.storedError);
    return writableClose(w);
  }

  class WritableStream {
    #w;

    constructor(underlyingSink = undefined, strategy = undefined) {
      if (underlyingSink === constructKey) {
        this.#w = strategy; // internals made by newWritable (TransformStream)
        return;
      }
      const sink = underlyingSink === undefined || underlyingSink === null ? {} : underlyingSink;
      if (!isObject(sink)) throw new TypeError("The underlying sink must be an object");
      if (sink.type !== undefined) throw new RangeError("Invalid type is specified");
      const { hwm, size } = strategyOf(strategy, 1);
      const algorithms = {
        start: method(sink, "start", "The underlying sink"),
        write: method(sink, "write", "The underlying sink"),
        close: method(sink, "close", "The underlying sink"),
        abort: method(sink, "abort", "The underlying sink"),
      };
      this.#w = newWritable(algorithms, hwm, size);
      startWritable(this.#w, algorithms.start);
    }

    get locked() {
      return this.#w.writer !== null;
    }

    abort(reason = undefined) {
      if (!isWritable(this)) return rejected(new TypeError("Illegal invocation"));
      if (this.#w.writer) return rejected(new TypeError("Cannot abort a locked WritableStream"));
      return writableAbort(this.#w, reason);
    }

    close() {
      if (!isWritable(this)) return rejected(new TypeError("Illegal invocation"));
      const w = this.#w;
      if (w.writer) return rejected(new TypeError("Cannot close a locked WritableStream"));
      if (closeQueuedOrInFlight(w)) return rejected(new TypeError("The stream is already closing"));
      return writableClose(w);
    }

    getWriter() {
      return new WritableStreamDefaultWriter(this);
    }

    static {
      writableOf = (v) => v.#w;
      isWritable = (v) => isObject(v) && #w in v;
    }
  }

  class WritableStreamDefaultController {
    #w;

    constructor(key, w) {
      if (key !== constructKey) throw new TypeError("Illegal constructor");
      this.#w = w;
    }

    get signal() {
      return this.#w.abortController.signal;
    }

    error(e = undefined) {
      if (this.#w.state !== "writable") return;
      clearSink(this.#w);
      startErroring(this.#w, e);
    }
  }

  class WritableStreamDefaultWriter {
    #w = null;
    #r; // {ready, closed, readySettled}: shared with the stream while this writer holds it

    constructor(stream) {
      if (!isWritable(stream)) throw new TypeError("WritableStreamDefaultWriter needs a WritableStream");
      const w = writableOf(stream);
      if (w.writer) throw new TypeError("WritableStream is locked to another writer");
      const r = (this.#r = { ready: handledResolvers(), closed: handledResolvers(), readySettled: false, closedSettled: false });
      this.#w = w;
      w.writer = r;
      if (w.state === "writable") {
        if (!closeQueuedOrInFlight(w) && w.backpressure) return;
        r.ready.resolve();
        r.readySettled = true;
      } else if (w.state === "erroring") {
        rejectReady(r, w.storedError);
      } else if (w.state === "closed") {
        r.ready.resolve();
        r.readySettled = true;
        settleClosed(r, true);
      } else {
        rejectReady(r, w.storedError);
        settleClosed(r, false, w.storedError);
      }
    }

    get closed() {
      return this.#r.closed.promise;
    }

    get ready() {
      return this.#r.ready.promise;
    }

    get desiredSize() {
      if (!this.#w) throw new TypeError("This writer has been released");
      return writerDesiredSize(this.#w);
    }

    abort(reason = undefined) {
      if (!this.#w) return rejected(new TypeError("This writer has been released"));
      return writableAbort(this.#w, reason);
    }

    close() {
      const w = this.#w;
      if (!w) return rejected(new TypeError("This writer has been released"));
      if (closeQueuedOrInFlight(w)) return rejected(new TypeError("The stream is already closing"));
      return writableClose(w);
    }

    write(chunk = undefined) {
      if (!this.#w) return rejected(new TypeError("This writer has been released"));
      return writerWrite(this.#w, chunk);
    }

    releaseLock() {
      const w = this.#w;
      if (!w) return;
      const released = new TypeError("The writer was released");
      const r = this.#r;
      rejectReady(r, released);
      settleClosed(r, false, released);
      w.writer = null;
      this.#w = null;
    }
  }

  // ---- pipes ----

  // pipe is ReadableStreamPipeTo: chunks move from source to dest as dest is ready, and
  // closing, errors and aborts travel along the pipe as the standard says.
  function pipe(source, dest, preventClose, preventAbort, preventCancel, signal) {
    const s = readableOf(source);
    const w = writableOf(dest);
    const reader = new ReadableStreamDefaultReader(source);
    const writer = new WritableStreamDefaultWriter(dest);
    s.disturbed = true;
    const done = Promise.withResolvers();
    let shuttingDown = false;
    let currentWrite = Promise.resolve();
    let onAbort = null;

    const finalize = (isError, error) => {
      writer.releaseLock();
      reader.releaseLock();
      if (onAbort) signal.removeEventListener("abort", onAbort);
      if (isError) done.reject(error);
      else done.resolve();
    };
    // waitForWrites lets the chunks already read reach dest before shutting down.
    const afterWrites = (fn) => {
      if (w.state === "writable" && !closeQueuedOrInFlight(w)) {
        const last = () => {
          const pending = currentWrite;
          pending.then(() => (pending === currentWrite ? fn() : last()), () => (pending === currentWrite ? fn() : last()));
        };
        last();
      } else fn();
    };
    const shutdownWithAction = (action, isError, error) => {
      if (shuttingDown) return;
      shuttingDown = true;
      afterWrites(() => {
        promiseCall(action).then(
          () => finalize(isError, error),
          (e) => finalize(true, e),
        );
      });
    };
    const shutdown = (isError, error) => {
      if (shuttingDown) return;
      shuttingDown = true;
      afterWrites(() => finalize(isError, error));
    };
    const cancelSource = (reason) => (s.state === "readable" ? reader.cancel(reason) : Promise.resolve());

    if (signal) {
      onAbort = () => {
        const error = signal.reason;
        shutdownWithAction(
          () =>
            Promise.all([
              !preventAbort && w.state === "writable" ? writableAbort(w, error) : undefined,
              !preventCancel ? cancelSource(error) : undefined,
            ]),
          true,
          error,
        );
      };
      if (signal.aborted) {
        onAbort();
        return done.promise;
      }
      signal.addEventListener("abort", onAbort);
    }

    // The states as they are, then as they change (the closed promises).
    const sourceErrored = (e) => {
      if (!preventAbort) shutdownWithAction(() => writableAbort(w, e), true, e);
      else shutdown(true, e);
    };
    const destErrored = (e) => {
      if (!preventCancel) shutdownWithAction(() => cancelSource(e), true, e);
      else shutdown(true, e);
    };
    const sourceClosed = () => {
      if (!preventClose) shutdownWithAction(() => closeWithErrorPropagation(w), false);
      else shutdown(false);
    };
    const destClosed = () => {
      const e = new TypeError("The destination writable stream closed before all data could be piped to it");
      if (!preventCancel) shutdownWithAction(() => cancelSource(e), true, e);
      else shutdown(true, e);
    };
    // A read in flight may still carry the last chunk when the source closes: the read
    // loop then sees the end itself, after writing that chunk.
    let reading = false;
    reader.closed.then(
      () => {
        if (!reading) sourceClosed();
      },
      (e) => {
        if (s.state === "errored") sourceErrored(e);
      },
    );
    writer.closed.then(noop, (e) => {
      if (w.state === "errored") destErrored(e);
    });
    if (s.state === "errored") sourceErrored(s.error);
    else if (w.state === "errored" || w.state === "erroring") destErrored(w.storedError);
    else if (s.state === "closed") sourceClosed();
    else if (closeQueuedOrInFlight(w) || w.state === "closed") destClosed();

    (async () => {
      while (!shuttingDown) {
        try {
          await writer.ready;
        } catch {
          return; // dest is erroring: writer.closed shuts the pipe down
        }
        if (shuttingDown) return;
        // closed while the loop waited for ready: nothing is left to read, and the closed
        // promise's handler (queued already) must not wait for a read that cannot carry a chunk
        if (s.state === "closed") {
          sourceClosed();
          return;
        }
        let result;
        reading = true;
        try {
          result = await reader.read();
        } catch {
          return; // the source errored: reader.closed shuts the pipe down
        } finally {
          reading = false;
        }
        if (result.done) {
          sourceClosed();
          return;
        }
        if (shuttingDown) return;
        currentWrite = handled(writer.write(result.value));
      }
    })();
    return done.promise;
  }

  // pipeOptions reads StreamPipeOptions as WebIDL does: members in name order, each
  // converted before the next is read; the signal must be a real AbortSignal.
  const signalAborted = Object.getOwnPropertyDescriptor(NativeAbortSignal.prototype, "aborted").get;
  function pipeOptions(options) {
    const o = dictionary(options, "The pipe options");
    const preventAbort = Boolean(o.preventAbort);
    const preventCancel = Boolean(o.preventCancel);
    const preventClose = Boolean(o.preventClose);
    const signal = o.signal;
    if (signal !== undefined) {
      try {
        Reflect.apply(signalAborted, signal, []);
      } catch {
        throw new TypeError("The pipe options' signal must be an AbortSignal");
      }
    }
    return { preventClose, preventAbort, preventCancel, signal };
  }

  const readableProto = ReadableStream.prototype;
  Object.defineProperties(readableProto, {
    pipeTo: {
      value: function pipeTo(destination, options = undefined) {
        if (!isReadable(this)) return rejected(new TypeError("Illegal invocation"));
        if (!isWritable(destination)) return rejected(new TypeError("ReadableStream.pipeTo's destination must be a WritableStream"));
        let o;
        try {
          o = pipeOptions(options);
        } catch (e) {
          return rejected(e);
        }
        if (readableOf(this).reader) return rejected(new TypeError("Cannot pipe a locked ReadableStream"));
        if (writableOf(destination).writer) return rejected(new TypeError("Cannot pipe to a locked WritableStream"));
        return pipe(this, destination, o.preventClose, o.preventAbort, o.preventCancel, o.signal);
      },
      writable: true,
      configurable: true,
    },
    pipeThrough: {
      value: function pipeThrough(transform, options = undefined) {
        if (!isReadable(this)) throw new TypeError("Illegal invocation");
        if (!isObject(transform)) throw new TypeError("pipeThrough needs a {writable, readable} pair");
        const readable = transform.readable; // WebIDL order: readable is checked before writable is read
        if (!isReadable(readable)) throw new TypeError("pipeThrough's transform.readable must be a ReadableStream");
        const writable = transform.writable;
        if (!isWritable(writable)) throw new TypeError("pipeThrough's transform.writable must be a WritableStream");
        const o = pipeOptions(options);
        if (readableOf(this).reader) throw new TypeError("Cannot pipe a locked ReadableStream");
        if (writableOf(writable).writer) throw new TypeError("Cannot pipe to a locked WritableStream");
        handled(pipe(this, writable, o.preventClose, o.preventAbort, o.preventCancel, o.signal));
        return readable;
      },
      writable: true,
      configurable: true,
    },
  });

  // ---- TransformStream ----

  // A transform stream's internals ("t"): its two sides, the readable side's controller,
  // the backpressure flag and the promise that changes with it, and the transformer's
  // algorithms (cleared once it finished).
  let transformOf;
  let isTransform;

  function readableError(t, e) {
    const s = readableOf(t.readable);
    if (s.state === "readable") t.readableController.error(e);
  }

  function setBackpressure(t, backpressure) {
    if (t.backpressureChange) t.backpressureChange.resolve();
    t.backpressureChange = Promise.withResolvers();
    t.backpressure = backpressure;
  }

  // clearTransformer drops the transformer's algorithms and the controller once the
  // stream finishes (flush, cancel or abort has started, with the controller in hand): the
  // controller holds t, and the cycle would otherwise wait for the cycle collector.
  function clearTransformer(t) {
    t.transform = null;
    t.flush = null;
    t.cancel = null;
    t.controller = null;
  }

  function transformError(t, e) {
    readableError(t, e);
    errorWritableAndUnblockWrite(t, e);
  }

  function errorWritableAndUnblockWrite(t, e) {
    clearTransformer(t);
    errorIfNeeded(writableOf(t.writable), e);
    if (t.backpressure) setBackpressure(t, false);
  }

  function performTransform(t, chunk) {
    const run = t.transform || ((c) => t.controller.enqueue(c));
    return promiseCall(run, chunk, t.controller).catch((r) => {
      transformError(t, r);
      throw r;
    });
  }

  function sinkWrite(t, chunk) {
    if (t.backpressure) {
      return t.backpressureChange.promise.then(() => {
        const w = writableOf(t.writable);
        if (w.state === "erroring") throw w.storedError;
        return performTransform(t, chunk);
      });
    }
    return performTransform(t, chunk);
  }

  // finishWith settles t's finish promise after run's promise, the way the standard's sink
  // abort, sink close and source cancel do. The finish promise exists before run calls the
  // transformer, so an abort or cancel that the transformer's own cancel or flush causes
  // gets it instead of calling the transformer again.
  function finishWith(t, run, ok, fail) {
    t.finish = Promise.withResolvers();
    const finish = t.finish;
    const p = run();
    clearTransformer(t);
    p.then(
      () => {
        try {
          ok();
          finish.resolve();
        } catch (e) {
          finish.reject(e);
        }
      },
      (r) => {
        fail(r);
        finish.reject(r);
      },
    );
    return finish.promise;
  }

  function sinkAbort(t, reason) {
    if (t.finish) return t.finish.promise;
    const s = readableOf(t.readable);
    return finishWith(
      t,
      () => promiseCall(t.cancel, reason),
      () => {
        if (s.state === "errored") throw s.error;
        readableError(t, reason);
      },
      (r) => readableError(t, r),
    );
  }

  function sinkClose(t) {
    if (t.finish) return t.finish.promise;
    const s = readableOf(t.readable);
    return finishWith(
      t,
      () => promiseCall(t.flush, t.controller),
      () => {
        if (s.state === "errored") throw s.error;
        if (canEnqueue(s)) t.readableController.close();
      },
      (r) => readableError(t, r),
    );
  }

  function sourceCancel(t, reason) {
    if (t.finish) return t.finish.promise;
    const w = writableOf(t.writable);
    return finishWith(
      t,
      () => promiseCall(t.cancel, reason),
      () => {
        if (w.state === "errored") throw w.storedError;
        errorIfNeeded(w, reason);
        if (t.backpressure) setBackpressure(t, false);
      },
      (r) => {
        errorIfNeeded(w, r);
        if (t.backpressure) setBackpressure(t, false);
      },
    );
  }

  class TransformStream {
    #t;

    constructor(transformer = undefined, writableStrategy = undefined, readableStrategy = undefined) {
      const tr = transformer === undefined || transformer === null ? {} : transformer;
      if (!isObject(tr)) throw new TypeError("The transformer must be an object");
      if (tr.readableType !== undefined) throw new RangeError("Invalid readableType specified");
      if (tr.writableType !== undefined) throw new RangeError("Invalid writableType specified");
      const ws = strategyOf(writableStrategy, 1);
      const rs = dictionary(readableStrategy, "The readable strategy");
      const start = method(tr, "start", "The transformer");
      const t = (this.#t = {
        readable: null,
        writable: null,
        readableController: null,
        controller: null,
        backpressure: undefined,
        backpressureChange: null,
        finish: null,
        transform: method(tr, "transform", "The transformer"),
        flush: method(tr, "flush", "The transformer"),
        cancel: method(tr, "cancel", "The transformer"),
      });
      const started = Promise.withResolvers();
      const w = newWritable(
        {
          write: (chunk) => sinkWrite(t, chunk),
          close: () => sinkClose(t),
          abort: (reason) => sinkAbort(t, reason),
        },
        ws.hwm,
        ws.size,
      );
      t.writable = createWritable(w);
      startWritable(w, () => started.promise);
      t.readable = new ReadableStream(
        {
          start: (c) => {
            t.readableController = c;
            return started.promise;
          },
          pull: () => {
            setBackpressure(t, false);
            return t.backpressureChange.promise;
          },
          cancel: (reason) => sourceCancel(t, reason),
        },
        { highWaterMark: rs.highWaterMark === undefined ? 0 : rs.highWaterMark, size: rs.size },
      );
      setBackpressure(t, true);
      t.controller = new TransformStreamDefaultController(constructKey, t);
      let result;
      try {
        result = start ? start(t.controller) : undefined;
      } catch (e) {
        started.reject(e);
        handled(started.promise);
        throw e;
      }
      started.resolve(result);
    }

    get readable() {
      return this.#t.readable;
    }

    get writable() {
      return this.#t.writable;
    }

    static {
      transformOf = (v) => v.#t;
      isTransform = (v) => isObject(v) && #t in v;
    }
  }

  // createWritable wraps internals made by newWritable in a WritableStream object.
  const createWritable = (w) => new WritableStream(constructKey, w);

  class TransformStreamDefaultController {
    #t;

    constructor(key, t) {
      if (key !== constructKey) throw new TypeError("Illegal constructor");
      this.#t = t;
    }

    get desiredSize() {
      return readableDesiredSize(readableOf(this.#t.readable));
    }

    enqueue(chunk = undefined) {
      const t = this.#t;
      const s = readableOf(t.readable);
      if (!canEnqueue(s)) throw new TypeError("The transform stream's readable side is closed or errored");
      try {
        t.readableController.enqueue(chunk);
      } catch (e) {
        errorWritableAndUnblockWrite(t, e);
        throw s.error;
      }
      const backpressure = !(s.started && canEnqueue(s) && ((s.reader && s.reader.requests.length > 0) || readableDesiredSize(s) > 0));
      if (backpressure !== t.backpressure && backpressure) setBackpressure(t, true);
    }

    error(reason = undefined) {
      transformError(this.#t, reason);
    }

    terminate() {
      const t = this.#t;
      const s = readableOf(t.readable);
      if (canEnqueue(s)) t.readableController.close();
      errorWritableAndUnblockWrite(t, new TypeError("The transform stream has been terminated"));
    }
  }

  // byteChunk copies an ArrayBuffer or view's bytes (the extras' streams carry bytes only).
  function byteChunk(chunk, what) {
    if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk.slice(0));
    if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength));
    throw new TypeError(`${what} only accepts ArrayBuffer or ArrayBufferView chunks`);
  }

  for (const C of [
    WritableStream, WritableStreamDefaultWriter, WritableStreamDefaultController, TransformStream, TransformStreamDefaultController,
    CountQueuingStrategy, ByteLengthQueuingStrategy,
  ]) {
    Object.defineProperty(C.prototype, Symbol.toStringTag, { value: C.name, configurable: true });
    Object.defineProperty(globalThis, C.name, { value: C, writable: true, configurable: true, enumerable: false });
  }

  return { transformOf, byteChunk };
})();
