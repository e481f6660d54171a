// glue.c: the C side of an isobox JavaScript sandbox. It owns one QuickJS-ng runtime and
// context per wasm instance and is the only code between the guest and the host:
//
//   imports (module "isobox"):
//     interrupt()                      -> 1 stops the running JS (CPU/wall/memory limit hit)
//     call(op, op_len, in, in_len)     -> n >= 0: answer of n bytes waiting on the host,
//                                         n < 0: an error of -n-1 bytes ("Name\nmessage")
//     take(dst)                        copies the waiting answer to dst (0 discards it)
//   export: ib_call(op, a, b, c), one entry point for every operation (OP_* below): wazero
//           gives each exported function it calls its own native stack, so one export
//           keeps a sandbox's footprint small.
//
// Nothing else is compiled in: no quickjs-libc, so the std/os modules (files, processes,
// environment) do not exist in the sandbox at all.
//
// quickjs.c is compiled as part of this file (a unity build) so that ib_init can set the
// stack limit, which QuickJS-ng switches off for WASI builds.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "quickjs.c"

#define IMPORT(name) __attribute__((import_module("isobox"), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

IMPORT("interrupt") int32_t host_interrupt(void);
IMPORT("call") int32_t host_call(const char *op, int32_t op_len, const void *in, int32_t in_len);
IMPORT("take") void host_take(void *dst);

static JSRuntime *rt;
static JSContext *ctx;
static JSValue dispatch_fn;

// The last error (JSON) or output (bytecode) handed back to the host.
static char *err_buf;
static size_t err_len;
static uint8_t *out_buf;
static size_t out_len;

static int on_interrupt(JSRuntime *r, void *opaque) { return host_interrupt(); }

// call_host runs a host operation. On success *out is a malloc'd, NUL-terminated answer.
// It returns 0 on success, 1 for a host-reported error (then *out holds "Name\nmessage"),
// and -1 when the answer could not be stored (out of memory).
static int call_host(const char *op, size_t op_len, const void *in, size_t in_len, char **out,
                     size_t *out_n) {
  int32_t r = host_call(op, (int32_t)op_len, in, (int32_t)in_len);
  int failed = r < 0;
  size_t n = failed ? (size_t)(-(int64_t)r - 1) : (size_t)r;
  char *buf = malloc(n + 1);
  if (!buf) {
    host_take(0);
    return -1;
  }
  host_take(buf);
  buf[n] = 0;
  *out = buf;
  *out_n = n;
  return failed;
}

// throw_host_error turns "Name\nmessage" into a thrown JS error of that class.
static JSValue throw_host_error(JSContext *c, const char *msg) {
  const char *nl = strchr(msg, '\n');
  const char *text = nl ? nl + 1 : msg;
  size_t name_len = nl ? (size_t)(nl - msg) : 0;
  if (name_len == 9 && !strncmp(msg, "TypeError", 9)) return JS_ThrowTypeError(c, "%s", text);
  if (name_len == 10 && !strncmp(msg, "RangeError", 10)) return JS_ThrowRangeError(c, "%s", text);
  if (name_len == 11 && !strncmp(msg, "SyntaxError", 11)) return JS_ThrowSyntaxError(c, "%s", text);
  JSValue e = JS_NewError(c);
  JS_SetPropertyStr(c, e, "message", JS_NewString(c, text));
  if (name_len > 0) JS_SetPropertyStr(c, e, "name", JS_NewStringLen(c, msg, name_len));
  return JS_Throw(c, e);
}

