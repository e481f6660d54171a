// driver.c: the C side of an isobox Python sandbox. It owns the one CPython interpreter of
// a wasm instance (a WASI reactor) and is the only code between the guest and the host:
//
//   imports (module "isobox", the same three as the JavaScript glue):
//     interrupt()                      -> 1 stops the running Python (a limit tripped)
//     call(op, op_len, in, in_len)     -> n >= 0: answer of n bytes waiting on the host,
//                                         n < 0: an error of -n-1 bytes ("Name\nmessage")
//     take(dst)                        copies the waiting answer to dst (0 discards it)
//   export: ib_call(op, a, b, c), one entry point for every operation (OP_* below, numbered
//           as in engine/js/build/glue.c where they mean the same thing, so that the engine's
//           sandbox code serves both).
//
// The interpreter polls interrupt() through the hook our CPython patches add to its eval
// breaker, calls and iterators (patches/*.patch); once the host says stop, an exception is raised
// that no except/finally/with block can handle, and every later poll raises it again.
//
// The standard library is a zip at /lib/python313.zip, the only file the sandbox sees (the
// engine mounts it read-only from memory). The guest's Python half, the prelude (passed to
// OP_INIT by the engine), defines _run, _entry and _reseed.
//
// _isobox.call(op, data) is the guest's general way to the host: any synchronous host
// operation (engine/hostcall.go's hostOps) by name, bytes in, bytes out. A host error
// ("Name\nmessage") raises _isobox.HostError(name, message); the prelude turns it into the
// Python exception that fits (TypeError, ValueError, ...). After every call the host is
// polled, so that a limit that tripped while the host blocked (op_wait at the wall-time
// deadline) stops the guest at once.
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT(name) __attribute__((import_module("isobox"), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

IMPORT("interrupt") int32_t host_interrupt(void);
IMPORT("call") int32_t host_call(const char *op, int32_t op_len, const void *in, int32_t in_len);
IMPORT("take") void host_take(void *dst);

static PyObject *run_fn;    // the prelude's _run(code) -> str
static PyObject *entry_fn;  // the prelude's _entry(kind, payload) -> str
static PyObject *reseed_fn; // the prelude's _reseed()
static PyObject *limit_exc; // _isobox.LimitExceeded
static PyObject *host_exc;  // _isobox.HostError(name, message)

// The last error (JSON) or output (JSON) handed back to the host.
static char *err_buf;
static size_t err_len;
static char *out_buf;
static size_t out_len;

static void set_buf(char **buf, size_t *len, const char *p, size_t n) {
  free(*buf);
  *buf = malloc(n ? n : 1);
  *len = 0;
  if (*buf) {
    memcpy(*buf, p, n);
    *len = n;
  }
}

static void set_error(const char *json) { set_buf(&err_buf, &err_len, json, strlen(json)); }

// poll is the interpreter's hook (_Py_isobox_poll).
static int poll(void) {
  if (!_Py_isobox_stopped) {
    if (!host_interrupt()) return 0;
    _Py_isobox_stopped = 1;
  }
  _Py_isobox_clock = 0; // from now on every check raises again
  PyErr_SetString(limit_exc, "stopped by the host: a limit of the sandbox was reached");
  return 1;
}

// _isobox.console(payload) sends one log line to the host: payload is the JSON
// {"level", "message"} of the host's "console" operation.
static PyObject *isobox_console(PyObject *self, PyObject *arg) {
  Py_ssize_t n;
  const char *s = PyUnicode_AsUTF8AndSize(arg, &n);
  if (!s) return NULL;
  int32_t r = host_call("console", 7, s, (int32_t)n);
  int failed = r < 0;
  size_t len = failed ? (size_t)(-(int64_t)r - 1) : (size_t)r;
  char *buf = malloc(len + 1);
  if (!buf) {
    host_take(0);
    return PyErr_NoMemory();
  }
  host_take(buf);
  buf[len] = 0;
  if (failed) {
    const char *nl = strchr(buf, '\n');
    PyErr_SetString(PyExc_RuntimeError, nl ? nl + 1 : buf);
    free(buf);
    return NULL;
  }
  free(buf);
  Py_RETURN_NONE;
}

// The longest op name _isobox.call passes on (the host's are far shorter).
#define MAX_OP_NAME 128

// _isobox.call(op: str, data: bytes-like) -> bytes runs the synchronous host operation op.
static PyObject *isobox_call(PyObject *self, PyObject *args) {
  const char *op;
  Py_ssize_t op_len;
  Py_buffer data;
  if (!PyArg_ParseTuple(args, "s#y*:call", &op, &op_len, &data)) return NULL;
  if (op_len > MAX_OP_NAME || data.len > INT32_MAX) {
    PyBuffer_Release(&data);
    PyErr_SetString(PyExc_ValueError, op_len > MAX_OP_NAME ? "host operation name too long" : "payload too large");
    return NULL;
  }
  int32_t r = host_call(op, (int32_t)op_len, data.buf, (int32_t)data.len);
  PyBuffer_Release(&data);
  int failed = r < 0;
  size_t len = failed ? (size_t)(-(int64_t)r - 1) : (size_t)r;
  PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)len);
  if (!out) {
    host_take(0);
    return NULL;
  }
  host_take(len ? PyBytes_AS_STRING(out) : 0);
  if (poll()) {
    Py_DECREF(out);
    return NULL;
  }
  if (!failed) return out;
  const char *s = PyBytes_AS_STRING(out);
  const char *nl = memchr(s, '\n', len);
  PyObject *e = nl ? Py_BuildValue("(s#s#)", s, (Py_ssize_t)(nl - s), nl + 1, (Py_ssize_t)(len - (size_t)(nl - s) - 1))
                   : Py_BuildValue("(ss#)", "Error", s, (Py_ssize_t)len);
  Py_DECREF(out);
  if (!e) return NULL;
  PyErr_SetObject(host_exc, e);
  Py_DECREF(e);
  return NULL;
}

