// 51_bytestreams.js: readable byte streams (`type: "bytes"`) as the WHATWG Streams standard
// has them: ReadableByteStreamController (enqueue of views, byobRequest with respond and
// respondWithNewView, autoAllocateChunkSize), the pull-into descriptors behind
// ReadableStreamBYOBReader's read(view, {min}), and the tee of a byte stream. 50_fetch.js
// keeps the stream record, the readers and the default controller, and calls in here for a
// byte stream's controller, its enqueue and close, a BYOB read, a reader's release and a
// cancel. The functions follow the standard's algorithms by name (PullInto,
// FillPullIntoDescriptorFromQueue, RespondInReadableState, ...) so they can be checked
// against it; buffers are transferred (detached from the caller) where the standard says so.
const byteStreams = (() => {
  const { closeStream, errorStream, pullIfNeeded } = streamInternals;
  const transferBuffer = ArrayBuffer.prototype.transfer;
  const detachedGetter = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "detached").get;
  const bufferSlice = ArrayBuffer.prototype.slice;
  const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
  const typedArrayBuffer = Object.getOwnPropertyDescriptor(typedArrayPrototype, "buffer").get;
  const typedArrayOffset = Object.getOwnPropertyDescriptor(typedArrayPrototype, "byteOffset").get;
  const typedArrayLength = Object.getOwnPropertyDescriptor(typedArrayPrototype, "byteLength").get;
  const typedArrayElements = Object.getOwnPropertyDescriptor(typedArrayPrototype, "length").get;
  const typedArrayTag = Object.getOwnPropertyDescriptor(typedArrayPrototype, Symbol.toStringTag).get;
  const dataViewBuffer = Object.getOwnPropertyDescriptor(DataView.prototype, "buffer").get;
  const dataViewOffset = Object.getOwnPropertyDescriptor(DataView.prototype, "byteOffset").get;
  const dataViewLength = Object.getOwnPropertyDescriptor(DataView.prototype, "byteLength").get;
  const bufferLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength").get;
  const constructors = { __proto__: null };
  for (const C of [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array]) {
    constructors[C.name] = C;
  }
  if (typeof Float16Array === "function") constructors.Float16Array = Float16Array;
  const constructKey = Symbol("internal construction");

  const transfer = (buffer) => Reflect.apply(transferBuffer, buffer, []);
  const isDetached = (buffer) => Reflect.apply(detachedGetter, buffer, []);

  // viewParts reads an ArrayBufferView with the builtins (a guest's getters never run):
  // {buffer, byteOffset, byteLength, elementSize, ctor, length}, or null for anything else.
  function viewParts(view) {
    if (!ArrayBuffer.isView(view)) return null;
    const tag = Reflect.apply(typedArrayTag, view, []);
    if (tag === undefined) {
      const buffer = Reflect.apply(dataViewBuffer, view, []);
      const byteLength = isDetached(buffer) ? 0 : Reflect.apply(dataViewLength, view, []);
      const byteOffset = isDetached(buffer) ? 0 : Reflect.apply(dataViewOffset, view, []);
      return { buffer, byteOffset, byteLength, elementSize: 1, ctor: DataView, length: byteLength };
    }
    const ctor = constructors[tag];
    return {
      buffer: Reflect.apply(typedArrayBuffer, view, []),
      byteOffset: Reflect.apply(typedArrayOffset, view, []),
      byteLength: Reflect.apply(typedArrayLength, view, []),
      elementSize: ctor.BYTES_PER_ELEMENT,
      ctor,
      length: Reflect.apply(typedArrayElements, view, []),
    };
  }

  // enforceRange converts like WebIDL's [EnforceRange] unsigned long long.
  function enforceRange(v, what) {
    const n = +v;
    if (!Number.isFinite(n)) throw new TypeError(`${what} must be a finite number`);
    const i = Math.trunc(n);
    if (i < 0 || i > Number.MAX_SAFE_INTEGER) throw new TypeError(`${what} is out of range`);
    return i;
  }

  // ---- the controller's state on the stream record ----
  // s.pendingPullIntos: descriptors {buffer, bufferByteLength, byteOffset, byteLength,
  // bytesFilled, minimumFill, elementSize, ctor, readerType: "default"|"byob"|"none"};
  // s.byobRequest: the current ReadableStreamBYOBRequest or null; s.queue holds
  // [Uint8Array, byteLength] entries, each over a buffer nobody else holds.

  const hasDefaultReader = (s) => s.reader !== null && !s.reader.byob;
  const hasBYOBReader = (s) => s.reader !== null && s.reader.byob;
  const numRequests = (s) => (s.reader === null ? 0 : s.reader.requests.length);

  function fulfillRequest(s, chunk, done) {
    s.reader.requests.shift().resolve({ value: chunk, done });
  }

  function invalidateBYOBRequest(s) {
    const request = s.byobRequest;
    if (request === null) return;
    byobRequestDetach(request);
    s.byobRequest = null;
  }

  function clearPendingPullIntos(s) {
    invalidateBYOBRequest(s);
    s.pendingPullIntos = [];
  }

  function enqueueChunkToQueue(s, buffer, byteOffset, byteLength) {
    s.queue.push([new Uint8Array(buffer, byteOffset, byteLength), byteLength]);
    s.queueTotal += byteLength;
  }

  function enqueueClonedChunkToQueue(s, buffer, byteOffset, byteLength) {
    let clone;
    try {
      clone = Reflect.apply(bufferSlice, buffer, [byteOffset, byteOffset + byteLength]);
    } catch (e) {
      controllerError(s, e);
      throw e;
    }
    enqueueChunkToQueue(s, clone, 0, byteLength);
  }

  function enqueueDetachedPullIntoToQueue(s, pullInto) {
    if (pullInto.bytesFilled > 0) enqueueClonedChunkToQueue(s, pullInto.buffer, pullInto.byteOffset, pullInto.bytesFilled);
    shiftPendingPullInto(s);
  }

  const shiftPendingPullInto = (s) => s.pendingPullIntos.shift();

  function handleQueueDrain(s) {
    if (s.queueTotal === 0 && s.closeRequested) closeStream(s);
    else pullIfNeeded(s);
  }

  function fillReadRequestFromQueue(s) {
    const [chunk, size] = s.queue.shift();
    s.queueTotal -= size;
    handleQueueDrain(s);
    fulfillRequest(s, chunk, false);
  }

  function processReadRequestsUsingQueue(s) {
    while (numRequests(s) > 0 && s.queueTotal > 0) fillReadRequestFromQueue(s);
  }

  // fillPullIntoDescriptorFromQueue copies queued bytes into the descriptor's buffer, as
  // many as fit and are aligned to its element size; true when it reached its minimum.
  function fillPullIntoDescriptorFromQueue(s, pullInto) {
    const maxBytesToCopy = Math.min(s.queueTotal, pullInto.byteLength - pullInto.bytesFilled);
    const maxBytesFilled = pullInto.bytesFilled + maxBytesToCopy;
    let totalBytesToCopyRemaining = maxBytesToCopy;
    let ready = false;
    const maxAlignedBytes = maxBytesFilled - (maxBytesFilled % pullInto.elementSize);
    if (maxAlignedBytes >= pullInto.minimumFill) {
      totalBytesToCopyRemaining = maxAlignedBytes - pullInto.bytesFilled;
      ready = true;
    }
    const dest = new Uint8Array(pullInto.buffer);
    while (totalBytesToCopyRemaining > 0) {
      const head = s.queue[0];
      const chunk = head[0];
      const bytesToCopy = Math.min(totalBytesToCopyRemaining, head[1]);
      dest.set(bytesToCopy === head[1] ? chunk : chunk.subarray(0, bytesToCopy), pullInto.byteOffset + pullInto.bytesFilled);
      if (bytesToCopy === head[1]) s.queue.shift();
      else s.queue[0] = [chunk.subarray(bytesToCopy), head[1] - bytesToCopy];
      s.queueTotal -= bytesToCopy;
      pullInto.bytesFilled += bytesToCopy;
      totalBytesToCopyRemaining -= bytesToCopy;
    }
    return ready;
  }

  function processPullIntoDescriptorsUsingQueue(s) {
    const filled = [];
    while (s.pendingPullIntos.length > 0 && s.queueTotal > 0) {
      const pullInto = s.pendingPullIntos[0];
      if (!fillPullIntoDescriptorFromQueue(s, pullInto)) break;
      shiftPendingPullInto(s);
      filled.push(pullInto);
    }
    return filled;
  }

  function convertPullIntoDescriptor(pullInto) {
    const buffer = transfer(pullInto.buffer);
    const n = pullInto.bytesFilled / pullInto.elementSize;
    return new pullInto.ctor(buffer, pullInto.byteOffset, n);
  }

  function commitPullIntoDescriptor(s, pullInto) {
    const done = s.state === "closed";
    const filledView = convertPullIntoDescriptor(pullInto);
    fulfillRequest(s, filledView, done);
  }

  function commitAll(s, list) {
    for (const pullInto of list) commitPullIntoDescriptor(s, pullInto);
  }

  // ---- the controller's operations ----

  function enqueue(s, chunk) {
    const parts = viewParts(chunk);
    if (parts === null) throw new TypeError("A byte stream's chunks must be ArrayBufferViews");
    if (parts.byteLength === 0) throw new TypeError("A byte stream's chunk must not be empty");
    if (Reflect.apply(bufferLength, parts.buffer, []) === 0) throw new TypeError("A byte stream's chunk must not be a view of a detached or empty buffer");
    if (s.closeRequested || s.state !== "readable") throw new TypeError("Cannot enqueue into a stream that is closed or errored");
    const transferred = transfer(parts.buffer);
    if (s.pendingPullIntos.length > 0) {
      const first = s.pendingPullIntos[0];
      if (isDetached(first.buffer)) throw new TypeError("The BYOB request's buffer was detached");
      invalidateBYOBRequest(s);
      first.buffer = transfer(first.buffer);
      if (first.readerType === "none") enqueueDetachedPullIntoToQueue(s, first);
    }
    if (hasDefaultReader(s)) {
      processReadRequestsUsingQueue(s);
      if (numRequests(s) === 0) enqueueChunkToQueue(s, transferred, parts.byteOffset, parts.byteLength);
      else {
        if (s.pendingPullIntos.length > 0) shiftPendingPullInto(s);
        fulfillRequest(s, new Uint8Array(transferred, parts.byteOffset, parts.byteLength), false);
      }
    } else if (hasBYOBReader(s)) {
      enqueueChunkToQueue(s, transferred, parts.byteOffset, parts.byteLength);
      commitAll(s, processPullIntoDescriptorsUsingQueue(s));
    } else enqueueChunkToQueue(s, transferred, parts.byteOffset, parts.byteLength);
    pullIfNeeded(s);
  }

  function close(s) {
    if (s.closeRequested || s.state !== "readable") return;
    if (s.queueTotal > 0) {
      s.closeRequested = true;
      return;
    }
    if (s.pendingPullIntos.length > 0) {
      const first = s.pendingPullIntos[0];
      if (first.bytesFilled % first.elementSize !== 0) {
        const e = new TypeError("The stream closed with part of an element read into a view");
        controllerError(s, e);
        throw e;
      }
    }
    s.closeRequested = true;
    closeStream(s);
  }

  function controllerError(s, e) {
    if (s.state !== "readable") return;
    errorStream(s, e); // clears the queue and the pending pull-intos (reset below)
  }

  function respond(s, bytesWritten) {
    const first = s.pendingPullIntos[0];
    if (s.state === "closed") {
      if (bytesWritten !== 0) throw new TypeError("bytesWritten must be 0 once the stream is closed");
    } else {
      if (bytesWritten === 0) throw new TypeError("bytesWritten must be greater than 0 while the stream is readable");
      if (first.bytesFilled + bytesWritten > first.byteLength) throw new RangeError("bytesWritten is more than the view holds");
    }
    first.buffer = transfer(first.buffer);
    respondInternal(s, bytesWritten);
  }

  function respondWithNewView(s, view) {
    const parts = viewParts(view);
    const first = s.pendingPullIntos[0];
    if (s.state === "closed") {
      if (parts.byteLength !== 0) throw new TypeError("The view must be empty once the stream is closed");
    } else if (parts.byteLength === 0) throw new TypeError("The view must not be empty while the stream is readable");
    if (first.byteOffset + first.bytesFilled !== parts.byteOffset) throw new RangeError("The view does not start where the BYOB request's view does");
    if (first.bufferByteLength !== Reflect.apply(bufferLength, parts.buffer, [])) throw new RangeError("The view's buffer is not the size of the BYOB request's buffer");
    if (first.bytesFilled + parts.byteLength > first.byteLength) throw new RangeError("The view is larger than the BYOB request's view");
    const n = parts.byteLength;
    first.buffer = transfer(parts.buffer);
    respondInternal(s, n);
  }

  function respondInternal(s, bytesWritten) {
    const first = s.pendingPullIntos[0];
    invalidateBYOBRequest(s);
    if (s.state === "closed") respondInClosedState(s, first);
    else respondInReadableState(s, bytesWritten, first);
    pullIfNeeded(s);
  }

  function respondInClosedState(s, first) {
    if (first.readerType === "none") shiftPendingPullInto(s);
    if (!hasBYOBReader(s)) return;
    const filled = [];
    while (filled.length < numRequests(s) && s.pendingPullIntos.length > 0) filled.push(shiftPendingPullInto(s));
    commitAll(s, filled);
  }

  function respondInReadableState(s, bytesWritten, pullInto) {
    pullInto.bytesFilled += bytesWritten;
    if (pullInto.readerType === "none") {
      enqueueDetachedPullIntoToQueue(s, pullInto);
      commitAll(s, processPullIntoDescriptorsUsingQueue(s));
      return;
    }
    if (pullInto.bytesFilled < pullInto.minimumFill) return;
    shiftPendingPullInto(s);
    const remainder = pullInto.bytesFilled % pullInto.elementSize;
    if (remainder > 0) {
      const end = pullInto.byteOffset + pullInto.bytesFilled;
      enqueueClonedChunkToQueue(s, pullInto.buffer, end - remainder, remainder);
    }
    pullInto.bytesFilled -= remainder;
    const filled = processPullIntoDescriptorsUsingQueue(s);
    commitPullIntoDescriptor(s, pullInto);
    commitAll(s, filled);
  }

  // pullInto is a BYOB read of view: at once from the queue when it holds enough, or a
  // pending descriptor the source fills (byobRequest) or later enqueues fill.
  function pullInto(s, parts, min) {
    const minimumFill = min * parts.elementSize;
    let buffer;
    try {
      buffer = transfer(parts.buffer);
    } catch (e) {
      return Promise.reject(e);
    }
    const descriptor = {
      buffer,
      bufferByteLength: Reflect.apply(bufferLength, buffer, []),
      byteOffset: parts.byteOffset,
      byteLength: parts.byteLength,
      bytesFilled: 0,
      minimumFill,
      elementSize: parts.elementSize,
      ctor: parts.ctor,
      readerType: "byob",
    };
    const request = Promise.withResolvers();
    if (s.pendingPullIntos.length > 0) {
      s.pendingPullIntos.push(descriptor);
      s.reader.requests.push(request);
      return request.promise;
    }
    if (s.state === "closed") return Promise.resolve({ value: new parts.ctor(buffer, parts.byteOffset, 0), done: true });
    if (s.queueTotal > 0) {
      if (fillPullIntoDescriptorFromQueue(s, descriptor)) {
        const filledView = convertPullIntoDescriptor(descriptor);
        handleQueueDrain(s);
        return Promise.resolve({ value: filledView, done: false });
      }
      if (s.closeRequested) {
        const e = new TypeError("The stream closed before the view's minimum could be filled");
        controllerError(s, e);
        return Promise.reject(e);
      }
    }
    s.pendingPullIntos.push(descriptor);
    s.reader.requests.push(request);
    pullIfNeeded(s);
    return request.promise;
  }

  // ---- the classes ----

  let byobRequestDetach;
  let byobRequestOf;

  class ReadableStreamBYOBRequest {
    #s = null; // the stream record while this request is current
    #view = null;

    constructor(key, s, view) {
      if (key !== constructKey) throw new TypeError("Illegal constructor");
      this.#s = s;
      this.#view = view;
    }

    get view() {
      return this.#view;
    }

    respond(bytesWritten) {
      if (arguments.length < 1) throw new TypeError("ReadableStreamBYOBRequest.respond: 1 argument required");
      const n = enforceRange(bytesWritten, "bytesWritten");
      if (this.#s === null) throw new TypeError("This BYOB request is no longer current");
      if (isDetached(viewParts(this.#view).buffer)) throw new TypeError("The BYOB request's buffer was detached");
      respond(this.#s, n);
    }

    respondWithNewView(view) {
      if (arguments.length < 1) throw new TypeError("ReadableStreamBYOBRequest.respondWithNewView: 1 argument required");
      const parts = viewParts(view);
      if (parts === null) throw new TypeError("respondWithNewView needs an ArrayBufferView");
      if (this.#s === null) throw new TypeError("This BYOB request is no longer current");
      if (isDetached(parts.buffer)) throw new TypeError("The view's buffer is detached");
      respondWithNewView(this.#s, view);
    }

    static {
      byobRequestDetach = (r) => {
        r.#s = null;
        r.#view = null;
      };
      byobRequestOf = (s) => {
        if (s.byobRequest === null && s.pendingPullIntos.length > 0) {
          const first = s.pendingPullIntos[0];
          const view = new Uint8Array(first.buffer, first.byteOffset + first.bytesFilled, first.byteLength - first.bytesFilled);
          s.byobRequest = new ReadableStreamBYOBRequest(constructKey, s, view);
        }
        return s.byobRequest;
      };
    }
  }

  class ReadableByteStreamController {
    #s;

    constructor(key, s) {
      if (key !== constructKey) throw new TypeError("Illegal constructor");
      this.#s = s;
    }

    get byobRequest() {
      return byobRequestOf(this.#s);
    }

    get desiredSize() {
      const s = this.#s;
      if (s.state === "errored") return null;
      if (s.state === "closed") return 0;
      return s.highWaterMark - s.queueTotal;
    }

    close() {
      const s = this.#s;
      if (s.closeRequested) throw new TypeError("The stream is already closing");
      if (s.state !== "readable") throw new TypeError("The stream is already closed or errored");
      close(s);
    }

    enqueue(chunk) {
      if (arguments.length < 1) throw new TypeError("ReadableByteStreamController.enqueue: 1 argument required");
      enqueue(this.#s, chunk);
    }

    error(e = undefined) {
      controllerError(this.#s, e);
    }
  }

  for (const C of [ReadableByteStreamController, ReadableStreamBYOBRequest]) {
    Object.defineProperty(C.prototype, Symbol.toStringTag, { value: C.name, configurable: true });
    Object.defineProperty(globalThis, C.name, { value: C, writable: true, configurable: true, enumerable: false });
  }

  // ---- tee ----

  // tee is the standard's ReadableByteStreamTee: two byte streams that see the same bytes,
  // the second branch a copy of each chunk. A branch that pulls for a BYOB read has the
  // source read straight into its view (a BYOB reader on the source), the other branch
  // getting a copy; a default read pulls with a default reader. The reader on the source is
  // switched between the two as the branches ask.
  function tee(stream, ReadableStream, ReadableStreamDefaultReader, ReadableStreamBYOBReader) {
    let reader = new ReadableStreamDefaultReader(stream);
    let byobReader = false;
    let reading = false;
    const readAgain = [false, false];
    const canceled = [false, false];
    const reasons = [undefined, undefined];
    const records = [null, null];
    const cancelPromise = Promise.withResolvers();
    const anyLive = () => !canceled[0] || !canceled[1];
    const errorBoth = (e) => {
      controllerError(records[0], e);
      controllerError(records[1], e);
    };
    const forwardReaderError = (thisReader) => {
      thisReader.closed.catch((r) => {
        if (thisReader !== reader) return;
        errorBoth(r);
        if (anyLive()) cancelPromise.resolve();
      });
    };
    const readAgainAfter = () => {
      reading = false;
      if (readAgain[0]) pull(0);
      else if (readAgain[1]) pull(1);
    };
    const cloneOrCancel = (chunk) => {
      try {
        return new Uint8Array(chunk);
      } catch (e) {
        errorBoth(e);
        cancelPromise.resolve(reader.cancel(e));
        return null;
      }
    };

    function pullWithDefaultReader() {
      if (byobReader) {
        reader.releaseLock();
        reader = new ReadableStreamDefaultReader(stream);
        byobReader = false;
        forwardReaderError(reader);
      }
      reader.read().then(
        ({ value, done }) => {
          if (done) {
            reading = false;
            for (const i of [0, 1]) if (!canceled[i]) close(records[i]);
            for (const i of [0, 1]) if (records[i].pendingPullIntos.length > 0) respond(records[i], 0);
            if (anyLive()) cancelPromise.resolve();
            return;
          }
          readAgain[0] = readAgain[1] = false;
          let second = value;
          if (!canceled[0] && !canceled[1]) {
            second = cloneOrCancel(value);
            if (second === null) return;
          }
          if (!canceled[0]) enqueue(records[0], value);
          if (!canceled[1]) enqueue(records[1], second);
          readAgainAfter();
        },
        () => {
          reading = false;
        },
      );
    }

    function pullWithBYOBReader(view, i) {
      if (!byobReader) {
        reader.releaseLock();
        reader = new ReadableStreamBYOBReader(stream);
        byobReader = true;
        forwardReaderError(reader);
      }
      const other = 1 - i;
      reader.read(view).then(
        ({ value, done }) => {
          if (done) {
            reading = false;
            if (!canceled[i]) close(records[i]);
            if (!canceled[other]) close(records[other]);
            if (value !== undefined) {
              if (!canceled[i]) respondWithNewView(records[i], value);
              if (!canceled[other] && records[other].pendingPullIntos.length > 0) respond(records[other], 0);
            }
            if (anyLive()) cancelPromise.resolve();
            return;
          }
          readAgain[0] = readAgain[1] = false;
          if (!canceled[other]) {
            const copy = cloneOrCancel(value);
            if (copy === null) return;
            if (!canceled[i]) respondWithNewView(records[i], value);
            enqueue(records[other], copy);
          } else if (!canceled[i]) respondWithNewView(records[i], value);
          readAgainAfter();
        },
        () => {
          reading = false;
        },
      );
    }

    function pull(i) {
      if (reading) {
        readAgain[i] = true;
        return undefined;
      }
      reading = true;
      const request = byobRequestOf(records[i]);
      if (request === null) pullWithDefaultReader();
      else pullWithBYOBReader(request.view, i);
      return undefined;
    }

    const branch = (i) =>
      new ReadableStream({
        type: "bytes",
        start() {},
        pull: () => pull(i),
        cancel(reason) {
          canceled[i] = true;
          reasons[i] = reason;
          if (canceled[1 - i]) cancelPromise.resolve(reader.cancel([reasons[0], reasons[1]]));
          return cancelPromise.promise;
        },
      });
    const branches = [branch(0), branch(1)];
    records[0] = streamInternals.streamOf(branches[0]);
    records[1] = streamInternals.streamOf(branches[1]);
    forwardReaderError(reader);
    return branches;
  }

  return {
    // setUp makes s a byte stream's record and returns its controller (the standard's
    // SetUpReadableByteStreamControllerFromUnderlyingSource, less the start call).
    setUp(s, source, sizeGiven) {
      if (sizeGiven) throw new RangeError("A byte stream's queuing strategy cannot have a size");
      const auto = source.autoAllocateChunkSize;
      s.autoAllocateChunkSize = undefined;
      if (auto !== undefined) {
        const n = enforceRange(auto, "autoAllocateChunkSize");
        if (n === 0) throw new TypeError("autoAllocateChunkSize must be greater than 0");
        s.autoAllocateChunkSize = n;
      }
      s.pendingPullIntos = [];
      s.byobRequest = null;
      return new ReadableByteStreamController(constructKey, s);
    },
    enqueue,
    close,
    // read is ReadableStreamBYOBReader.read(view, options) once the reader holds s.
    read(s, view, options) {
      const parts = viewParts(view);
      if (parts === null) return Promise.reject(new TypeError("ReadableStreamBYOBReader.read needs an ArrayBufferView"));
      if (parts.byteLength === 0) return Promise.reject(new TypeError("ReadableStreamBYOBReader.read needs a view of at least one byte"));
      if (Reflect.apply(bufferLength, parts.buffer, []) === 0) return Promise.reject(new TypeError("The view's buffer is detached or empty"));
      let min = 1;
      if (options !== undefined && options !== null) {
        if (!isObject(options)) return Promise.reject(new TypeError("The read options must be an object"));
        if (options.min !== undefined) {
          try {
            min = enforceRange(options.min, "min");
          } catch (e) {
            return Promise.reject(e);
          }
        }
      }
      if (min === 0) return Promise.reject(new TypeError("min must be greater than 0"));
      if (min > parts.length) return Promise.reject(new RangeError("min is more than the view's length"));
      s.disturbed = true;
      if (s.state === "errored") return Promise.reject(s.error);
      return pullInto(s, parts, min);
    },
    // autoAllocate adds the pull-into descriptor a default read of an empty queue gets when
    // the source asked for autoAllocateChunkSize (so the source sees a byobRequest).
    autoAllocate(s) {
      if (s.autoAllocateChunkSize === undefined) return;
      const n = s.autoAllocateChunkSize;
      s.pendingPullIntos.push({
        buffer: new ArrayBuffer(n),
        bufferByteLength: n,
        byteOffset: 0,
        byteLength: n,
        bytesFilled: 0,
        minimumFill: 1,
        elementSize: 1,
        ctor: Uint8Array,
        readerType: "default",
      });
    },
    // released is the controller's release steps: a pending read's descriptor stays, marked
    // as no reader's, so bytes the source writes into it are not lost.
    released(s) {
      if (s.pendingPullIntos.length === 0) return;
      const first = s.pendingPullIntos[0];
      first.readerType = "none";
      s.pendingPullIntos = [first];
    },
    // reset drops what the controller holds when the stream is canceled or errored.
    reset(s) {
      clearPendingPullIntos(s);
    },
    tee,
  };
})();