// payload_bytes gives the bytes of a string, ArrayBuffer or typed array argument.
// *str is set when a C string was allocated and must be freed with JS_FreeCString.
static int payload_bytes(JSContext *c, JSValueConst v, const uint8_t **p, size_t *n,
                         const char **str) {
  *str = 0;
  *p = 0;
  *n = 0;
  if (JS_IsUndefined(v) || JS_IsNull(v)) return 0;
  if (JS_IsString(v)) {
    *str = JS_ToCStringLen(c, n, v);
    if (!*str) return -1;
    *p = (const uint8_t *)*str;
    return 0;
  }
  size_t size;
  uint8_t *buf;
  // A typed array (most payloads: bodies, digests, codec chunks) is asked for its buffer
  // first: JS_GetArrayBuffer of one throws, and making that TypeError (with its stack
  // trace) cost more than the rest of the host call.
  if (JS_GetTypedArrayType(v) < 0) {
    buf = JS_GetArrayBuffer(c, &size, v);
    if (buf) {
      *p = buf;
      *n = size;
      return 0;
    }
    JS_FreeValue(c, JS_GetException(c));
  }
  size_t off, len, bpe;
  JSValue ab = JS_GetTypedArrayBuffer(c, v, &off, &len, &bpe);
  if (JS_IsException(ab)) {
    JS_FreeValue(c, JS_GetException(c));
    JS_ThrowTypeError(c, "host payload must be a string, ArrayBuffer or ArrayBufferView");
    return -1;
  }
  buf = JS_GetArrayBuffer(c, &size, ab);
  JS_FreeValue(c, ab);
  if (!buf) return -1;
  *p = buf + off;
  *n = len;
  return 0;
}

// js_host implements __isobox_host (magic 0: string answer) and __isobox_host_bytes
// (magic 1: ArrayBuffer answer).
static JSValue js_host(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv,
                       int magic) {
  size_t op_len;
  const char *op = JS_ToCStringLen(c, &op_len, argv[0]);
  if (!op) return JS_EXCEPTION;
  const uint8_t *in;
  size_t in_len;
  const char *str;
  if (payload_bytes(c, argc > 1 ? argv[1] : JS_UNDEFINED, &in, &in_len, &str) < 0) {
    JS_FreeCString(c, op);
    return JS_EXCEPTION;
  }
  char *out;
  size_t out_n;
  int r = call_host(op, op_len, in, in_len, &out, &out_n);
  JS_FreeCString(c, op);
  if (str) JS_FreeCString(c, str);
  if (r < 0) return JS_ThrowOutOfMemory(c);
  JSValue ret;
  if (r > 0)
    ret = throw_host_error(c, out);
  else if (magic)
    ret = JS_NewArrayBufferCopy(c, (const uint8_t *)out, out_n);
  else
    ret = JS_NewStringLen(c, out, out_n);
  free(out);
  return ret;
}

static JSValue js_set_dispatch(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
  if (!JS_IsFunction(c, argv[0])) return JS_ThrowTypeError(c, "dispatch must be a function");
  JS_FreeValue(c, dispatch_fn);
  dispatch_fn = JS_DupValue(c, argv[0]);
  return JS_UNDEFINED;
}

// js_eval_async evaluates a script that may use top-level await; it returns a promise.
static JSValue js_eval_async(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
  size_t len;
  const char *code = JS_ToCStringLen(c, &len, argv[0]);
  if (!code) return JS_EXCEPTION;
  const char *name = argc > 1 ? JS_ToCString(c, argv[1]) : 0;
  JSValue v = JS_Eval(c, code, len, name ? name : "<eval>", JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_ASYNC);
  JS_FreeCString(c, code);
  if (name) JS_FreeCString(c, name);
  return v;
}

// js_eval_script evaluates a sloppy-mode global script under a file name (CommonJS
// modules) and returns its completion value.
static JSValue js_eval_script(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
  size_t len;
  const char *code = JS_ToCStringLen(c, &len, argv[0]);
  if (!code) return JS_EXCEPTION;
  const char *name = argc > 1 ? JS_ToCString(c, argv[1]) : 0;
  JSValue v = JS_Eval(c, code, len, name ? name : "<script>", JS_EVAL_TYPE_GLOBAL);
  JS_FreeCString(c, code);
  if (name) JS_FreeCString(c, name);
  return v;
}

