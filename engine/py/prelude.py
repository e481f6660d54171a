# The Python half of an isobox Python sandbox, run once when the engine makes its base
# image (driver.c's OP_INIT): it imports the standard library that model-written code uses
# most, so that every sandbox restored from the image has it already, routes print() to the
# host's log, and defines _run (one snippet), _entry (one invocation of a worker: load,
# fetch, call) and _reseed (per sandbox). It also gives the guest its way to the host's
# operations (_host, _op: engine/hostcall.go), an asyncio event loop that waits for them
# (op_wait), and the modules `workers` (the Python Workers API) and `isobox` (tools).
import ast
import base64
import collections
import dataclasses
import datetime
import decimal
import fractions
import functools
import hashlib
import io
import itertools
import json
import linecache
import math
import random
import re
import statistics
import string
import sys
import textwrap
import traceback
import typing
import urllib.parse

import _isobox

# asyncio's selector loop wakes itself through a socketpair, which WASI does not have: a
# loop in the sandbox is only ever woken by its own timers and callbacks, and by the host's
# operations (op_wait, below), so it needs none.
import asyncio
import asyncio.selector_events as _selector_events
import importlib
import importlib.machinery
import selectors
import types

_selector_events.BaseSelectorEventLoop._make_self_pipe = lambda self: None
_selector_events.BaseSelectorEventLoop._close_self_pipe = lambda self: None
_selector_events.BaseSelectorEventLoop._write_to_self = lambda self: None

_FILE = "<isobox>"   # this file's name in tracebacks (its frames are dropped)
_CODE = "<exec>"     # the snippet's
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_console_line = json.JSONEncoder(ensure_ascii=False).encode
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE
_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


class _Log(io.TextIOBase):
    """sys.stdout / sys.stderr: what is written up to a newline that ends a write (one
    print() call) becomes one log entry of the invocation (stdout: "log", stderr: "error");
    the rest at the end of the snippet."""

    def __init__(self, level):
        self._level = level
        self._buf = []
        self._size = 0

    def writable(self):
        return True

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "strict"

    def isatty(self):
        return False

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        self._buf.append(s)
        self._size += len(s)
        # One entry per print(): print writes its text, then its end ("\n").
        if s.endswith("\n") or self._size > 65536:
            self.flush()
        return len(s)

    def flush(self):
        if self._buf:
            text = "".join(self._buf)
            self._buf = []
            self._size = 0
            if text.endswith("\n"):
                text = text[:-1]
            _isobox.console(_console_line({"level": self._level, "message": text}))


_stdout = sys.stdout = sys.__stdout__ = _Log("log")
_stderr = sys.stderr = sys.__stderr__ = _Log("error")
_main = sys.modules["__main__"]


# time.sleep: CPython sleeps until an absolute time (clock_nanosleep with TIMER_ABSTIME), which
# wazero's poll_oneoff does not support; select's relative timeout is the same wait. The
# host ends it at the invocation's wall-time deadline.
import select as _select
import time as _time


def _sleep(secs, /):
    secs = float(secs)
    if secs != secs or secs < 0:
        raise ValueError("sleep length must be non-negative")
    while secs > 0:
        step = min(secs, 86400.0)
        _select.select([], [], [], step)
        secs -= step


_sleep.__name__ = _sleep.__qualname__ = "sleep"
_time.sleep = _sleep


def _jsonable(v, depth=0):
    """v as what JSON can hold: tuples and sets become arrays, non-finite floats null,
    dict keys strings, and anything else its repr()."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if depth > 200:
        raise ValueError("the result is nested more than 200 levels deep")
    if isinstance(v, (list, tuple)):
        return [_jsonable(x, depth + 1) for x in v]
    if isinstance(v, (set, frozenset)):
        items = [_jsonable(x, depth + 1) for x in v]
        try:
            items.sort()
        except TypeError:
            pass
        return items
    if isinstance(v, dict):
        return {(k if isinstance(k, str) else str(_jsonable(k, depth + 1))): _jsonable(x, depth + 1)
                for k, x in v.items()}
    return repr(v)


def _await(coro):
    return asyncio.run(_then_tools(coro))


async def _then_tools(aw):
    """aw's value, after the tool calls it left running (as JavaScript: a tool call the code
    did not await still finishes, and the code's author is told)."""
    v = await aw
    await _await_tools()
    return v


async def _await_tools():
    if not _tool_ids:
        return
    n = len(_tool_ids)
    what = "1 tool call was" if n == 1 else f"{n} tool calls were"
    _isobox.console(_console_line({"level": "warn", "message": "isobox: " + what +
                                   " still running when the code returned; isobox waited for them (await every tool call to use its result)"}))
    while True:
        running = [_ops[i] for i in _tool_ids if i in _ops]
        if not running:
            return
        await asyncio.wait(running)


# ---- the host's operations --------------------------------------------------------------
#
# _host(op, data) runs a synchronous host operation (hostOps); _op(kind, payload) starts an
# asynchronous one (asyncOps, through op_start) and is an awaitable of its value. The event
# loop below waits for their outcomes with op_wait. A host error becomes the Python
# exception that fits it: TypeError as TypeError, RangeError as ValueError,
# NotSupportedError as NotImplementedError, anything else as IsoboxError (its .name is the
# host's error class, its .code the isoerr code its message starts with, if any).

_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_code_prefix = re.compile(r"([a-z_]+): ")


