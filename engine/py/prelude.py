# The Python half of an isobox Python sandbox, run once when the engine makes its base
# image (driver.c's OP_INIT): it imports the standard library that model-written code uses
# most, so that every sandbox restored from the image has it already, routes print() to the
# host's log, and defines _run (one snippet) and _reseed (per sandbox).
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
# loop in the sandbox is only ever woken by its own timers and callbacks, so it needs none.
import asyncio
import asyncio.selector_events as _selector_events

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
    return asyncio.run(coro)


def _parse(code):
    tree = compile(code, _CODE, "exec", flags=ast.PyCF_ONLY_AST | _FLAGS, dont_inherit=True)
    linecache.cache[_CODE] = (len(code), None, code.splitlines(True), _CODE)
    return tree


def _exec(tree):
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    g = _main.__dict__
    body = compile(tree, _CODE, "exec", flags=_FLAGS, dont_inherit=True)
    r = eval(body, g)
    if body.co_flags & _CO_COROUTINE:
        _await(r)
    if last is None:
        return None
    expr = compile(last, _CODE, "eval", flags=_FLAGS, dont_inherit=True)
    v = eval(expr, g)
    if expr.co_flags & _CO_COROUTINE:
        v = _await(v)
    return v


def _describe(e):
    """e as the engine's exception JSON: the traceback's last line as the message, the
    traceback (without this file's frames) as the stack."""
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == _FILE:
        tb = tb.tb_next
    lines = traceback.format_exception(type(e), e, tb)
    only = traceback.format_exception_only(type(e), e)
    message = only[-1].strip() if only else type(e).__name__
    return json.dumps({"name": "", "message": message, "stack": "".join(lines).rstrip("\n")})


def _run(code):
    """Runs one snippet: "R" + the last expression's value as JSON ("R" alone for None),
    "S" + the exception as JSON when the snippet does not compile, or "E" + the exception
    it raised as JSON."""
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


def _reseed():
    random.seed()


del _selector_events