// js_utf8 returns the UTF-8 bytes of a string as a new Uint8Array: TextEncoder's encode in
// one pass of C (an interpreted loop costs ~0.2 µs a character). The runtime hands it
// well-formed strings only: QuickJS keeps a lone surrogate as its three WTF-8 bytes. The
// copy is an allocation of the result's size, which the poll's work sum counts.
static JSValue js_utf8(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
  size_t len;
  const char *s = JS_ToCStringLen(c, &len, argv[0]);
  if (!s) return JS_EXCEPTION;
  JSValue out = JS_NewUint8ArrayCopy(c, (const uint8_t *)s, len);
  JS_FreeCString(c, s);
  return out;
}

// js_header_value_plain reports whether a string is a header value that the Fetch
// standard's normalization and checks leave as it is: every character in U+0009 (tab),
// U+0020-U+007E or U+0080-U+00FF, and neither the first nor the last a tab or space. The
// runtime's Headers take such a value as it is (most values are), without the regular
// expression the general path runs (~3 µs a value in the interpreter). It reads the
// string's UTF-8 form, where U+0080-U+00FF are the two-byte sequences led by 0xC2 and 0xC3
// and every other character above U+007E (lone surrogates included, as their WTF-8 bytes)
// has a lead byte from 0xC4 up. Anything but a string is not plain.
static JSValue js_header_value_plain(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
  if (argc < 1 || !JS_IsString(argv[0])) return JS_FALSE;
  size_t len;
  const char *s = JS_ToCStringLen(c, &len, argv[0]);
  if (!s) return JS_EXCEPTION;
  const uint8_t *p = (const uint8_t *)s;
  int plain = 1;
  for (size_t i = 0; i < len && plain; i++) {
    uint8_t b = p[i];
    if (b == 0x09 || b == 0x20) {
      plain = i > 0 && i + 1 < len;
    } else if (b >= 0x21 && b <= 0x7e) {
      continue;
    } else if ((b == 0xc2 || b == 0xc3) && i + 1 < len && (p[i + 1] & 0xc0) == 0x80) {
      i++; // U+0080-U+00FF: never whitespace, so first or last is fine
    } else {
      plain = 0;
    }
  }
  JS_FreeCString(c, s);
  return JS_NewBool(c, plain);
}

// utf8_valid reports whether p[0..n) is well-formed UTF-8 (Unicode table 3-7: no overlong
// forms, no surrogates, nothing above U+10FFFF, no sequence cut off at the end).
static int utf8_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t b = p[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b == 0xe0) lo = 0xa0;
      if (b == 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b == 0xf0) lo = 0x90;
      if (b == 0xf4) hi = 0x8f;
    } else {
      return 0;
    }
    if (n - i - 1 < need || p[i + 1] < lo || p[i + 1] > hi) return 0;
    for (size_t k = 2; k <= need; k++)
      if ((p[i + k] & 0xc0) != 0x80) return 0;
    i += need + 1;
  }
  return 1;
}

// js_utf8_decode returns the string a Uint8Array (or other byte payload) of well-formed
// UTF-8 holds, or null when it is not well-formed: the runtime then decodes it in JS, with
// the Encoding Standard's replacement of each maximal ill-formed subsequence. The string
// is an allocation of the input's size or more, which the poll's work sum counts.
static JSValue js_utf8_decode(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
  const uint8_t *p;
  size_t n;
  const char *str;
  if (payload_bytes(c, argv[0], &p, &n, &str) < 0) return JS_EXCEPTION;
  JSValue out = utf8_valid(p, n) ? JS_NewStringLen(c, (const char *)p, n) : JS_NULL;
  if (str) JS_FreeCString(c, str);
  return out;
}