class IsoboxError(Exception):
    """An error the sandbox's host reported: .name is its class on the host side ("Error"),
    .code the isoerr code (not_found, read_only, subrequest_limit_exceeded, ...) when the
    message starts with one, else None."""

    def __init__(self, message, name="Error", code=None):
        super().__init__(message)
        self.name = name
        self.code = code


def _py_error(name, message):
    if name == "TypeError":
        return TypeError(message)
    if name == "RangeError":
        return ValueError(message)
    if name == "NotSupportedError":
        return NotImplementedError(message)
    m = _code_prefix.match(message)
    return IsoboxError(message, name, m.group(1) if m else None)


def _host(op, data=b""):
    """Runs synchronous host operation op with data (bytes, or str as UTF-8): its answer."""
    if isinstance(data, str):
        data = data.encode()
    try:
        return _isobox.call(op, data)
    except _isobox.HostError as e:
        name, message = e.args if len(e.args) == 2 else ("Error", str(e))
        raise _py_error(name, message) from None


_ops = {}                # op id -> the future waiting for its outcome
_tool_ids = set()        # the ids in _ops of tool calls
_op_ids = itertools.count(1)


async def _op(kind, payload):
    """Starts asynchronous host operation kind and returns its value (raises its error).
    Cancelling the awaiting task drops the operation (op_cancel)."""
    loop = asyncio.get_running_loop()
    if not isinstance(getattr(loop, "_selector", None), _HostSelector):
        raise RuntimeError("host operations run on isobox's event loop: use asyncio.run or top-level await")
    op_id = next(_op_ids)
    fut = loop.create_future()
    _host("op_start", _dumps({"id": op_id, "kind": kind, "payload": payload}))
    _ops[op_id] = fut
    if kind == "tool":
        _tool_ids.add(op_id)
    try:
        return await fut
    finally:
        _tool_ids.discard(op_id)
        if _ops.pop(op_id, None) is not None:  # not delivered: the task was cancelled
            try:
                _host("op_cancel", _dumps({"id": op_id}))
            except Exception:
                pass


def _deliver(m):
    fut = _ops.pop(m.get("id"), None)
    _tool_ids.discard(m.get("id"))
    if fut is None or fut.done():
        return
    if m.get("ok"):
        fut.set_result(m.get("value"))
    else:
        err = m.get("error") or {}
        fut.set_exception(_py_error(str(err.get("name") or "Error"), str(err.get("message") or "")))


class _HostSelector(selectors.BaseSelector):
    """The selector of the sandbox's event loop: there are no file descriptors to watch;
    select(timeout) waits (op_wait) for the outcome of a host operation and delivers it to
    the future waiting for it."""

    def register(self, fileobj, events, data=None):
        raise OSError("an isobox sandbox has no file descriptors to watch")

    def unregister(self, fileobj):
        raise KeyError(fileobj)

    def get_map(self):
        return types.MappingProxyType({})

    def close(self):
        pass

    def select(self, timeout=None):
        if timeout is not None and timeout <= 0 and not _ops:
            return []
        ms = -1 if timeout is None else min(max(timeout, 0) * 1000.0, 86400000.0)
        raw = _host("op_wait", _dumps({"timeoutMs": ms}))
        if raw:
            _deliver(json.loads(raw))
        return []


class _Loop(asyncio.SelectorEventLoop):
    def __init__(self):
        super().__init__(_HostSelector())


class _Policy(asyncio.DefaultEventLoopPolicy):
    _loop_factory = _Loop


asyncio.set_event_loop_policy(_Policy())


def _parse(code):
    tree = compile(code, _CODE, "exec", flags=ast.PyCF_ONLY_AST | _FLAGS, dont_inherit=True)
    linecache.cache[_CODE] = (len(code), None, code.splitlines(True), _CODE)
    return tree


_LAST = "__isobox_last__"


def _exec(tree):
    """Runs the snippet; its last expression's value is its result. The last expression
    becomes an assignment in the same code, so that a snippet with a top-level await runs
    as one coroutine on one event loop (tasks the statements create are still running when
    the last expression awaits them); one without runs as plain code (it may call
    asyncio.run itself)."""
    last = bool(tree.body) and isinstance(tree.body[-1], ast.Expr)
    if last:
        expr = tree.body[-1]
        assign = ast.Assign(targets=[ast.Name(id=_LAST, ctx=ast.Store())], value=expr.value)
        tree.body[-1] = ast.fix_missing_locations(ast.copy_location(assign, expr))
    g = _main.__dict__
    body = compile(tree, _CODE, "exec", flags=_FLAGS, dont_inherit=True)
    g.pop(_LAST, None)
    try:
        r = eval(body, g)
        if body.co_flags & _CO_COROUTINE:
            _await(r)
        return g.get(_LAST) if last else None
    finally:
        g.pop(_LAST, None)


_REPEATS = 3       # frames of one line shown in a row before "[Previous line repeated ...]"
_STACK_ENDS = 8    # rows of frames shown at each end of a longer traceback