static PyMethodDef isobox_methods[] = {
    {"console", isobox_console, METH_O, "Send one log line (JSON {level, message}) to the host."},
    {"call", isobox_call, METH_VARARGS, "call(op, data) -> bytes: run the synchronous host operation op."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef isobox_module = {
    PyModuleDef_HEAD_INIT, "_isobox", "The sandbox's way to its host.", -1, isobox_methods,
};

static PyObject *init_isobox(void) {
  PyObject *m = PyModule_Create(&isobox_module);
  if (!m) return NULL;
  limit_exc = PyErr_NewException("_isobox.LimitExceeded", PyExc_BaseException, NULL);
  if (!limit_exc || PyModule_AddObjectRef(m, "LimitExceeded", limit_exc) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  host_exc = PyErr_NewException("_isobox.HostError", PyExc_Exception, NULL);
  if (!host_exc || PyModule_AddObjectRef(m, "HostError", host_exc) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}

// record_exception stores the pending Python exception as JSON {name, message,
// uncatchable}: what the prelude could not describe itself (it was stopped, or failed).
static void record_exception(void) {
  if (_Py_isobox_stopped) {
    PyErr_Clear();
    set_error("{\"name\":\"LimitExceeded\",\"message\":\"stopped by the host\",\"uncatchable\":true}");
    return;
  }
  PyObject *exc = PyErr_GetRaisedException();
  PyObject *s = exc ? PyObject_Str(exc) : NULL;
  const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
  PyErr_Clear();
  const char *name = exc ? Py_TYPE(exc)->tp_name : "Error";
  // Escape for JSON by hand: only the characters that must be.
  size_t cap = 64 + strlen(name) + (msg ? strlen(msg) * 6 : 0);
  char *j = malloc(cap);
  if (!j) {
    set_error("{\"message\":\"out of memory describing an exception\",\"uncatchable\":true}");
  } else {
    size_t k = 0;
    k += (size_t)snprintf(j + k, cap - k, "{\"name\":\"%s\",\"message\":\"", name);
    for (const unsigned char *p = (const unsigned char *)(msg ? msg : ""); *p; p++) {
      if (*p == '"' || *p == '\\') {
        j[k++] = '\\';
        j[k++] = (char)*p;
      } else if (*p < 0x20) {
        k += (size_t)snprintf(j + k, cap - k, "\\u%04x", *p);
      } else {
        j[k++] = (char)*p;
      }
    }
    k += (size_t)snprintf(j + k, cap - k, "\",\"uncatchable\":true}");
    set_buf(&err_buf, &err_len, j, k);
    free(j);
  }
  Py_XDECREF(s);
  Py_XDECREF(exc);
}

static int32_t fail_status(PyStatus st) {
  char j[512];
  snprintf(j, sizeof j, "{\"name\":\"InitError\",\"message\":\"%s\",\"uncatchable\":true}",
           st.err_msg ? st.err_msg : "CPython failed to start");
  set_error(j);
  return -1;
}

// ib_init starts the interpreter (hash seed `seed`, 0: none) and runs the prelude, which
// imports the common standard library and defines _run and _reseed.
static int32_t ib_init(const char *prelude, int32_t len, uint32_t seed) {
  if (PyImport_AppendInittab("_isobox", init_isobox) < 0) return fail_status(PyStatus_Error("inittab"));
  PyConfig c;
  PyConfig_InitIsolatedConfig(&c);
  PyStatus st;
  c.site_import = 0;
  c.write_bytecode = 0;
  c.install_signal_handlers = 0;
  c.user_site_directory = 0;
  c.pathconfig_warnings = 0;
  c.safe_path = 1;
  c.use_hash_seed = 1;
  c.hash_seed = seed;
  c.module_search_paths_set = 1;
  st = PyWideStringList_Append(&c.module_search_paths, L"/lib/python313.zip");
  if (PyStatus_Exception(st)) return fail_status(st);
  st = PyConfig_SetString(&c, &c.home, L"/lib");
  if (PyStatus_Exception(st)) return fail_status(st);
  st = PyConfig_SetString(&c, &c.program_name, L"python");
  if (PyStatus_Exception(st)) return fail_status(st);
  st = Py_InitializeFromConfig(&c);
  PyConfig_Clear(&c);
  if (PyStatus_Exception(st)) return fail_status(st);

  PyObject *ns = PyDict_New();
  if (!ns || PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) < 0) goto error;
  PyObject *code = Py_CompileStringExFlags(prelude, "<isobox>", Py_file_input, NULL, 0);
  if (!code) goto error;
  PyObject *r = PyEval_EvalCode(code, ns, ns);
  Py_DECREF(code);
  if (!r) goto error;
  Py_DECREF(r);
  run_fn = PyDict_GetItemString(ns, "_run");
  entry_fn = PyDict_GetItemString(ns, "_entry");
  reseed_fn = PyDict_GetItemString(ns, "_reseed");
  if (!run_fn || !entry_fn || !reseed_fn) {
    set_error("{\"name\":\"InitError\",\"message\":\"the prelude defines no _run, _entry or _reseed\",\"uncatchable\":true}");
    return -1;
  }
  Py_INCREF(run_fn);
  Py_INCREF(entry_fn);
  Py_INCREF(reseed_fn);
  Py_DECREF(ns);
  _Py_isobox_poll = poll;
  return 0;
error:
  record_exception();
  return -1;
}

// answer reads the "R..."/"E..."/"S..." string a prelude function returned (r, or NULL when
// it raised): 0 and the out buffer holds what follows "R"; -1 and the err buffer holds the
// exception as JSON {name, message, stack, uncatchable}; -2 the same for code that does
// not compile.
static int32_t answer(PyObject *r) {
  if (!r || _Py_isobox_stopped) {
    Py_XDECREF(r);
    record_exception();
    return -1;
  }
  Py_ssize_t n;
  const char *s = PyUnicode_Check(r) ? PyUnicode_AsUTF8AndSize(r, &n) : NULL;
  if (!s || n < 1) {
    if (!s && !PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "the prelude answered something that is not a str");
    Py_DECREF(r);
    record_exception();
    return -1;
  }
  int32_t status = s[0] == 'R' ? 0 : s[0] == 'S' ? -2 : -1;
  if (status == 0)
    set_buf(&out_buf, &out_len, s + 1, (size_t)n - 1);
  else
    set_buf(&err_buf, &err_len, s + 1, (size_t)n - 1);
  Py_DECREF(r);
  return status;
}

// ib_run runs code (UTF-8, len bytes) through the prelude's _run (see answer).
static int32_t ib_run(const char *code, int32_t len) {
  _Py_isobox_stopped = 0;
  PyObject *src = PyUnicode_DecodeUTF8(code, len, "replace");
  if (!src) {
    record_exception();
    return -1;
  }
  PyObject *r = PyObject_CallOneArg(run_fn, src);
  Py_DECREF(src);
  return answer(r);
}

// ib_entry runs one invocation of a worker through the prelude's _entry(kind, payload):
// msg (len bytes) is the kind, a newline, and the payload (see answer).
static int32_t ib_entry(const char *msg, int32_t len) {
  _Py_isobox_stopped = 0;
  const char *nl = memchr(msg, '\n', (size_t)len);
  size_t klen = nl ? (size_t)(nl - msg) : (size_t)len;
  PyObject *kind = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)klen, "replace");
  PyObject *payload = nl ? PyBytes_FromStringAndSize(nl + 1, (Py_ssize_t)((size_t)len - klen - 1)) : PyBytes_FromStringAndSize("", 0);
  if (!kind || !payload) {
    Py_XDECREF(kind);
    Py_XDECREF(payload);
    record_exception();
    return -1;
  }
  PyObject *r = PyObject_CallFunctionObjArgs(entry_fn, kind, payload, NULL);
  Py_DECREF(kind);
  Py_DECREF(payload);
  return answer(r);
}

// ib_reseed gives a sandbox restored from a memory image its own random module state (the
// image carries the one of the interpreter it was taken from).
static int32_t ib_reseed(void) {
  PyObject *r = PyObject_CallNoArgs(reseed_fn);
  if (!r) {
    record_exception();
    return -1;
  }
  Py_DECREF(r);
  return 0;
}

enum {
  OP_INIT = 1, OP_RESEED = 2, OP_STACK_TOP = 4, OP_MALLOC = 5, OP_FREE = 6, OP_ERROR_PTR = 7,
  OP_ERROR_LEN = 8, OP_OUT_PTR = 9, OP_OUT_LEN = 10, OP_RUN = 16, OP_SET_INTERVAL = 17,
  OP_ENTRY = 18,
};

EXPORT("ib_call") int64_t ib_call(int32_t op, int32_t a, int32_t b, int32_t c) {
  switch (op) {
  case OP_INIT: return ib_init((const char *)(uintptr_t)(uint32_t)a, b, (uint32_t)c);
  case OP_RESEED: return ib_reseed();
  case OP_STACK_TOP: return (int64_t)(uintptr_t)__builtin_frame_address(0);
  case OP_MALLOC: return (int64_t)(uintptr_t)malloc((size_t)(uint32_t)a);
  case OP_FREE: free((void *)(uintptr_t)(uint32_t)a); return 0;
  case OP_ERROR_PTR: return (int64_t)(uintptr_t)err_buf;
  case OP_ERROR_LEN: return (int64_t)err_len;
  case OP_OUT_PTR: return (int64_t)(uintptr_t)out_buf;
  case OP_OUT_LEN: return (int64_t)out_len;
  case OP_RUN: return ib_run((const char *)(uintptr_t)(uint32_t)a, b);
  case OP_SET_INTERVAL: _Py_isobox_interval = a > 0 ? a : 1; return 0;
  case OP_ENTRY: return ib_entry((const char *)(uintptr_t)(uint32_t)a, b);
  }
  return -100;
}