// Module names are resolved and sources supplied by the host (the worker's module map).
static char *module_normalize(JSContext *c, const char *base, const char *name, void *opaque) {
  size_t bl = strlen(base), nl = strlen(name);
  char *in = malloc(bl + nl + 1);
  if (!in) {
    JS_ThrowOutOfMemory(c);
    return 0;
  }
  memcpy(in, base, bl);
  in[bl] = 0;
  memcpy(in + bl + 1, name, nl);
  char *out;
  size_t out_n;
  int r = call_host("module_resolve", 14, in, bl + nl + 1, &out, &out_n);
  free(in);
  if (r < 0) {
    JS_ThrowOutOfMemory(c);
    return 0;
  }
  if (r > 0) {
    throw_host_error(c, out);
    free(out);
    return 0;
  }
  char *res = js_malloc(c, out_n + 1);
  if (res) memcpy(res, out, out_n + 1);
  free(out);
  return res;
}

static JSModuleDef *module_load(JSContext *c, const char *name, void *opaque) {
  char *src;
  size_t n;
  int r = call_host("module_source", 13, name, strlen(name), &src, &n);
  if (r < 0) {
    JS_ThrowOutOfMemory(c);
    return 0;
  }
  if (r > 0) {
    throw_host_error(c, src);
    free(src);
    return 0;
  }
  JSValue fn = JS_Eval(c, src, n, name, JS_EVAL_TYPE_MODULE | JS_EVAL_FLAG_COMPILE_ONLY);
  free(src);
  if (JS_IsException(fn)) return 0;
  JSModuleDef *m = JS_VALUE_GET_PTR(fn);
  JS_FreeValue(c, fn);
  return m;
}

// record_exception stores the pending exception as JSON {name, message, stack, uncatchable}.
static void record_exception(void) {
  JSValue e = JS_GetException(ctx);
  int uncatchable = JS_IsUncatchableError(e);
  JSValue o = JS_NewObject(ctx);
  if (JS_IsError(e)) {
    JS_SetPropertyStr(ctx, o, "name", JS_GetPropertyStr(ctx, e, "name"));
    JS_SetPropertyStr(ctx, o, "message", JS_GetPropertyStr(ctx, e, "message"));
    JS_SetPropertyStr(ctx, o, "stack", JS_GetPropertyStr(ctx, e, "stack"));
  } else {
    JS_SetPropertyStr(ctx, o, "message", JS_ToString(ctx, e));
  }
  JS_SetPropertyStr(ctx, o, "uncatchable", JS_NewBool(ctx, uncatchable));
  JS_FreeValue(ctx, e);
  JSValue s = JS_JSONStringify(ctx, o, JS_UNDEFINED, JS_UNDEFINED);
  JS_FreeValue(ctx, o);
  free(err_buf);
  err_buf = 0;
  err_len = 0;
  size_t n;
  const char *cs = JS_IsException(s) ? 0 : JS_ToCStringLen(ctx, &n, s);
  if (!cs) {
    // Even the description failed (out of memory, or interrupted again): keep a fixed one.
    JS_FreeValue(ctx, JS_GetException(ctx));
    static const char fallback[] = "{\"name\":\"InternalError\",\"message\":\"exception could not be described\",\"uncatchable\":true}";
    cs = fallback;
    n = sizeof(fallback) - 1;
    err_buf = malloc(n);
    if (err_buf) {
      memcpy(err_buf, cs, n);
      err_len = n;
    }
    JS_FreeValue(ctx, s);
    return;
  }
  err_buf = malloc(n);
  if (err_buf) {
    memcpy(err_buf, cs, n);
    err_len = n;
  }
  JS_FreeCString(ctx, cs);
  JS_FreeValue(ctx, s);
}

static void set_global_fn(const char *name, JSCFunction *fn, int len) {
  JSValue g = JS_GetGlobalObject(ctx);
  JS_SetPropertyStr(ctx, g, name, JS_NewCFunction(ctx, fn, name, len));
  JS_FreeValue(ctx, g);
}