def _stack_lines(tb):
    """The traceback tb as CPython prints it (without this file's and asyncio's frames), but
    only the frames that are shown are looked up and formatted: CPython's own formatting
    reads the source and computes the carets of every frame before it folds a recursion
    ("[Previous line repeated 995 more times]"), ~0.6 s of CPU in the sandbox for a
    RecursionError, past the default CPU limit. A row of the same line keeps its first
    _REPEATS frames; of a longer traceback (mutual recursion) the first and last
    _STACK_ENDS rows are shown."""
    runs = []  # [the first _REPEATS tracebacks of a row, how many in all]
    prev = None
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename != _FILE and "/asyncio/" not in code.co_filename:
            key = (code.co_filename, tb.tb_lineno, code.co_name)
            if key == prev:
                run = runs[-1]
                run[1] += 1
                if run[1] <= _REPEATS:
                    run[0].append(tb)
            else:
                runs.append([[tb], 1])
                prev = key
        tb = tb.tb_next
    if not runs:
        return []
    skipped = 0
    if len(runs) > 2 * _STACK_ENDS:
        skipped = sum(n for _, n in runs[_STACK_ENDS:-_STACK_ENDS])
        runs = runs[:_STACK_ENDS] + [None] + runs[-_STACK_ENDS:]
    lines = ["Traceback (most recent call last):\n"]
    for run in runs:
        if run is None:
            lines.append(f"  [... {skipped} more frames ...]\n")
            continue
        tbs, n = run
        summary = traceback.StackSummary._extract_from_extended_frame_gen(
            next(traceback._walk_tb_with_full_positions(t)) for t in tbs)
        lines += summary.format()
        if n > _REPEATS:
            more = n - _REPEATS
            lines.append(f"  [Previous line repeated {more} more time{'s' if more > 1 else ''}]\n")
    return lines


def _describe(e):
    """e as the engine's exception JSON: the traceback's last line as the message, the
    traceback without this file's and asyncio's frames as the stack."""
    only = traceback.format_exception_only(type(e), e)
    message = only[-1].strip() if only else type(e).__name__
    lines = _stack_lines(e.__traceback__)
    return json.dumps({"name": "", "message": message, "stack": "".join(lines + only).rstrip("\n")})


def _run(code):
    """Runs one snippet: "R" + the last expression's value as JSON ("R" alone for None),
    "S" + the exception as JSON when the snippet does not compile, or "E" + the exception
    it raised as JSON."""
    _ops.clear()
    _tool_ids.clear()
    try:
        try:
            tree = _parse(code)
        except (SyntaxError, ValueError) as e:  # ValueError: NUL bytes in the source
            return "S" + _describe(e)
        try:
            v = _exec(tree)
        except SystemExit as e:
            if e.code is None or e.code == 0:
                v = None
            else:
                raise
        out = "R" if v is None else "R" + _encode(_jsonable(v))
    except BaseException as e:  # a limit's stop skips this handler (see the CPython patch)
        out = "E" + _describe(e)
    finally:
        _stdout.flush()
        _stderr.flush()
    return out




# ---- the `workers` module: the Python Workers API ----------------------------------------


class Headers:
    """HTTP headers: a case-insensitive multi-map. Names are kept in lower case; get(),
    [] and items() join repeated values with ", " (get_all() keeps them apart)."""

    def __init__(self, init=None):
        self._pairs = []
        if init is None:
            return
        if isinstance(init, Headers):
            self._pairs = list(init._pairs)
            return
        items = init.items() if hasattr(init, "items") else init
        for item in items:
            k, v = item
            self.append(k, v)

    @staticmethod
    def _name(name):
        if not isinstance(name, str):
            raise TypeError(f"a header name must be a str, not {type(name).__name__}")
        return name.lower()

    def append(self, name, value):
        self._pairs.append((self._name(name), str(value)))

    def set(self, name, value):
        n = self._name(name)
        self._pairs = [p for p in self._pairs if p[0] != n]
        self._pairs.append((n, str(value)))

    def delete(self, name):
        n = self._name(name)
        self._pairs = [p for p in self._pairs if p[0] != n]

    def get_all(self, name):
        n = self._name(name)
        return [v for k, v in self._pairs if k == n]

    def get(self, name, default=None):
        vs = self.get_all(name)
        return ", ".join(vs) if vs else default

    def has(self, name):
        return bool(self.get_all(name))

    def keys(self):
        seen = []
        for k, _ in self._pairs:
            if k not in seen:
                seen.append(k)
        return seen

    def items(self):
        return [(k, self.get(k)) for k in self.keys()]

    def values(self):
        return [self.get(k) for k in self.keys()]

    def pairs(self):
        """Every (name, value) pair as sent, repeated names apart."""
        return list(self._pairs)

    __contains__ = has

    def __getitem__(self, name):
        v = self.get(name)
        if v is None:
            raise KeyError(name)
        return v

    def __setitem__(self, name, value):
        self.set(name, value)

    def __delitem__(self, name):
        self.delete(name)

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())

    def __repr__(self):
        return f"Headers({self.items()!r})"


def _body_bytes(body, headers, default_type):
    if body is None:
        return None
    if isinstance(body, str):
        if default_type and "content-type" not in headers:
            headers.set("content-type", default_type)
        return body.encode()
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    raise TypeError(f"a body must be str, bytes or None, not {type(body).__name__}")


class _Body:
    """What a Request and a Response share: a body read at most once from the host
    (a fetched response's) and kept."""

    _body = None     # bytes, or None
    _handle = None   # a fetched response's body on the host (body_read), or None

    async def bytes(self):
        if self._handle is not None:
            handle, self._handle = self._handle, None
            chunks = []
            while True:
                r = await _op("body_read", {"handle": handle})
                chunks.append(base64.b64decode(r["chunk"]))
                if r["done"]:
                    break
            self._body = b"".join(chunks)
        return self._body if self._body is not None else b""

    async def text(self):
        return (await self.bytes()).decode("utf-8", "replace")

    async def json(self):
        return json.loads(await self.text())