static int32_t ib_init(int32_t max_stack) {
  rt = JS_NewRuntime();
  if (!rt) return -1;
  JS_SetInterruptHandler(rt, on_interrupt, 0);
  // QuickJS-ng disables its stack check under __wasi__; the shadow stack lives in linear
  // memory and grows down, so the check works as on native targets. Without it deep
  // recursion runs off the bottom of the stack instead of throwing RangeError.
  rt->stack_size = (size_t)max_stack;
  rt->stack_top = js_get_stack_pointer();
  rt->stack_limit = rt->stack_top - rt->stack_size;
  JS_SetModuleLoaderFunc(rt, module_normalize, module_load, 0);
  ctx = JS_NewContext(rt);
  if (!ctx) return -2;
  if (JS_AddIntrinsicDOMException(ctx)) return -3;
  dispatch_fn = JS_UNDEFINED;
  JSValue g = JS_GetGlobalObject(ctx);
  JS_SetPropertyStr(ctx, g, "__isobox_host",
                    JS_NewCFunctionMagic(ctx, js_host, "__isobox_host", 2, JS_CFUNC_generic_magic, 0));
  JS_SetPropertyStr(ctx, g, "__isobox_host_bytes",
                    JS_NewCFunctionMagic(ctx, js_host, "__isobox_host_bytes", 2, JS_CFUNC_generic_magic, 1));
  JS_FreeValue(ctx, g);
  set_global_fn("__isobox_set_dispatch", js_set_dispatch, 1);
  set_global_fn("__isobox_eval", js_eval_async, 2);
  set_global_fn("__isobox_eval_script", js_eval_script, 2);
  set_global_fn("__isobox_utf8", js_utf8, 1);
  set_global_fn("__isobox_utf8_decode", js_utf8_decode, 1);
  set_global_fn("__isobox_header_value_plain", js_header_value_plain, 1);
  return 0;
}

// ib_reseed gives a sandbox restored from a memory image its own Math.random sequence and
// time origin (the image carries the ones of the sandbox it was taken from). Seed 0 sets
// fixed values instead, so that the base image is the same in every process.
static void ib_reseed(uint64_t seed) {
  ctx->random_state = seed ? seed : 1;
  ctx->time_origin = seed ? js__now_ms() : 0;
  JSValue perf = JS_GetPropertyStr(ctx, ctx->global_obj, "performance");
  if (JS_IsObject(perf))
    JS_DefinePropertyValueStr(ctx, perf, "timeOrigin", js_float64(ctx->time_origin), JS_PROP_ENUMERABLE);
  JS_FreeValue(ctx, perf);
}

// ib_settle collects garbage and sets the next collection to happen only after `extra`
// more bytes are allocated. A collection touches every object, so in a sandbox restored
// from an image it turns every shared page into a private copy; QuickJS frees most garbage
// by reference counting, and the cycle collector can wait.
//
// It also gives the shape hash table room for shapeRoom more shapes: QuickJS doubles the
// table when it is half full and relinks every shape into the new one, so the worker whose
// few new shapes crossed that line wrote a pointer into every shape of the image, and each
// page holding one became its private copy (~30 pages of an idle hello worker). Run it
// once, on the base image.
static void ib_settle(uint32_t extra) {
  JS_RunGC(rt);
  rt->malloc_gc_threshold = rt->malloc_state.malloc_size + extra;
  enum { shapeRoom = 512 };
  int bits = rt->shape_hash_bits;
  while (2 * (rt->shape_hash_count + shapeRoom) > (1 << bits))
    bits++;
  if (bits != rt->shape_hash_bits)
    resize_shape_hash(rt, bits);
  // The image's atoms become immortal (patches/0003): a worker that names a property or
  // global of the runtime no longer raises a reference count in the page of its string.
  JS_FreezeAtoms(rt, 1024);
}

// ib_plug_holes allocates (and keeps) the free chunks scattered through the heap, so that
// what a sandbox restored from the image allocates comes from the top of the heap, in
// fresh contiguous pages, instead of being written into holes spread over pages it shares
// with the image. The plugged chunks are never touched again: they stay shared.
static int32_t ib_plug_holes(void) {
  void *big = malloc(256 << 10); // served from the top: where the top starts now
  if (!big) return -1;
  uintptr_t top = (uintptr_t)big;
  free(big);
  int32_t plugged = 0;
  for (size_t size = 65536; size >= 16; size /= 2) {
    for (int i = 0; i < 100000; i++) {
      void *p = malloc(size);
      if (!p) return plugged;
      if ((uintptr_t)p >= top) {
        free(p);
        break;
      }
      plugged++;
    }
  }
  return plugged;
}

// OP_STACK_TOP answers (about) where the stack starts: the whole stack below it is dead
// while no guest call runs, so snapshots leave it out.

static void *ib_malloc(int32_t n) { return malloc((size_t)n); }
static void ib_free(void *p) { free(p); }
static const char *ib_error_ptr(void) { return err_buf; }
static int32_t ib_error_len(void) { return (int32_t)err_len; }
static const uint8_t *ib_out_ptr(void) { return out_buf; }
static int32_t ib_out_len(void) { return (int32_t)out_len; }

// ib_compile compiles a global script to bytecode, left in the out buffer.
static int32_t ib_compile(const char *code, int32_t len, const char *name) {
  JSValue fn = JS_Eval(ctx, code, (size_t)len, name, JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_COMPILE_ONLY);
  if (JS_IsException(fn)) {
    record_exception();
    return -1;
  }
  size_t n;
  uint8_t *buf = JS_WriteObject(ctx, &n, fn, JS_WRITE_OBJ_BYTECODE | JS_WRITE_OBJ_STRIP_SOURCE);
  JS_FreeValue(ctx, fn);
  if (!buf) {
    record_exception();
    return -1;
  }
  free(out_buf);
  out_buf = malloc(n);
  if (!out_buf) {
    js_free(ctx, buf);
    return -2;
  }
  memcpy(out_buf, buf, n);
  out_len = n;
  js_free(ctx, buf);
  return 0;
}

// ib_eval_bytecode runs bytecode made by ib_compile (only ever the host's own runtime).
static int32_t ib_eval_bytecode(const uint8_t *buf, int32_t len) {
  JSValue fn = JS_ReadObject(ctx, buf, (size_t)len, JS_READ_OBJ_BYTECODE);
  if (JS_IsException(fn)) {
    record_exception();
    return -1;
  }
  JSValue v = JS_EvalFunction(ctx, fn);
  if (JS_IsException(v)) {
    record_exception();
    return -1;
  }
  JS_FreeValue(ctx, v);
  return 0;
}

static int32_t ib_run_jobs(void);

// ib_dispatch hands a message (JSON) to the runtime's dispatcher, then drains the
// microtask queue as ib_run_jobs does: one entry into the sandbox per message instead of
// two. It returns 0, or -1 with the exception recorded (the dispatcher's or a job's).
static int32_t ib_dispatch(const char *msg, int32_t len) {
  if (!JS_IsFunction(ctx, dispatch_fn)) return -2;
  JSValue arg = JS_NewStringLen(ctx, msg, (size_t)len);
  if (JS_IsException(arg)) {
    record_exception();
    return -1;
  }
  JSValue v = JS_Call(ctx, dispatch_fn, JS_UNDEFINED, 1, &arg);
  JS_FreeValue(ctx, arg);
  if (JS_IsException(v)) {
    record_exception();
    return -1;
  }
  JS_FreeValue(ctx, v);
  return ib_run_jobs() < 0 ? -1 : 0;
}

// ib_run_jobs drains the microtask queue. It returns the number of jobs run, or -1 with
// the exception recorded when a job threw (only uncatchable errors get here).
static int32_t ib_run_jobs(void) {
  int32_t n = 0;
  for (;;) {
    JSContext *c;
    int r = JS_ExecutePendingJob(rt, &c);
    if (r == 0) return n;
    if (r < 0) {
      record_exception();
      return -1;
    }
    n++;
  }
}