class Request(_Body):
    """An HTTP request: the one a fetch handler receives, or one to pass to fetch()."""

    def __init__(self, url, method="GET", headers=None, body=None):
        self.url = str(url)
        self.method = str(method).upper()
        self.headers = Headers(headers)
        self._body = _body_bytes(body, self.headers, "text/plain;charset=UTF-8")

    def __repr__(self):
        return f"<Request {self.method} {self.url}>"


class Response(_Body):
    """An HTTP response: what a fetch handler returns, or what fetch() resolves to.
    Response(body, status=200, headers=None): body is str (sent as UTF-8, text/plain by
    default), bytes or None."""

    def __init__(self, body=None, status=200, headers=None, status_text=""):
        self.status = int(status)
        self.status_text = str(status_text)
        self.headers = Headers(headers)
        self.url = ""
        self.redirected = False
        self._body = _body_bytes(body, self.headers, "text/plain;charset=UTF-8")

    @property
    def ok(self):
        return 200 <= self.status < 300

    def __repr__(self):
        return f"<Response {self.status}>"


# Response.json is the constructor on the class and the body reader on an instance.
class _JSONMethod:
    def __get__(self, obj, cls):
        if obj is None:
            return types.MethodType(_response_json, cls)
        return types.MethodType(_Body.json, obj)


def _response_json(cls, obj, status=200, headers=None):
    h = Headers(headers)
    if "content-type" not in h:
        h.set("content-type", "application/json")
    return cls(_dumps(obj), status=status, headers=h)


Response.json = _JSONMethod()


async def fetch(resource, method=None, headers=None, body=None, redirect="follow"):
    """Sends an HTTP request through the sandbox's outbound access (the egress gateway,
    with its policies and secrets) and returns the Response; read its body with
    await response.text() / .json() / .bytes(). Without outbound access it raises
    TypeError."""
    if isinstance(resource, Request):
        url = resource.url
        method = method or resource.method
        h = Headers(headers if headers is not None else resource.headers)
        data = _body_bytes(body, h, "text/plain;charset=UTF-8") if body is not None else await resource.bytes() or None
    else:
        url = str(resource)
        h = Headers(headers)
        data = _body_bytes(body, h, "text/plain;charset=UTF-8")
    head = await _op("fetch", {
        "method": str(method or "GET").upper(), "url": url, "headers": h.pairs(),
        "body": None if data is None else base64.b64encode(data).decode(), "redirect": redirect,
    })
    r = Response(None, status=head["status"], headers=head.get("headers") or [], status_text=head.get("statusText") or "")
    r.url = head.get("url") or url
    r.redirected = bool(head.get("redirected"))
    r._handle = head.get("bodyHandle")
    return r


class Context:
    """A handler's ctx: props (the caller's ctx.props), wait_until(awaitable) for work that
    may finish after the response."""

    def __init__(self, props=None):
        self.props = props if props is not None else {}
        self._waiting = []

    def wait_until(self, aw):
        self._waiting.append(asyncio.ensure_future(aw))

    waitUntil = wait_until

    def pass_through_on_exception(self):
        pass


class WorkerEntrypoint:
    """The base class of a worker's entrypoints: class Default(WorkerEntrypoint) with
    async def fetch(self, request), and RPC methods. self.env is the worker's env,
    self.ctx the invocation's Context."""

    def __init__(self, ctx, env):
        self.ctx = ctx
        self.env = env


class Env:
    """A worker's env: its values by attribute (env.NAME) or by key (env["NAME"])."""

    def __init__(self, values):
        self.__dict__.update(values)

    def __getattr__(self, name):
        raise AttributeError(f"env has no binding or variable named {name!r}")

    def __getitem__(self, name):
        try:
            return self.__dict__[name]
        except KeyError:
            raise KeyError(name) from None

    def __contains__(self, name):
        return name in self.__dict__

    def get(self, name, default=None):
        return self.__dict__.get(name, default)

    def keys(self):
        return self.__dict__.keys()

    def __iter__(self):
        return iter(self.__dict__)

    def __repr__(self):
        return f"Env({sorted(self.__dict__)!r})"


# ---- env.FS: filesystem bindings ---------------------------------------------------------


class FSError(IsoboxError, OSError):
    """A filesystem binding's error; .code is the isoerr code (not_found, invalid_request,
    conflict, precondition_failed, quota_exceeded, file_too_large, read_only)."""

    def __init__(self, message, code=None):
        OSError.__init__(self, message)
        self.name = "Error"
        self.code = code


class FSNotFoundError(FSError, FileNotFoundError):
    pass


class FSReadOnlyError(FSError, PermissionError):
    pass


_fs_errors = {"not_found": FSNotFoundError, "read_only": FSReadOnlyError}


def _path(p):
    if not isinstance(p, str):
        raise TypeError("a path must be a str")
    return p


def _fs_payload(data):
    if isinstance(data, str):
        return {"data": data, "base64": False}
    if isinstance(data, (bytes, bytearray, memoryview)):
        return {"data": base64.b64encode(bytes(data)).decode(), "base64": True}
    raise TypeError("file content must be str or bytes")


def _str(s, what):
    if not isinstance(s, str):
        raise TypeError(f"{what} must be a str")
    return s


def _opts(**kw):
    """The arguments that are set (None leaves an option to the host's default)."""
    return {k: v for k, v in kw.items() if v is not None}


def _fs_streamed(data):
    """Whether write_file's data is a stream of chunks rather than content."""
    if isinstance(data, (str, bytes, bytearray, memoryview)):
        return False
    return hasattr(data, "__aiter__") or hasattr(data, "__iter__")


async def _fs_chunks(chunks):
    if hasattr(chunks, "__aiter__"):
        async for c in chunks:
            yield c
    else:
        for c in chunks:
            yield c


class _FSReadStream:
    """read_file(path, stream=True): an async iterator of the file's bytes, chunk by chunk,
    all of the version the first chunk saw (.etag, .size)."""

    def __init__(self, fs, path, chunk_size, first):
        self._fs, self._path, self._chunk, self._next = fs, path, chunk_size, first
        self.etag, self.size = first["etag"], first.get("size", 0)
        self._offset, self._done = 0, False

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._done:
            raise StopAsyncIteration
        r, self._next = self._next, None
        if r is None:
            r = await self._fs.op("read", path=self._path, encoding="bytes", offset=self._offset,
                                  length=self._chunk, ifMatch=self.etag)
        data = base64.b64decode(r["data"])
        self._offset += len(data)
        if not data or self._offset >= self.size:
            self._done = True
        if not data:
            raise StopAsyncIteration
        return data