// grow_seed is read, never written: its reads are what ib_grow_stack's values come from,
// so that the compiler can neither fold them nor recompute them after the call.
static volatile uint64_t grow_seed = 1;

// ib_grow_stack recurses n calls deep, each keeping sixteen values live across its call:
// wazero grows the native stack of this sandbox's calls (it starts at 10 KiB and doubles,
// copying, whenever a call needs more), so a pooled sandbox does that while it waits
// rather than during its first load and response. The values live in wasm locals, never
// in linear memory: the sandbox's memory is not written.
__attribute__((noinline)) static uint64_t ib_grow_stack(uint32_t n) {
  if (n == 0) return grow_seed;
  uint64_t v0 = grow_seed + n, v1 = grow_seed ^ v0, v2 = grow_seed + v1, v3 = grow_seed ^ v2;
  uint64_t v4 = grow_seed + v3, v5 = grow_seed ^ v4, v6 = grow_seed + v5, v7 = grow_seed ^ v6;
  uint64_t v8 = grow_seed + v7, v9 = grow_seed ^ v8, v10 = grow_seed + v9, v11 = grow_seed ^ v10;
  uint64_t v12 = grow_seed + v11, v13 = grow_seed ^ v12, v14 = grow_seed + v13, v15 = grow_seed ^ v14;
  uint64_t r = ib_grow_stack(n - 1);
  // Two different operations on the call's result: no accumulator the compiler could
  // turn the recursion into a loop with.
  return (r ^ v0 ^ v1 ^ v2 ^ v3 ^ v4 ^ v5 ^ v6 ^ v7) * (v8 ^ v9 ^ v10 ^ v11 ^ v12 ^ v13 ^ v14 ^ v15 | 1);
}

enum {
  OP_INIT = 1, OP_RESEED, OP_SETTLE, OP_STACK_TOP, OP_MALLOC, OP_FREE, OP_ERROR_PTR,
  OP_ERROR_LEN, OP_OUT_PTR, OP_OUT_LEN, OP_COMPILE, OP_EVAL_BYTECODE, OP_DISPATCH,
  OP_RUN_JOBS, OP_PLUG_HOLES, OP_GROW_STACK,
};

EXPORT("ib_call") int64_t ib_call(int32_t op, int32_t a, int32_t b, int32_t c) {
  switch (op) {
  case OP_INIT: return ib_init(a);
  case OP_RESEED: ib_reseed(((uint64_t)(uint32_t)b << 32) | (uint32_t)a); return 0;
  case OP_SETTLE: ib_settle((uint32_t)a); return 0;
  case OP_STACK_TOP: return (int64_t)(uintptr_t)__builtin_frame_address(0);
  case OP_MALLOC: return (int64_t)(uintptr_t)ib_malloc(a);
  case OP_FREE: ib_free((void *)(uintptr_t)(uint32_t)a); return 0;
  case OP_ERROR_PTR: return (int64_t)(uintptr_t)ib_error_ptr();
  case OP_ERROR_LEN: return ib_error_len();
  case OP_OUT_PTR: return (int64_t)(uintptr_t)ib_out_ptr();
  case OP_OUT_LEN: return ib_out_len();
  case OP_COMPILE: return ib_compile((const char *)(uintptr_t)(uint32_t)a, b, (const char *)(uintptr_t)(uint32_t)c);
  case OP_EVAL_BYTECODE: return ib_eval_bytecode((const uint8_t *)(uintptr_t)(uint32_t)a, b);
  case OP_DISPATCH: return ib_dispatch((const char *)(uintptr_t)(uint32_t)a, b);
  case OP_RUN_JOBS: return ib_run_jobs();
  case OP_PLUG_HOLES: return ib_plug_holes();
  case OP_GROW_STACK: return (int64_t)(ib_grow_stack((uint32_t)a) & 1);
  }
  return -100;
}