class FS:
    """A filesystem binding (env.FS): async methods over the workspace the host bound. Every
    method is one fs_* host operation; op(name, **args) runs any of them by name (the
    binding is added), for operations without a method here. Method names are Python's
    (read_file) with the JavaScript binding's as aliases (readFile)."""

    def __init__(self, binding):
        self._binding = binding

    async def op(self, name, **args):
        args["binding"] = self._binding
        try:
            return await _op("fs_" + name, args)
        except IsoboxError as e:
            if isinstance(e, FSError):
                raise
            raise _fs_errors.get(e.code, FSError)(str(e), e.code) from None

    async def read_file(self, path, encoding="utf8", stream=False, chunk_size=1 << 20, if_match=None):
        """The file's text (encoding "utf8") or bytes (encoding "bytes"); at most 32 MiB at
        once. stream=True returns an async iterator of bytes chunks of chunk_size (for a file
        of any size, one range per host operation, all of one version of the file: a file
        replaced meanwhile raises precondition_failed); if_match: only that version."""
        if stream:
            return await self._read_stream(_path(path), chunk_size, if_match)
        if encoding not in ("utf8", "utf-8", "bytes", None):
            raise ValueError('read_file encoding must be "utf8" or "bytes"')
        raw = encoding in ("bytes", None)
        r = await self.op("read", path=_path(path), encoding="bytes" if raw else "utf8")
        return base64.b64decode(r["data"]) if raw else r["data"]

    async def write_file(self, path, data, if_match=None, if_none_match=None):
        """Writes str or bytes, or streams an iterable or async iterable of bytes chunks
        (committed whole when it ends; nothing is written if it fails); if_match /
        if_none_match="*" make it conditional."""
        if _fs_streamed(data):
            return await self._write_stream(_path(path), data, False, if_match, if_none_match)
        args = {"path": _path(path), **_fs_payload(data)}
        if if_match is not None:
            args["ifMatch"] = if_match
        if if_none_match is not None:
            args["ifNoneMatch"] = if_none_match
        return await self.op("write", **args)

    async def append_file(self, path, data):
        if _fs_streamed(data):
            return await self._write_stream(_path(path), data, True, None, None)
        return await self.op("write", path=_path(path), append=True, **_fs_payload(data))

    async def _read_stream(self, path, chunk_size, if_match):
        if not isinstance(chunk_size, int) or not 0 < chunk_size <= 32 << 20:
            raise ValueError("chunk_size must be from 1 to 33554432")
        first = await self.op("read", path=path, encoding="bytes", offset=0, length=chunk_size, ifMatch=if_match or "")
        return _FSReadStream(self, path, chunk_size, first)

    async def _write_stream(self, path, chunks, append, if_match, if_none_match):
        # As JavaScript's writeFile of a ReadableStream: a host-owned upload takes the
        # chunks (gathered or split to 1 MiB per host operation) and commits at the end.
        args = {"action": "open", "path": path, "append": append}
        if if_match is not None:
            args["ifMatch"] = if_match
        if if_none_match is not None:
            args["ifNoneMatch"] = if_none_match
        upload = (await self.op("upload", **args))["upload"]
        size = 1 << 20
        buf = bytearray()

        async def send(b):
            await self.op("upload", action="write", upload=upload, data=base64.b64encode(b).decode())

        try:
            async for chunk in _fs_chunks(chunks):
                if not isinstance(chunk, (bytes, bytearray, memoryview)):
                    raise FSError("invalid_request: write_file: a stream's chunks must be bytes", "invalid_request")
                buf += chunk
                while len(buf) >= size:
                    await send(bytes(buf[:size]))
                    del buf[:size]
            if buf:
                await send(bytes(buf))
            return await self.op("upload", action="commit", upload=upload)
        except BaseException:
            try:
                await self.op("upload", action="abort", upload=upload)
            except Exception:
                pass
            raise

    async def read_json(self, path):
        text = await self.read_file(path)
        try:
            return json.loads(text)
        except ValueError as e:
            raise ValueError(f"{path} is not valid JSON: {e}") from None

    async def write_json(self, path, value, spaces=2, **kw):
        return await self.write_file(path, json.dumps(value, indent=spaces, ensure_ascii=False) + "\n", **kw)

    async def read_dir(self, path="/"):
        return await self.op("readdir", path=_path(path))

    async def mkdir(self, path, recursive=False):
        await self.op("mkdir", path=_path(path), recursive=bool(recursive))

    async def rm(self, path, recursive=False, force=False, if_match=None):
        """Removes an entry; if_match: only while the file has that etag
        (precondition_failed and nothing removed otherwise)."""
        await self.op("rm", path=_path(path), recursive=bool(recursive), force=bool(force), ifMatch=if_match or "")

    async def mv(self, src, dst):
        await self.op("mv", **{"from": _path(src), "to": _path(dst)})

    async def cp(self, src, dst, recursive=False):
        await self.op("cp", **{"from": _path(src), "to": _path(dst), "recursive": bool(recursive)})

    async def stat(self, path):
        return await self.op("stat", path=_path(path))

    async def lstat(self, path):
        return await self.op("stat", path=_path(path), lstat=True)

    async def exists(self, path):
        return (await self.stat(path)) is not None

    async def glob(self, pattern):
        return await self.op("glob", pattern=_path(pattern))

    async def symlink(self, target, path):
        await self.op("symlink", target=_path(target), path=_path(path))

    async def readlink(self, path):
        return await self.op("readlink", path=_path(path))

    # The rest of the state API: each one fs_* operation, with JavaScript's options as
    # keyword arguments (case_sensitive=False, all=False, dry_run=True, if_match=...).

    async def exec(self, command, cwd=None, env=None, timeout_ms=None, max_output=None):
        """Runs a shell script over the workspace: {stdout, stderr, exitCode}."""
        if not isinstance(command, str):
            raise TypeError("exec: the command must be a str")
        return await self.op("exec", **_opts(command=command, cwd=cwd, env=env, timeoutMs=timeout_ms, maxOutput=max_output))

    async def query_json(self, path, query=""):
        """The value at a JSON path of a JSON file, or None when nothing is there."""
        r = await self.op("queryjson", path=_path(path), query=_str(query, "a JSON path"))
        return r.get("value") if r.get("found") else None

    async def update_json(self, path, update, if_match=None, if_none_match=None):
        """Applies {"op": "set"|"merge"|"delete", "path", "value"} in one write."""
        if not isinstance(update, dict):
            raise TypeError("update_json: the update must be a dict {op, path, value}")
        return await self.op("updatejson", **_opts(path=_path(path), update=update, ifMatch=if_match, ifNoneMatch=if_none_match))

    async def search_text(self, pattern, glob=None, regex=False, case_sensitive=True, context_lines=None, max_results=None):
        return await self.op("search", **_opts(pattern=_str(pattern, "the pattern"), glob=glob, regex=bool(regex),
                                               ignoreCase=not case_sensitive, contextLines=context_lines, maxResults=max_results))

    async def search_files(self, glob, max_results=None):
        return await self.op("findfiles", **_opts(glob=_str(glob, "the glob"), maxResults=max_results))

    async def replace_in_file(self, path, search, replace, regex=False, case_sensitive=True, all=True, dry_run=False, if_match=None):
        return await self.op("replace", **_opts(path=_path(path), search=_str(search, "search"), replace=_str(replace, "replace"),
                                                regex=bool(regex), ignoreCase=not case_sensitive, once=not all, dryRun=bool(dry_run), ifMatch=if_match))

    async def replace_in_files(self, glob, search, replace, regex=False, case_sensitive=True, all=True, dry_run=False):
        """Replaces in every file the glob selects, all or nothing."""
        return await self.op("replaceall", glob=_str(glob, "the glob"), search=_str(search, "search"), replace=_str(replace, "replace"),
                             regex=bool(regex), ignoreCase=not case_sensitive, once=not all, dryRun=bool(dry_run))

    async def diff(self, a, b):
        """The unified diff from file a to file b ("" when equal)."""
        return await self.op("diff", path=_path(a), to=_path(b))

    async def diff_text(self, path, text):
        return await self.op("diff", path=_path(path), text=_str(text, "the text"))

    async def create_archive(self, paths, archive_path):
        """Writes a tar.gz of paths (a path or a list of them) to archive_path."""
        items = [paths] if isinstance(paths, str) else [_path(p) for p in paths]
        return await self.op("archive", paths=items, to=_path(archive_path))

    async def extract_archive(self, archive_path, dir="/"):
        return await self.op("extract", path=_path(archive_path), to=_path(dir))

    async def hash_file(self, path, algo="sha256"):
        return await self.op("hash", path=_path(path), algo=_str(algo, "the algorithm"))

    readFile, writeFile, appendFile = read_file, write_file, append_file
    readJson, writeJson, readDir = read_json, write_json, read_dir
    queryJson, updateJson, searchText, searchFiles = query_json, update_json, search_text, search_files
    replaceInFile, replaceInFiles, diffText = replace_in_file, replace_in_files, diff_text
    createArchive, extractArchive, hashFile = create_archive, extract_archive, hash_file

    def __repr__(self):
        return f"<FS binding {self._binding!r}>"


# ---- tools (Code Mode) -------------------------------------------------------------------


async def _isobox_tool(name, args=None):
    """Calls the host's tool name (SandboxConfig.Tools) with JSON args; its JSON result."""
    if not isinstance(name, str):
        raise TypeError("a tool name must be a str")
    return await _op("tool", {"name": name, "args": args})


class _Tools:
    """tools.NAME(**kwargs) or tools.NAME(dict) (also tools["NAME"]) calls tool NAME."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name):
        async def call(args=None, /, **kwargs):
            if args is not None and kwargs:
                raise TypeError("pass a tool's arguments as one dict or as keywords, not both")
            return await _isobox_tool(name, args if args is not None else kwargs)
        call.__name__ = call.__qualname__ = str(name)
        return call


tools = _Tools()


def _module(name, doc, **members):
    m = types.ModuleType(name, doc)
    for k, v in members.items():
        if isinstance(v, type) or isinstance(v, types.FunctionType):
            try:
                v.__module__ = name
            except (AttributeError, TypeError):
                pass
        setattr(m, k, v)
    m.__all__ = [k for k in members]
    sys.modules[name] = m
    return m


_module("workers", "The Python Workers API of isobox.",
        Response=Response, Request=Request, Headers=Headers, WorkerEntrypoint=WorkerEntrypoint,
        fetch=fetch, Context=Context, Env=Env, FS=FS, FSError=FSError, IsoboxError=IsoboxError)
_module("isobox", "isobox's host: tools (Code Mode) and the host's errors.",
        tool=_isobox_tool, tools=tools, IsoboxError=IsoboxError)


# ---- workers: loading the code, and its invocations --------------------------------------


class _HandlerError(Exception):
    """A failure the host reports under a code of its own (method_not_found, ...)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class _WorkerLoader:
    """Imports the worker's own .py modules from the sources the engine handed over."""

    def __init__(self, filename, source):
        self.filename = filename
        self.source = source

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__file__ = self.filename
        code = compile(self.source, self.filename, "exec", dont_inherit=True)
        exec(code, module.__dict__)

    def get_source(self, name):
        return self.source


class _WorkerFinder:
    def __init__(self):
        self.modules = {}  # module name -> (filename, source, is_package)

    def find_spec(self, name, path=None, target=None):
        m = self.modules.get(name)
        if m is None:
            return None
        filename, source, pkg = m
        return importlib.machinery.ModuleSpec(name, _WorkerLoader(filename, source), origin=filename, is_package=pkg)


_finder = _WorkerFinder()
sys.meta_path.insert(0, _finder)
_worker = {"main": None, "env": None}


def _module_name(rel):
    """The module name of a worker file relative to its main module's directory, or None."""
    if not rel.endswith(".py"):
        return None, False
    parts = rel[:-3].split("/")
    pkg = parts[-1] == "__init__"
    if pkg:
        parts = parts[:-1]
    if not parts or not all(p.isidentifier() for p in parts):
        return None, False
    return ".".join(parts), pkg


def _load(msg):
    main = msg["main"]
    root = main.rsplit("/", 1)[0] + "/" if "/" in main else ""
    for name in list(_finder.modules):
        sys.modules.pop(name, None)
    _finder.modules.clear()
    main_name = None
    for path, source in (msg.get("modules") or {}).items():
        if not path.startswith(root):
            continue
        name, pkg = _module_name(path[len(root):])
        if name is None:
            continue
        _finder.modules[name] = (path, source, pkg)
        linecache.cache[path] = (len(source), None, source.splitlines(True), path)
        if path == main:
            main_name = name
    env = {}
    env.update(msg.get("env") or {})
    for b in msg.get("fsBindings") or []:
        env[b] = FS(b)
    _worker["env"] = Env(env)
    _worker["main"] = None
    try:
        if main_name is None:
            raise ImportError(f"the main module {main!r} is not a Python module with an importable name")
        _worker["main"] = importlib.import_module(main_name)
    except SyntaxError as e:
        _complete(_syntax_head(e, main), None, True)
        return
    except BaseException as e:
        code = "invalid_worker_code" if isinstance(e, ImportError) else None
        _complete(_failure_head(e, code), None, True)
        return
    _complete('{"ok":true}', None, True)


def _target(entrypoint, ctx):
    """The entrypoint's object: an instance of its WorkerEntrypoint class, or the main
    module itself (module-level on_fetch) for the default entrypoint without a Default
    class."""
    main = _worker["main"]
    if main is None:
        raise _HandlerError("internal_error", "no worker is loaded")
    name = entrypoint or "Default"
    cls = main.__dict__.get(name)
    if cls is None:
        if not entrypoint:
            return None
        raise _HandlerError("method_not_found", f"the worker has no entrypoint class named {entrypoint!r}")
    if not (isinstance(cls, type) and issubclass(cls, WorkerEntrypoint)):
        raise _HandlerError("method_not_found", f"{name!r} is not a class that extends WorkerEntrypoint")
    return cls(ctx, _worker["env"])


async def _maybe_await(v):
    if hasattr(v, "__await__"):
        return await v
    return v


async def _on_fetch(msg, ctx):
    t = _target(msg.get("entrypoint"), ctx)
    r = msg["request"]
    body = r.get("body")
    req = Request(r["url"], r["method"], r.get("headers") or [], None)
    req._body = None if body is None else base64.b64decode(body)
    if t is not None and callable(getattr(type(t), "fetch", None)):
        res = await _maybe_await(t.fetch(req))
    elif t is None and callable(_worker["main"].__dict__.get("on_fetch")):
        fn = _worker["main"].on_fetch
        n = fn.__code__.co_argcount if hasattr(fn, "__code__") else 2
        args = (req, _worker["env"], ctx)[:max(1, min(n, 3))]
        res = await _maybe_await(fn(*args))
    else:
        raise _HandlerError("method_not_found", "the worker has no fetch handler: class Default(WorkerEntrypoint) with async def fetch(self, request), or async def on_fetch(request, env)")
    if not isinstance(res, Response):
        raise TypeError(f"the fetch handler must return a workers.Response, got {type(res).__name__}")
    if not (200 <= res.status <= 599):
        raise TypeError("the Response's status is not a number from 200 to 599")
    head = _dumps({"ok": True, "status": res.status, "statusText": res.status_text, "headers": res.headers.pairs()})
    return head, await res.bytes()


_base_attrs = frozenset(dir(WorkerEntrypoint))


async def _on_call(msg, ctx):
    t = _target(msg.get("entrypoint"), ctx)
    m = msg.get("method")
    if not isinstance(m, str) or not m or m.startswith("_") or m == "fetch" or m in _base_attrs:
        raise _HandlerError("method_not_found", f"{m!r} cannot be called over RPC")
    if t is None:
        raise _HandlerError("method_not_found", "the worker has no Default class: RPC methods are methods of class Default(WorkerEntrypoint)")
    fn = getattr(type(t), m, None)
    if not callable(fn):
        raise _HandlerError("method_not_found", f"the worker has no RPC method {m!r}")
    out = await _maybe_await(getattr(t, m)(*(msg.get("args") or [])))
    try:
        s = None if out is None else _dumps(out)
    except (TypeError, ValueError) as e:
        raise TypeError(f"the result cannot be returned as JSON: {e}") from None
    return ('{"ok":true}' if s is None else '{"ok":true,"result":' + s + "}"), None


def _failure_head(e, code=None):
    if isinstance(e, _HandlerError):
        d = {"name": "", "message": str(e), "stack": ""}
    else:
        d = json.loads(_describe(e))
    h = {"ok": False, "error": d}
    if code is None:
        code = getattr(e, "code", None) if isinstance(e, _HandlerError) else None
    if code:
        h["code"] = code
    return _dumps(h)


def _complete(head, body, settled):
    op = "complete_settled" if settled else "complete"
    try:
        if body:
            _host("body", body)
        _host(op, head)
    except Exception as e:
        _host(op, _failure_head(e))


async def _serve(kind, msg):
    ctx = Context(msg.get("props"))
    try:
        head, body = await _then_tools(_on_fetch(msg, ctx) if kind == "fetch" else _on_call(msg, ctx))
    except BaseException as e:  # a limit's stop skips this handler (see the CPython patch)
        head, body = _failure_head(e), None
    _complete(head, body, not ctx._waiting)
    if ctx._waiting:
        for r in await asyncio.gather(*ctx._waiting, return_exceptions=True):
            if isinstance(r, BaseException):
                print("wait_until task raised:", "".join(traceback.format_exception_only(type(r), r)).strip(), file=sys.stderr)
        _host("settled")


def _syntax_head(e, path):
    """The failure of code that does not compile: invalid_worker_code, the message starting
    with where ("main.py:3:9: SyntaxError: ...")."""
    only = traceback.format_exception_only(type(e), e)
    where = path
    if isinstance(e, SyntaxError) and e.lineno:
        where = (e.filename or path) + f":{e.lineno}" + (f":{e.offset}" if e.offset else "")
    message = where + ": " + (only[-1].strip() if only else type(e).__name__)
    return _dumps({"ok": False, "code": "invalid_worker_code",
                   "error": {"name": "", "message": message, "stack": "".join(only).rstrip("\n")}})


def _check(msg):
    """Compiles every Python module of a worker without running any (Engine.Compile): the
    first that does not compile fails the check as invalid_worker_code, its message
    starting with where ("main.py:3:9: SyntaxError: ...")."""
    for path, source in sorted((msg.get("modules") or {}).items()):
        try:
            compile(source, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as e:
            _complete(_syntax_head(e, path), None, True)
            return
    _complete('{"ok":true}', None, True)


def _entry(kind, payload):
    """Runs one invocation of the worker (kind "load", "fetch", "call", or "check": the
    compile check; payload the engine's message as JSON). The outcome goes to the host
    through body and complete; the answer is "R", or "E" + an exception of the prelude
    itself as JSON."""
    _ops.clear()
    _tool_ids.clear()
    try:
        msg = json.loads(payload)
        if kind == "load":
            _load(msg)
        elif kind == "check":
            _check(msg)
        elif kind in ("fetch", "call"):
            asyncio.run(_serve(kind, msg))
        else:
            raise ValueError(f"unknown invocation kind {kind!r}")
        return "R"
    except BaseException as e:
        return "E" + _describe(e)
    finally:
        _stdout.flush()
        _stderr.flush()


def _reseed():
    random.seed()


del _selector_events


def _warm_tracebacks():
    """Formats one traceback while the image is made: the first one a sandbox formats costs
    ~10 ms of CPU otherwise (state the traceback module and the parser fill on first use),
    which every snippet that raises would pay against its CPU limit."""
    try:
        compile("(1,\n 2)[3]", _CODE, "eval")
        eval(compile("(1,\n 2)[3]", _CODE, "eval"))
    except IndexError as e:
        _describe(e)


_warm_tracebacks()
del _warm_tracebacks
